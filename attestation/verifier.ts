// The verifier: decides whether boot evidence comes from a reference-measured
// disk node on a trusted platform, launched for the expected manager, and
// checks that node's per-reply report signatures. Checks, in order (the first
// failure is the error):
//   1. format                         E_ATT_FORMAT / E_ATT_CONFIG
//   2. platform and root trusted      E_ATT_CHAIN
//   3. root signed the chip key       E_ATT_CHAIN
//   4. chip key signed the evidence   E_ATT_SIGNATURE
//   5. measurement recomputes         E_ATT_MEASUREMENT
//   6. build digest accepted          E_ATT_BUILD
//   7. launch config as expected      E_ATT_CONFIG
// Trusts only the manifest and the caller's expectations. Freshness is not
// decided here: evidence is static per boot, so callers bind each reply to
// their own nonce through the report data that verifyReport checks.
import type { KeyObject } from 'node:crypto';
import { equalBytes, toHex } from './bytes.ts';
import { chipCertValid } from './chip-cert.ts';
import { importPublicKey, verifyMessage } from './ed25519.ts';
import { AttestationError } from './errors.ts';
import { decodeEvidence, evidenceSignatureValid } from './evidence.ts';
import { reportDataBytes, signatureBytes } from './limits.ts';
import type { ManifestBuild, ReferenceManifest } from './manifest.ts';
import { measurement } from './measurement.ts';
import type { LaunchConfig } from './provider.ts';
import { reportMessage } from './report.ts';

export interface VerifiedNode {
  platform: string;
  instanceId: Uint8Array;
  attestationPublicKey: Uint8Array;
  buildDigest: Uint8Array;
  /** The manifest entry that accepted the build. */
  build: { name: string; version: string };
  measurement: Uint8Array;
  config: LaunchConfig;
}

export interface ExpectedNode {
  managerPublicKey: Uint8Array;
  sectorBytes?: number;
}

// Imported attestation keys of verified nodes, so verifyReport does not
// re-import a key per reply. Keyed by the frozen VerifiedNode object.
const attestationKeys = new WeakMap<VerifiedNode, KeyObject>();

export function verifyEvidence(bytes: Uint8Array, manifest: ReferenceManifest, expected: ExpectedNode): VerifiedNode {
  const evidence = decodeEvidence(bytes);
  const platform = manifest.platforms.find((p) => p.name === evidence.platform);
  if (!platform) throw new AttestationError('E_ATT_CHAIN', `platform "${evidence.platform}" is not in the manifest`);
  const root = evidence.chipCert.rootPublicKey;
  if (!platform.roots.some((trusted) => equalBytes(trusted, root))) {
    throw new AttestationError('E_ATT_CHAIN', `root key ${toHex(root)} is not trusted for platform "${evidence.platform}"`);
  }
  if (!chipCertValid(evidence.chipCert)) {
    throw new AttestationError('E_ATT_CHAIN', `chip key ${toHex(evidence.chipCert.chipPublicKey)} is not certified by root ${toHex(root)}`);
  }
  if (!evidenceSignatureValid(bytes, evidence)) {
    throw new AttestationError('E_ATT_SIGNATURE', 'evidence signature does not verify under the certified chip key');
  }
  if (!equalBytes(measurement(evidence.buildDigest, evidence.config), evidence.measurement)) {
    throw new AttestationError('E_ATT_MEASUREMENT', 'measurement is not the one recomputed from build digest and launch config');
  }
  const build = manifest.builds.find((b: ManifestBuild) => equalBytes(b.buildDigest, evidence.buildDigest));
  if (!build) throw new AttestationError('E_ATT_BUILD', `build digest ${toHex(evidence.buildDigest)} is not an accepted build`);
  checkConfig(evidence.config, manifest, expected);
  const key = importPublicKey(evidence.attestationPublicKey);
  if (key === null) throw new AttestationError('E_ATT_FORMAT', 'attestation public key is not a valid Ed25519 key');
  const node: VerifiedNode = Object.freeze({
    platform: evidence.platform,
    instanceId: evidence.instanceId,
    attestationPublicKey: evidence.attestationPublicKey,
    buildDigest: evidence.buildDigest,
    build: { name: build.name, version: build.version },
    measurement: evidence.measurement,
    config: evidence.config,
  });
  attestationKeys.set(node, key);
  return node;
}

function checkConfig(config: LaunchConfig, manifest: ReferenceManifest, expected: ExpectedNode): void {
  if (!equalBytes(config.managerPublicKey, expected.managerPublicKey)) {
    throw new AttestationError('E_ATT_CONFIG', `managerPublicKey ${toHex(config.managerPublicKey)} is not the expected manager's`);
  }
  if (manifest.managerKeys && !manifest.managerKeys.some((k) => equalBytes(k, config.managerPublicKey))) {
    throw new AttestationError('E_ATT_CONFIG', `managerPublicKey ${toHex(config.managerPublicKey)} is not in the manifest's managerKeys`);
  }
  if (expected.sectorBytes !== undefined && config.sectorBytes !== expected.sectorBytes) {
    throw new AttestationError('E_ATT_CONFIG', `sectorBytes is ${config.sectorBytes}, expected ${expected.sectorBytes}`);
  }
}

/**
 * True iff `signature` is `node`'s report signature over `reportData`; false
 * for any wrong length. For callers that branch rather than throw.
 */
export function reportSignatureValid(node: VerifiedNode, reportData: Uint8Array, signature: Uint8Array): boolean {
  if (reportData.length !== reportDataBytes) return false;
  return verifyMessage(attestationKeys.get(node) ?? node.attestationPublicKey, reportMessage(node.instanceId, reportData), signature);
}

/** Throws E_ATT_SIGNATURE unless `signature` is `node`'s report signature over `reportData`. */
export function verifyReport(node: VerifiedNode, reportData: Uint8Array, signature: Uint8Array): void {
  if (reportData.length !== reportDataBytes || signature.length !== signatureBytes) {
    throw new AttestationError(
      'E_ATT_FORMAT',
      `report data must be ${reportDataBytes} bytes and its signature ${signatureBytes}, got ${reportData.length} and ${signature.length}`,
    );
  }
  if (!reportSignatureValid(node, reportData, signature)) {
    throw new AttestationError('E_ATT_SIGNATURE', "report signature does not verify under the node's attestation key");
  }
}
