// What each platform's evidence is checked with: its native verifier
// (signatures and certificate chain), its manifest reference values
// (measurements, minimum TCB, debug policy) and the time its certificates are
// checked at. The three hardware platforms have fixed names; every other
// platform name is a simulated platform (sim-report.ts), whose roots are
// raw Ed25519 keys and whose measurement the platform takes of the build
// itself, so it needs no reference values.
import { fromHex, toHex } from './bytes.ts';
import { AttestationError } from './errors.ts';
import type { HardwarePlatform, NativeClaims, NativeVerifyOptions } from './hardware/native-claims.ts';
import { awsNitroRootG1Fingerprint } from './nitro/aws-nitro-root.ts';
import { checkNitroReference, parseNitroReference } from './nitro/nitro-reference.ts';
import { verifyNitroEvidence } from './nitro/nitro-verifier.ts';
import { amdArkFingerprints } from './sev-snp/amd-roots.ts';
import { checkSevSnpReference, parseSevSnpReference } from './sev-snp/snp-reference.ts';
import { verifySevSnpEvidence } from './sev-snp/snp-verifier.ts';
import { intelSgxRootCaFingerprint } from './tdx/intel-sgx-root.ts';
import { checkTdxReference, parseTdxReference } from './tdx/tdx-reference.ts';
import { verifyTdxEvidence } from './tdx/tdx-verifier.ts';

/** A platform's parsed reference values: the JSON they came from and the check they make. */
export interface PlatformReference {
  /** The manifest's `reference` object, as parsed (formatManifest writes it back). */
  json: unknown;
  /** Accepts the claims or throws E_ATT_MEASUREMENT / E_ATT_POLICY. */
  check(claims: NativeClaims): void;
}

/**
 * Without `at`, a platform checks as of its evidence's own time if it has one
 * (Nitro), else now. `certificates`: what the operator supplied for evidence
 * that comes without its own (SEV-SNP VCEKs, one per chip and TCB), tried in
 * turn when the node sends none; nothing is ever fetched.
 */
export type HardwareVerifyOptions = Omit<NativeVerifyOptions, 'at'> & { at?: Date; certificates?: Uint8Array[] };

export interface HardwareRules {
  verify(native: Uint8Array, aux: Uint8Array, opts: HardwareVerifyOptions): NativeClaims;
  parseReference(json: unknown, field: string): PlatformReference;
  /** The pinned roots a manifest may name for this platform, with what they are (for `teearray attest` and keygen). */
  knownRoots: { name: string; fingerprint: Uint8Array }[];
  /** The `reference` JSON that accepts exactly this verified evidence's image (what an operator adds for a known-good image). */
  referenceOf(claims: NativeClaims): unknown;
}

/** Hex of the named measurements, in order. */
function measured(claims: NativeClaims, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, toHex(claims.measurements[name])]));
}

/** A platform's reference parser and check as the manifest keeps them: the JSON, and the check bound to what was parsed. */
function referenceRules<R>(parse: (json: unknown, field: string) => R, check: (claims: NativeClaims, reference: R) => void): HardwareRules['parseReference'] {
  return (json, field) => {
    const reference = parse(json, field);
    return { json, check: (claims) => check(claims, reference) };
  };
}

function noCertificates(aux: Uint8Array, platform: string): void {
  if (aux.length !== 0) throw new AttestationError('E_ATT_FORMAT', `${platform} evidence comes with no separate certificates`);
}

/**
 * The claims of the first candidate that verifies. A candidate refused for
 * its signature is another chip's certificate; any other refusal (expired,
 * chain, TCB) is about the right one and is the error.
 */
function firstThatVerifies(candidates: (() => NativeClaims)[], what: string): NativeClaims {
  for (const candidate of candidates) {
    try {
      return candidate();
    } catch (error) {
      if (!(error instanceof AttestationError) || error.code !== 'E_ATT_SIGNATURE') throw error;
    }
  }
  throw new AttestationError('E_ATT_CHAIN', `the node sent no certificates and none of the ${candidates.length} ${what} signed this evidence`);
}

function fingerprint(hex: string): Uint8Array {
  return fromHex(hex, 32)!;
}

const hardwareRules: Partial<Record<HardwarePlatform, HardwareRules>> = {
  'aws-nitro-v1': {
    // The document carries its own chain (certificate, cabundle) and its own time.
    verify: (native, aux, opts) => (noCertificates(aux, 'Nitro'), verifyNitroEvidence(native, opts)),
    parseReference: referenceRules(parseNitroReference, checkNitroReference),
    knownRoots: [{ name: 'AWS Nitro Enclaves Root G1', fingerprint: fingerprint(awsNitroRootG1Fingerprint) }],
    // PCR0 the image file, PCR1 kernel and boot ramfs, PCR2 the application: what `nitro-cli build-enclave` prints.
    referenceOf: (claims) => ({ images: [measured(claims, ['pcr0', 'pcr1', 'pcr2'])] }),
  },
  'amd-sev-snp-v1': {
    // The VCEK (and optionally ASK, ARK) come as the certificate table the host handed the guest.
    verify: (native, aux, { certificates, ...opts }) => {
      const at = opts.at ?? new Date();
      if (aux.length > 0 || !certificates?.length) return verifySevSnpEvidence(native, aux, { ...opts, at });
      return firstThatVerifies(certificates.map((certs) => () => verifySevSnpEvidence(native, certs, { ...opts, at })), 'operator-supplied VCEKs');
    },
    parseReference: referenceRules(parseSevSnpReference, checkSevSnpReference),
    knownRoots: Object.entries(amdArkFingerprints).map(([line, hex]) => ({ name: `AMD ARK-${line}`, fingerprint: fingerprint(hex) })),
    // The launch digest, and the platform's TCB as the minimum from now on.
    referenceOf: (claims) => ({
      measurements: [toHex(claims.measurements.measurement)],
      minTcb: Object.fromEntries(['bootloader', 'tee', 'snp', 'microcode'].map((part) => [part, claims.details[`reportedTcb.${part}`]])),
    }),
  },
  'intel-tdx-v1': {
    // The quote's certification data carries the PCK chain.
    verify: (native, aux, opts) => (noCertificates(aux, 'TDX'), verifyTdxEvidence(native, { ...opts, at: opts.at ?? new Date() })),
    parseReference: referenceRules(parseTdxReference, checkTdxReference),
    knownRoots: [{ name: 'Intel SGX Root CA', fingerprint: intelSgxRootCaFingerprint }],
    // MRTD (the TD's initial memory: firmware) and RTMR0..2 (firmware config, kernel, command line); RTMR3 is the guest's to extend.
    referenceOf: (claims) => ({ images: [measured(claims, ['mrtd', 'rtmr0', 'rtmr1', 'rtmr2'])] }),
  },
};

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
