// The contract between the disk node's provider and the platform's own
// reporting interface: give it the 64 bytes of report data the evidence
// envelope binds, get back the platform's native evidence (and the
// certificates it hands out with it). Implemented by the simulated platform
// (attestation/sim-report.ts), configfs-tsm (SEV-SNP, TDX) and the Nitro
// Secure Module. Synchronous: the node asks once per session, from the
// ATTEST command (docs/ATTESTATION.md, "Cost of a hardware report").

export interface NativeEvidence {
  /** Which kernel or device provider made it, e.g. "sev_guest", "tdx_guest", "nitro_nsm", "sim". */
  provider: string;
  /** The platform's report: an SEV-SNP report, a TDX quote, a Nitro attestation document, a sim report. */
  evidence: Uint8Array;
  /** What the platform hands out with it (the SEV-SNP certificate table), or empty. */
  aux: Uint8Array;
}

export interface NativeReporter {
  readonly platform: string;
  /** The platform's evidence over exactly 64 bytes of report data. */
  report(reportData: Uint8Array): NativeEvidence;
}
