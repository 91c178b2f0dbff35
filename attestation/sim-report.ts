// The simulated platform's native report, format version 1 (byte table in
// docs/ATTESTATION.md): what a chip key "in hardware" signs over 64 bytes of
// report data, next to the measurement the platform took at launch. It plays
// the part an SEV-SNP report or a Nitro document plays on hardware, inside
// the same evidence envelope (evidence.ts), so simulation and hardware share
// one verification path.
//   "TESR" | version 1 | platform (length byte + name) | measurement 32 |
//   report data 64 | root public key 32 | chip public key 32 |
//   chip certificate signature 64 | signature 64
// The signature is the chip key's Ed25519 signature over
//   "teearray sim report v1" 0x00 || every byte before it.
import type { KeyObject } from 'node:crypto';
import { ByteReader } from './byte-reader.ts';
import { concatBytes, domainLabel, equalBytes, toHex } from './bytes.ts';
import { chipCertValid, type ChipCert } from './chip-cert.ts';
import { signMessage, verifyMessage } from './ed25519.ts';
import { AttestationError } from './errors.ts';
import type { NativeClaims, NativeVerifyOptions } from './hardware/native-claims.ts';
import { digestBytes, nativeReportDataBytes, publicKeyBytes, signatureBytes } from './limits.ts';
import { encodePlatformName, readPlatformName } from './platform-name.ts';
import { checkReportData, type NativeReporter } from './reporters/native-reporter.ts';

const simReportMagic = Uint8Array.from([0x54, 0x45, 0x53, 0x52]); // "TESR"
const simReportVersion = 1;
const simReportLabel = domainLabel('teearray sim report v1');

export interface SimReport {
  platform: string;
  measurement: Uint8Array;
  reportData: Uint8Array;
  chipCert: ChipCert;
  signature: Uint8Array;
}

/** The simulated platform's reporter: the chip signs what the node asks, next to the launch measurement. */
export function createSimReporter(chip: { privateKey: KeyObject; cert: ChipCert }, launchMeasurement: Uint8Array): NativeReporter {
  const { platform, rootPublicKey, chipPublicKey, signature: certSignature } = chip.cert;
  return Object.freeze({
    platform,
    report(reportData: Uint8Array) {
      checkReportData(reportData);
      const body = concatBytes(
        simReportMagic,
        Uint8Array.of(simReportVersion),
        encodePlatformName(platform),
        launchMeasurement,
        reportData,
        rootPublicKey,
        chipPublicKey,
        certSignature,
      );
      const evidence = concatBytes(body, signMessage(chip.privateKey, concatBytes(simReportLabel, body)));
      return { provider: 'sim', evidence, aux: new Uint8Array(0) };
    },
  });
}

export function decodeSimReport(bytes: Uint8Array): SimReport {
  const reader = new ByteReader(bytes, 'sim report');
  reader.header(simReportMagic, simReportVersion);
  const platform = readPlatformName(reader);
  const measurement = reader.take(digestBytes, 'measurement');
  const reportData = reader.take(nativeReportDataBytes, 'report data');
  const chipCert: ChipCert = {
    platform,
    rootPublicKey: reader.take(publicKeyBytes, 'root public key'),
    chipPublicKey: reader.take(publicKeyBytes, 'chip public key'),
    signature: reader.take(signatureBytes, 'chip certificate signature'),
  };
  const signature = reader.take(signatureBytes, 'signature');
  reader.end();
  return { platform, measurement, reportData, chipCert, signature };
}

/** Checks a sim report's chain (trusted root, certified chip) and signature; `rootFingerprints` are raw root keys. */
export function verifySimEvidence(bytes: Uint8Array, aux: Uint8Array, opts: NativeVerifyOptions): NativeClaims {
  const report = decodeSimReport(bytes);
  if (aux.length !== 0) throw new AttestationError('E_ATT_FORMAT', 'a sim report comes with no certificates');
  const root = report.chipCert.rootPublicKey;
  if (!opts.rootFingerprints.some((trusted) => equalBytes(trusted, root))) {
    throw new AttestationError('E_ATT_CHAIN', `root key ${toHex(root)} is not trusted for platform "${report.platform}"`);
  }
  if (!chipCertValid(report.chipCert)) {
    throw new AttestationError('E_ATT_CHAIN', `chip key ${toHex(report.chipCert.chipPublicKey)} is not certified by root ${toHex(root)}`);
  }
  const body = bytes.subarray(0, bytes.length - signatureBytes);
  if (!verifyMessage(report.chipCert.chipPublicKey, concatBytes(simReportLabel, body), report.signature)) {
    throw new AttestationError('E_ATT_SIGNATURE', 'sim report signature does not verify under the certified chip key');
  }
  return {
    platform: report.platform,
    reportData: report.reportData,
    measurements: { measurement: report.measurement },
    debug: false,
    rootFingerprint: root,
    issuedAt: null,
    checks: [
      { check: 'chain', detail: `chip key ${toHex(report.chipCert.chipPublicKey)} certified by trusted root ${toHex(root)}` },
      { check: 'signature', detail: 'Ed25519 by the chip key' },
    ],
    notChecked: ['isolation: a simulated platform protects nothing from its host'],
    details: { chipKey: toHex(report.chipCert.chipPublicKey) },
  };
}
