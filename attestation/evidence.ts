// Session evidence of the simulated platform, format version 2
// (docs/ATTESTATION.md has the byte table): the simulated TEE's report over
// 32 bytes of report data, which the disk node derives from its session (the
// challenge, the manager's nonce, its instance key and its launch config).
// Big-endian, fixed order, one encoding per value:
//   "TEEV" | version 2 | platform (length byte + name) | build digest 32 |
//   launch config 40 (manager key 32, sector bytes u32, sector count u32) |
//   measurement 32 | report data 32 |
//   root public key 32 | chip public key 32 | chip certificate signature 64 |
//   evidence signature 64
// The evidence signature is the chip key's Ed25519 signature over
//   "teearray evidence v2" 0x00 || every byte before the signature.
// The decoder trusts nothing and checks only the format; whether the chain,
// the measurement and the build are acceptable is verifier.ts's job.
import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { ByteReader } from './byte-reader.ts';
import { concatBytes, domainLabel } from './bytes.ts';
import type { ChipCert } from './chip-cert.ts';
import { signMessage, verifyMessage } from './ed25519.ts';
import { decodeLaunchConfig, encodeLaunchConfig, launchConfigBytes } from './launch-config.ts';
import { digestBytes, publicKeyBytes, reportDataBytes, signatureBytes } from './limits.ts';
import { encodePlatformName, readPlatformName } from './platform-name.ts';
import type { LaunchConfig } from './provider.ts';

const evidenceMagic = Uint8Array.from([0x54, 0x45, 0x45, 0x56]); // "TEEV"
export const evidenceVersion = 2;
const evidenceLabel = domainLabel('teearray evidence v2');

/** Everything the chip key signs. */
export interface EvidenceBody {
  platform: string;
  buildDigest: Uint8Array;
  config: LaunchConfig;
  measurement: Uint8Array;
  /** What the node asked the platform to report: binds the session (docs/PROTOCOL.md, ATTEST). */
  reportData: Uint8Array;
  /** The chip key's endorsement; its platform is the evidence's platform. */
  chipCert: ChipCert;
}

export interface Evidence extends EvidenceBody {
  /** Chip key's signature over the encoded body. */
  signature: Uint8Array;
}

function encodeBody(body: EvidenceBody): Uint8Array {
  // Lengths of our own values are invariants: the provider built them.
  assert.equal(body.chipCert.platform, body.platform, 'chip certificate platform');
  assert.equal(body.buildDigest.length, digestBytes);
  assert.equal(body.measurement.length, digestBytes);
  assert.equal(body.reportData.length, reportDataBytes);
  assert.equal(body.chipCert.rootPublicKey.length, publicKeyBytes);
  assert.equal(body.chipCert.chipPublicKey.length, publicKeyBytes);
  assert.equal(body.chipCert.signature.length, signatureBytes);
  return concatBytes(
    evidenceMagic,
    Uint8Array.of(evidenceVersion),
    encodePlatformName(body.platform),
    body.buildDigest,
    encodeLaunchConfig(body.config),
    body.measurement,
    body.reportData,
    body.chipCert.rootPublicKey,
    body.chipCert.chipPublicKey,
    body.chipCert.signature,
  );
}

export function encodeEvidence(evidence: Evidence): Uint8Array {
  assert.equal(evidence.signature.length, signatureBytes);
  return concatBytes(encodeBody(evidence), evidence.signature);
}

/** Encodes the body and signs it with the chip's private key. */
export function signEvidence(body: EvidenceBody, chipPrivateKey: KeyObject): Uint8Array {
  const encoded = encodeBody(body);
  return concatBytes(encoded, signMessage(chipPrivateKey, concatBytes(evidenceLabel, encoded)));
}

export function decodeEvidence(bytes: Uint8Array): Evidence {
  const reader = new ByteReader(bytes, 'evidence');
  reader.header(evidenceMagic, evidenceVersion);
  const platform = readPlatformName(reader);
  const buildDigest = reader.take(digestBytes, 'build digest');
  const config = decodeLaunchConfig(reader.take(launchConfigBytes, 'launch config'));
  const measurement = reader.take(digestBytes, 'measurement');
  const reportData = reader.take(reportDataBytes, 'report data');
  const chipCert: ChipCert = {
    platform,
    rootPublicKey: reader.take(publicKeyBytes, 'root public key'),
    chipPublicKey: reader.take(publicKeyBytes, 'chip public key'),
    signature: reader.take(signatureBytes, 'chip certificate signature'),
  };
  const signature = reader.take(signatureBytes, 'evidence signature');
  reader.end();
  return { platform, buildDigest, config, measurement, reportData, chipCert, signature };
}

/**
 * True iff the evidence signature verifies under the chip key it names.
 * `bytes` must be the exact evidence `evidence` was decoded from.
 */
export function evidenceSignatureValid(bytes: Uint8Array, evidence: Evidence): boolean {
  const body = bytes.subarray(0, bytes.length - signatureBytes);
  return verifyMessage(evidence.chipCert.chipPublicKey, concatBytes(evidenceLabel, body), evidence.signature);
}
