// Verifier of Intel TDX quotes (v4): from the quote bytes alone, the claims
// of a TD whose report Intel's Quoting Enclave signed on a genuine,
// Intel-certified platform. The trust path, in the order it is checked
// (docs/TEE_TDX.md, "Checks"):
//   Intel SGX Root CA (pinned) → PCK Platform/Processor CA → PCK certificate
//   → signs the SGX report of Intel's TD Quoting Enclave (identity pinned)
//   → whose REPORTDATA binds the attestation key
//   → signs the quote header and TD quote body.
// The first failure is the error. What this does not check — the TCB
// status against Intel's collateral — is listed in `notChecked`.
import { X509Certificate, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { equalBytes, toHex } from '../bytes.ts';
import { AttestationError } from '../errors.ts';
import type { CheckRecord, NativeClaims, NativeVerifyOptions } from '../hardware/native-claims.ts';
import { splitPemCertificates, verifyCertificateChain } from '../x509/chain.ts';
import { pckExtensionValues } from './pck-extensions.ts';
import { notIntelTdQe } from './td-qe-identity.ts';
import { decodeTdxQuote, type TdxQuote } from './tdx-quote.ts';

/** PCK certificate, Platform (or Processor) CA, Intel SGX Root CA. */
const pckChainLength = 3;

const tdxNotChecked = [
  'TCB status (TCB info, QE identity, CRLs) against Intel collateral',
  'the TDX module (MRSEAM, MRSIGNERSEAM, TEE_TCB_SVN) against the modules Intel publishes',
];

/** ECDSA P-256 over SHA-256, signature as r || s (the quote's encoding, not DER). */
function verifyP256(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false; // node throws, rather than returning false, on some malformed inputs
  }
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

/** The leaf's public key; null when node cannot decode it (it throws rather than returning nothing). */
function leafKey(leaf: X509Certificate): KeyObject | null {
  try {
    return leaf.publicKey;
  } catch {
    return null;
  }
}

interface PckChain {
  leaf: X509Certificate;
  pckKey: KeyObject;
  rootFingerprint: Uint8Array;
  checks: CheckRecord[];
}

function pckChain(quote: TdxQuote, opts: NativeVerifyOptions): PckChain {
  const what = 'TDX PCK certificate chain';
  const chain = splitPemCertificates(quote.pckChainPem, what, pckChainLength);
  if (chain.length !== pckChainLength) {
    throw new AttestationError('E_ATT_CHAIN', `${what} has ${chain.length} certificates, not ${pckChainLength} (PCK, CA, root)`);
  }
  // The quote signature does not cover the chain, and PEM has slack (text
  // between blocks, base64 padding bits, line lengths). Requiring the exact
  // text of the certificates' own PEM (64-character lines, "\n" endings, as
  // Intel's PCS serves them and every sample has) leaves the chain one
  // encoding, so no bit of a quote can change without it being refused.
  if (quote.pckChainPem !== chain.map((cert) => cert.toString()).join('')) {
    throw new AttestationError('E_ATT_FORMAT', `${what} is not in canonical PEM form (certificates only, 64-character lines, \\n line ends)`);
  }
  const { rootFingerprint, checks } = verifyCertificateChain(chain, { at: opts.at, rootFingerprints: opts.rootFingerprints, what });
  // The PCK key verifies the QE report below; Intel's are P-256 (SGX PCK Certificate and CRL Profile).
  const pckKey = leafKey(chain[0]);
  if (pckKey === null || !isP256(pckKey)) throw new AttestationError('E_ATT_CHAIN', `${what} leaf key is not an ECDSA P-256 key`);
  return { leaf: chain[0], pckKey, rootFingerprint, checks };
}

/**
 * The QE puts SHA-256(attestation key || QE auth data) in the first half of
 * its report's REPORTDATA and zeros in the second (Quote Format, "QE Report
 * Certification Data"): that is how the PCK-certified QE vouches for the key
 * that signs quotes.
 */
function qeVouchesForAttestationKey(quote: TdxQuote): boolean {
  const reportData = quote.qeReport.subarray(320, 384);
  const expected = createHash('sha256').update(quote.attestationKey).update(quote.qeAuthData).digest();
  return equalBytes(reportData.subarray(0, 32), expected) && reportData.subarray(32).every((b) => b === 0);
}

/** The attestation key, raw x || y, as a public key (via JWK: node takes no raw EC points). */
function attestationPublicKey(raw: Uint8Array): KeyObject {
  const coordinate = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  try {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: coordinate(raw.subarray(0, 32)), y: coordinate(raw.subarray(32)) }, format: 'jwk' });
  } catch (error) {
    // Reached only for a key the QE vouched for: a point not on the curve is then a bad signature chain, not a format.
    throw new AttestationError('E_ATT_SIGNATURE', 'TDX attestation key is not a P-256 point', { cause: error });
  }
}

function u16le(bytes: Uint8Array, offset: number): number {
  return bytes[offset] | (bytes[offset + 1] << 8);
}

export function verifyTdxEvidence(quoteBytes: Uint8Array, opts: NativeVerifyOptions): NativeClaims {
  const quote = decodeTdxQuote(quoteBytes);
  const checks: CheckRecord[] = [{ check: 'format', detail: 'TDX quote v4, ECDSA P-256 attestation key, Intel QE, PCK chain certification data' }];

  const { leaf, pckKey, rootFingerprint, checks: chainChecks } = pckChain(quote, opts);
  checks.push(...chainChecks);

  if (!verifyP256(pckKey, quote.qeReport, quote.qeReportSignature)) {
    throw new AttestationError('E_ATT_SIGNATURE', 'TDX QE report signature does not verify with the PCK certificate key');
  }
  checks.push({ check: 'qe-report-signature', detail: `QE report signed by the PCK key of ${leaf.subject.replace(/\n/g, ', ')}` });

  const notQe = notIntelTdQe(quote.qeReport);
  if (notQe !== null) throw new AttestationError('E_ATT_CHAIN', `TDX QE report is not from Intel's TD Quoting Enclave (its ${notQe} differs from the TD_QE identity)`);
  checks.push({ check: 'qe-identity', detail: "QE report from Intel's TD QE (MRSIGNER, ISVPRODID, MISCSELECT, ATTRIBUTES of TD_QE; its TCB levels not checked)" });

  if (!qeVouchesForAttestationKey(quote)) {
    throw new AttestationError('E_ATT_CHAIN', 'TDX QE report does not bind the attestation key (REPORTDATA is not SHA-256(key || QE auth data) || zeros)');
  }
  checks.push({ check: 'qe-binding', detail: 'QE REPORTDATA = SHA-256(attestation key || QE auth data) || zeros' });

  if (!verifyP256(attestationPublicKey(quote.attestationKey), quote.signedBytes, quote.signature)) {
    throw new AttestationError('E_ATT_SIGNATURE', 'TDX quote signature does not verify with the attestation key');
  }
  checks.push({ check: 'quote-signature', detail: 'header and TD quote body signed by the QE-certified attestation key' });

  const body = quote.body;
  const details: NativeClaims['details'] = {
    teeTcbSvn: toHex(body.teeTcbSvn),
    tdAttributes: toHex(body.tdAttributes),
    xfam: toHex(body.xfam),
    seamAttributes: toHex(body.seamAttributes),
    mrSignerSeam: toHex(body.mrSignerSeam),
    // SGX REPORTBODY: MRSIGNER at 128, ISVPRODID at 256, ISVSVN at 258 (Intel SGX SDM, "REPORT").
    qeMrSigner: toHex(quote.qeReport.subarray(128, 160)),
    qeIsvProdId: u16le(quote.qeReport, 256),
    qeSvn: u16le(quote.qeReport, 258),
    ...pckExtensionValues(leaf),
  };

  return {
    platform: 'intel-tdx-v1',
    reportData: body.reportData,
    measurements: {
      mrtd: body.mrTd,
      rtmr0: body.rtmr[0],
      rtmr1: body.rtmr[1],
      rtmr2: body.rtmr[2],
      rtmr3: body.rtmr[3],
      mrseam: body.mrSeam,
      mrconfigid: body.mrConfigId,
      mrowner: body.mrOwner,
      mrownerconfig: body.mrOwnerConfig,
    },
    // TDATTRIBUTES bit 0 is DEBUG (Intel TDX Module ABI, "ATTRIBUTES"); the field is little-endian.
    debug: (body.tdAttributes[0] & 1) === 1,
    rootFingerprint,
    issuedAt: null,
    checks,
    notChecked: [...tdxNotChecked],
    details,
  };
}
