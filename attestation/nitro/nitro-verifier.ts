// Verifies an AWS Nitro Enclaves attestation document and returns its
// claims (attestation/hardware/native-claims.ts). The order follows AWS's
// "Verifying the root of trust" (AWS Nitro Enclaves User Guide) and
// aws-nitro-enclaves-nsm-api docs/attestation_process.md §3; the first
// failure is the error:
//   1. size: 1..16 KiB                                         E_ATT_FORMAT
//   2. strict CBOR COSE_Sign1, ES384 protected header          E_ATT_FORMAT
//   3. payload fields, types and bounds (nitro-document.ts)    E_ATT_FORMAT
//   4. certificate and cabundle parse as X.509                 E_ATT_FORMAT
//   5. ES384 signature over Sig_structure by the certificate's
//      P-384 key (RFC 9052 §4.4)                               E_ATT_SIGNATURE
//   6. chain certificate -> cabundle reversed -> pinned root,
//      as of the document's timestamp unless `at` is given    E_ATT_CHAIN / E_ATT_EXPIRED
// docs/TEE_NITRO.md says what is checked and what is not.
import type { KeyObject } from 'node:crypto';
import { toHex } from '../bytes.ts';
import { AttestationError } from '../errors.ts';
import type { CheckRecord, NativeClaims, NativeVerifyOptions } from '../hardware/native-claims.ts';
import { parseCertificate, verifyCertificateChain } from '../x509/chain.ts';
import { decodeCoseSign1, verifyCoseSign1 } from './cose-sign1.ts';
import { nitroDocumentBytesMax, parseNitroPayload, type NitroDocument } from './nitro-document.ts';

/** Report data a teearray node puts in user_data: the session binding (64 bytes). */
export const nitroReportDataBytes = 64;
/** Nonces and public keys up to this many bytes are shown in hex in `details`. */
const detailHexBytesMax = 64;

export type NitroVerifyOptions = Omit<NativeVerifyOptions, 'at'> & {
  /** The time the chain must be valid at; the document's own timestamp when absent. */
  at?: Date;
};

/** Debug-mode enclaves report PCR0, PCR1 and PCR2 as all zeros (AWS Nitro Enclaves User Guide, "Attestation"). */
function isDebug(doc: NitroDocument): boolean {
  return [0, 1, 2].every((index) => {
    const pcr = doc.pcrs.get(index);
    return pcr !== undefined && pcr.every((byte) => byte === 0);
  });
}

/** An optional field's length in `details` and, when short and `showHex`, its hex. */
function optionalDetails(details: NativeClaims['details'], name: string, value: Uint8Array | null, showHex: boolean): void {
  details[`${name}Bytes`] = value === null ? 'absent' : value.length;
  if (showHex && value !== null && value.length <= detailHexBytesMax) details[name] = toHex(value);
}

export function verifyNitroEvidence(document: Uint8Array, opts: NitroVerifyOptions): NativeClaims {
  if (document.length === 0 || document.length > nitroDocumentBytesMax) {
    throw new AttestationError('E_ATT_FORMAT', `Nitro document must be 1..${nitroDocumentBytesMax} bytes, is ${document.length}`);
  }
  const cose = decodeCoseSign1(document);
  const doc = parseNitroPayload(cose.payload);
  const leaf = parseCertificate(doc.certificate, 'Nitro document certificate');
  const bundle = doc.cabundle.map((der, i) => parseCertificate(der, `Nitro document cabundle[${i}]`));
  const checks: CheckRecord[] = [{ check: 'format', detail: `COSE_Sign1 ES384, ${document.length} bytes, payload fields as AWS specifies` }];

  let key: KeyObject;
  try {
    key = leaf.publicKey; // node parses the key only now, and throws on a malformed one.
  } catch (error) {
    throw new AttestationError('E_ATT_FORMAT', `Nitro document certificate's public key cannot be read: ${(error as Error).message}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw new AttestationError('E_ATT_SIGNATURE', 'Nitro document certificate does not hold a P-384 key, so it cannot make an ES384 signature');
  }
  if (!verifyCoseSign1(cose, key)) {
    throw new AttestationError('E_ATT_SIGNATURE', `Nitro document signature does not verify under the key of ${leaf.subject.replace(/\n/g, ', ')}`);
  }
  checks.push({ check: 'signature', detail: `ES384 over Sig_structure by ${leaf.subject.replace(/\n/g, ', ')}` });

  // cabundle is root first (§3.2.3); the chain helper takes the leaf first.
  const issuedAt = new Date(doc.timestamp);
  const at = opts.at ?? issuedAt;
  const chain = verifyCertificateChain([leaf, ...bundle.reverse()], {
    at,
    rootFingerprints: opts.rootFingerprints,
    what: 'Nitro document chain',
  });
  checks.push(...chain.checks);

  const measurements: Record<string, Uint8Array> = {};
  for (const [index, value] of [...doc.pcrs].sort(([a], [b]) => a - b)) measurements[`pcr${index}`] = value;
  const details: NativeClaims['details'] = {
    moduleId: doc.moduleId,
    digest: doc.digest,
    timestamp: issuedAt.toISOString(),
    checkedAt: at.toISOString(),
    pcrCount: doc.pcrs.size,
    cabundleCertificates: doc.cabundle.length,
  };
  optionalDetails(details, 'userData', doc.userData, false); // a 64-byte one is reportData
  optionalDetails(details, 'nonce', doc.nonce, true);
  optionalDetails(details, 'publicKey', doc.publicKey, true);

  return {
    platform: 'aws-nitro-v1',
    // Only a 64-byte user_data can be a teearray session binding; anything
    // else yields empty report data, which never equals the envelope's 64 bytes.
    reportData: doc.userData !== null && doc.userData.length === nitroReportDataBytes ? doc.userData : new Uint8Array(0),
    measurements,
    debug: isDebug(doc),
    rootFingerprint: chain.rootFingerprint,
    issuedAt,
    checks,
    notChecked: [
      'freshness: the nonce and timestamp are not compared with a challenge or a clock here; the session binding in user_data is (envelope check)',
      'revocation: AWS publishes no revocation list for the Nitro attestation PKI',
      'PCR3 (IAM role), PCR4 (instance id) and PCR8 (signing certificate) unless a reference lists them',
    ],
    details,
  };
}
