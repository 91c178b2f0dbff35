// What each platform's evidence is checked with: its native verifier
// (signatures and certificate chain), its manifest reference values
// (measurements, minimum TCB, debug policy) and the time its certificates are
// checked at. The three hardware platforms have fixed names; every other
// platform name is a simulated platform (sim-report.ts), whose roots are
// raw Ed25519 keys and whose measurement the platform takes of the build
// itself, so it needs no reference values.
import { AttestationError } from './errors.ts';
import type { HardwarePlatform, NativeClaims, NativeVerifyOptions } from './hardware/native-claims.ts';

/** A platform's parsed reference values: the JSON they came from and the check they make. */
export interface PlatformReference {
  /** The manifest's `reference` object, as parsed (formatManifest writes it back). */
  json: unknown;
  /** Accepts the claims or throws E_ATT_MEASUREMENT / E_ATT_POLICY. */
  check(claims: NativeClaims): void;
}

export interface HardwareRules {
  verify(native: Uint8Array, aux: Uint8Array, opts: NativeVerifyOptions): NativeClaims;
  parseReference(json: unknown, field: string): PlatformReference;
  /** The pinned roots a manifest may name for this platform, with what they are (for `teearray attest` and keygen). */
  knownRoots: { name: string; fingerprint: Uint8Array }[];
}

const hardwareRules: Partial<Record<HardwarePlatform, HardwareRules>> = {};

export const hardwarePlatformNames: HardwarePlatform[] = ['aws-nitro-v1', 'amd-sev-snp-v1', 'intel-tdx-v1'];

export function isHardwarePlatform(name: string): name is HardwarePlatform {
  return (hardwarePlatformNames as string[]).includes(name);
}

/** The rules of a hardware platform; E_ATT_PLATFORM if this build has no verifier for it. */
export function rulesOf(platform: HardwarePlatform): HardwareRules {
  const rules = hardwareRules[platform];
  if (!rules) throw new AttestationError('E_ATT_PLATFORM', `no verifier for platform "${platform}" in this build`);
  return rules;
}
