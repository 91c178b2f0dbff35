// The verifier: decides whether session evidence (evidence.ts) comes from a
// reference-measured disk node on a trusted platform, launched for the
// expected manager, and reports the expected session. Checks, in order (the
// first failure is the error):
//   1. envelope format                          E_ATT_FORMAT / E_ATT_CONFIG
//   2. platform in the manifest                 E_ATT_CHAIN
//   3. native evidence: chain to a pinned root,
//      signature, validity as of `at`            E_ATT_CHAIN / E_ATT_SIGNATURE / E_ATT_EXPIRED / E_ATT_FORMAT
//   4. the platform reported this envelope       E_ATT_REPORT_DATA
//   5. measurement: a simulated platform's is
//      recomputed from build and launch config;
//      a hardware platform's is among the
//      manifest's images, its policy accepted     E_ATT_MEASUREMENT / E_ATT_POLICY
//   6. build digest accepted                     E_ATT_BUILD
//   7. launch config as expected                 E_ATT_CONFIG
//   8. session report data as expected           E_ATT_REPORT_DATA
// Trusts only the manifest and the caller's expectations. Freshness comes
// from the session report data: the caller derives it from its own fresh
// nonce (docs/PROTOCOL.md, ATTEST), and step 4 ties the platform's
// signature to it.
import { equalBytes, toHex } from './bytes.ts';
import { AttestationError } from './errors.ts';
import { decodeEvidence } from './evidence.ts';
import type { CheckRecord, NativeClaims } from './hardware/native-claims.ts';
import type { ManifestBuild, ManifestPlatform, ReferenceManifest } from './manifest.ts';
import { measurement } from './measurement.ts';
import { isHardwarePlatform, rulesOf } from './platforms.ts';
import type { LaunchConfig } from './provider.ts';
import { verifySimEvidence } from './sim-report.ts';

export interface VerifiedNode {
  platform: string;
  buildDigest: Uint8Array;
  /** The manifest entry that accepted the build. */
  build: { name: string; version: string };
  /** What the platform measured, by name (sim: "measurement"; Nitro: "pcr0".."; SEV-SNP: "measurement"; TDX: "mrtd", "rtmr0"..). */
  measurements: Record<string, Uint8Array>;
  config: LaunchConfig;
  reportData: Uint8Array;
  /** Every check made, in order, and what the platform's verifier does not check. */
  checks: CheckRecord[];
  notChecked: string[];
  details: NativeClaims['details'];
}

export interface ExpectedNode {
  managerPublicKey: Uint8Array;
  sectorBytes?: number;
  /** The report data the evidence must carry; unchecked when absent (offline inspection). */
  reportData?: Uint8Array;
  /** The time certificates must be valid at; now when absent. */
  at?: Date;
  /** Operator-supplied certificates for evidence that comes without its own (SEV-SNP VCEKs). */
  certificates?: Uint8Array[];
}

/** Step 3 and 5: the platform's native evidence and its measurement. */
function verifyNative(
  platform: ManifestPlatform,
  native: Uint8Array,
  aux: Uint8Array,
  { at, certificates }: { at: Date; certificates?: Uint8Array[] },
): { claims: NativeClaims; checkMeasurement(build: Uint8Array, config: LaunchConfig): void } {
  const opts = { at, rootFingerprints: platform.roots };
  if (!isHardwarePlatform(platform.name)) {
    const claims = verifySimEvidence(native, aux, opts);
    const checkMeasurement = (build: Uint8Array, config: LaunchConfig): void => {
      if (!equalBytes(measurement(build, config), claims.measurements.measurement)) {
        throw new AttestationError('E_ATT_MEASUREMENT', 'measurement is not the one recomputed from build digest and launch config');
      }
    };
    return { claims, checkMeasurement };
  }
  // parseManifest never yields a hardware platform without reference values,
  // but a ReferenceManifest built in code can: refuse it typed, before any
  // work, rather than fail on `undefined.check` after the native checks.
  const reference = platform.reference;
  if (!reference) throw new AttestationError('E_ATT_MANIFEST', `platform "${platform.name}" is a hardware platform and the manifest gives it no reference values`);
  const claims = rulesOf(platform.name).verify(native, aux, { ...opts, certificates });
  return { claims, checkMeasurement: () => reference.check(claims) };
}

export function verifyEvidence(bytes: Uint8Array, manifest: ReferenceManifest, expected: ExpectedNode): VerifiedNode {
  const evidence = decodeEvidence(bytes);
  const platform = manifest.platforms.find((p) => p.name === evidence.platform);
  if (!platform) throw new AttestationError('E_ATT_CHAIN', `platform "${evidence.platform}" is not in the manifest`);
  const { claims, checkMeasurement } = verifyNative(platform, evidence.native, evidence.aux, { at: expected.at ?? new Date(), certificates: expected.certificates });
  if (claims.platform !== evidence.platform) {
    throw new AttestationError('E_ATT_CHAIN', `the native evidence is of platform "${claims.platform}", the envelope says "${evidence.platform}"`);
  }
  if (!equalBytes(claims.reportData, evidence.binding)) {
    throw new AttestationError('E_ATT_REPORT_DATA', 'the platform did not report this evidence: its report data is not the hash of the envelope');
  }
  checkMeasurement(evidence.buildDigest, evidence.config);
  const build = manifest.builds.find((b: ManifestBuild) => equalBytes(b.buildDigest, evidence.buildDigest));
  if (!build) throw new AttestationError('E_ATT_BUILD', `build digest ${toHex(evidence.buildDigest)} is not an accepted build`);
  checkConfig(evidence.config, manifest, expected);
  if (expected.reportData && !equalBytes(expected.reportData, evidence.reportData)) {
    throw new AttestationError('E_ATT_REPORT_DATA', 'the evidence does not report this session: its report data is not the expected one');
  }
  const checks: CheckRecord[] = [
    ...claims.checks,
    { check: 'binding', detail: 'the platform signed the hash of this envelope (platform, build, launch config, session report data)' },
    { check: 'measurement', detail: isHardwarePlatform(platform.name) ? 'among the manifest\'s images, policy accepted' : 'recomputed from build digest and launch config' },
    { check: 'build', detail: `${build.name} ${build.version} (${toHex(evidence.buildDigest)})` },
    { check: 'launch config', detail: `manager ${toHex(evidence.config.managerPublicKey)}, ${evidence.config.sectorCount} sectors of ${evidence.config.sectorBytes} bytes` },
    ...(expected.reportData ? [{ check: 'session', detail: 'report data is the session\'s' }] : []),
  ];
  return Object.freeze({
    platform: evidence.platform,
    buildDigest: evidence.buildDigest,
    build: { name: build.name, version: build.version },
    measurements: claims.measurements,
    config: evidence.config,
    reportData: evidence.reportData,
    checks,
    notChecked: claims.notChecked,
    details: claims.details,
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
