// What a hardware platform's verifier returns once a piece of native evidence
// (a Nitro attestation document, an SEV-SNP report, a TDX quote) has passed
// its signature and certificate-chain checks: the claims the rest of the
// verifier compares with the manifest and the session. Every platform
// verifier has the shape
//   verifyXEvidence(native, aux, { at, rootFingerprints }) -> NativeClaims
// and throws AttestationError (E_ATT_FORMAT, E_ATT_SIGNATURE, E_ATT_CHAIN,
// E_ATT_EXPIRED, E_ATT_POLICY) on the first failure. Reference values
// (measurements, minimum TCB) are checked by the platform's own
// checkXReference(claims, reference) after it, so an offline inspection can
// show the claims of evidence whose image is not (yet) in a manifest.

/** The hardware platforms, by their names in evidence and manifests. */
export type HardwarePlatform = 'aws-nitro-v1' | 'amd-sev-snp-v1' | 'intel-tdx-v1';

/** One check the verifier made, for `teearray attest verify` to print. */
export interface CheckRecord {
  /** Short name, e.g. "signature", "chain", "validity". */
  check: string;
  /** What was found, e.g. "ES384 by CN=..., 4 certificates to root sha256:...". */
  detail: string;
}

export interface NativeClaims {
  /** A hardware platform, or the name of a simulated one (attestation/sim-report.ts). */
  platform: string;
  /**
   * The report data the hardware signed: exactly 64 bytes (Nitro: `user_data`,
   * which must then be 64 bytes; SEV-SNP: REPORT_DATA; TDX: REPORTDATA).
   */
  reportData: Uint8Array;
  /**
   * The measured values by name, in the manifest's names: Nitro "pcr0".."pcr15"
   * (whichever the document has), SEV-SNP "measurement" (and "hostData"),
   * TDX "mrtd", "rtmr0".."rtmr3" (and "mrseam").
   */
  measurements: Record<string, Uint8Array>;
  /** True when the platform says the guest is debuggable (its memory readable by the host). */
  debug: boolean;
  /** SHA-256 of the DER of the root certificate the chain ended at (one of the pinned ones); a simulated platform's raw root key. */
  rootFingerprint: Uint8Array;
  /** When the evidence says it was made, if it says (Nitro timestamp); otherwise null. */
  issuedAt: Date | null;
  /** Every check that passed, in order. */
  checks: CheckRecord[];
  /** What this verifier does not check, said plainly (e.g. "TCB status against Intel collateral"). */
  notChecked: string[];
  /** Platform-specific fields worth printing (e.g. SNP policy, TCB, chip id; TDX TD attributes), JSON-safe. */
  details: Record<string, string | number | boolean>;
}

/** What a platform verifier needs besides the evidence. */
export interface NativeVerifyOptions {
  /** The time certificates must be valid at (a document's own timestamp, or now). */
  at: Date;
  /** SHA-256 fingerprints (32 bytes) of the root certificates (DER) trusted for this platform. */
  rootFingerprints: Uint8Array[];
}
