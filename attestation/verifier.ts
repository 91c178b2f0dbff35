// The verifier: decides whether session evidence comes from a
// reference-measured disk node on a trusted platform, launched for the
// expected manager, and reports the expected report data. Checks, in order
// (the first failure is the error):
//   1. format                         E_ATT_FORMAT / E_ATT_CONFIG
//   2. platform and root trusted      E_ATT_CHAIN
//   3. root signed the chip key       E_ATT_CHAIN
//   4. chip key signed the evidence   E_ATT_SIGNATURE
//   5. measurement recomputes         E_ATT_MEASUREMENT
//   6. build digest accepted          E_ATT_BUILD
//   7. launch config as expected      E_ATT_CONFIG
//   8. report data as expected        E_ATT_REPORT_DATA
// Trusts only the manifest and the caller's expectations. Freshness comes
// from the report data: the caller derives it from its own fresh nonce
// (docs/PROTOCOL.md, ATTEST).
import { equalBytes, toHex } from './bytes.ts';
import { chipCertValid } from './chip-cert.ts';
import { AttestationError } from './errors.ts';
import { decodeEvidence, evidenceSignatureValid } from './evidence.ts';
import type { ManifestBuild, ReferenceManifest } from './manifest.ts';
import { measurement } from './measurement.ts';
import type { LaunchConfig } from './provider.ts';

export interface VerifiedNode {
  platform: string;
  buildDigest: Uint8Array;
  /** The manifest entry that accepted the build. */
  build: { name: string; version: string };
  measurement: Uint8Array;
  config: LaunchConfig;
  reportData: Uint8Array;
}

export interface ExpectedNode {
  managerPublicKey: Uint8Array;
  sectorBytes?: number;
  /** The report data the evidence must carry; unchecked when absent (offline inspection). */
  reportData?: Uint8Array;
}

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
  if (expected.reportData && !equalBytes(expected.reportData, evidence.reportData)) {
    throw new AttestationError('E_ATT_REPORT_DATA', 'the evidence does not report this session: its report data is not the expected one');
  }
  return Object.freeze({
    platform: evidence.platform,
    buildDigest: evidence.buildDigest,
    build: { name: build.name, version: build.version },
    measurement: evidence.measurement,
    config: evidence.config,
    reportData: evidence.reportData,
  });
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
