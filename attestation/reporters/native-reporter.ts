// What a node-side reporter returns: the platform's own evidence, untouched.
// A reporter runs inside the TEE next to the disk node and asks the platform
// for a report over 64 bytes of report data (the hash of the evidence
// envelope's head, attestation/evidence.ts); it decodes nothing (the
// manager's verifier does), it only refuses what it cannot have obtained
// correctly. Implemented by configfs-tsm (SEV-SNP, TDX), the Nitro Secure
// Module helper and the simulated platform (attestation/sim-report.ts).
// See docs/TEE_PROVIDERS.md.
import { AttestationError } from '../errors.ts';
import { nativeReportDataBytes } from '../limits.ts';

export interface NativeEvidence {
  /** Who made it: "sev_guest" or "tdx_guest" (configfs-tsm `provider`), "nitro_nsm", "sim". */
  provider: string;
  /** The native document: configfs-tsm `outblob`, the Nitro COSE_Sign1 attestation document, a sim report. */
  evidence: Uint8Array;
  /** configfs-tsm `auxblob` (SEV-SNP: the certificate table), or empty. */
  aux: Uint8Array;
}

export interface NativeReporter {
  /** "aws-nitro-v1", "amd-sev-snp-v1", "intel-tdx-v1", or a simulated platform's name. */
  readonly platform: string;
  /**
   * Synchronous on purpose: the disk node's protocol core calls its provider
   * synchronously, once per session (ATTEST). This blocks the node for as
   * long as the hardware takes (Nitro ~1 ms plus a process start, SEV-SNP ~8 ms, TDX ~1 s).
   */
  report(reportData: Uint8Array): NativeEvidence;
}

export function checkReportData(reportData: Uint8Array): void {
  if (!(reportData instanceof Uint8Array) || reportData.length !== nativeReportDataBytes) {
    throw new AttestationError('E_ATT_REPORT_DATA', `report data must be exactly ${nativeReportDataBytes} bytes`);
  }
}

export function platformError(message: string, cause?: unknown): AttestationError {
  return new AttestationError('E_ATT_PLATFORM', message, cause === undefined ? undefined : { cause });
}
