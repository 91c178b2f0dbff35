// What a node-side reporter returns: the hardware's own evidence, untouched.
// A reporter runs inside the TEE next to the disk node and asks the platform
// for a report over 64 bytes of report data; it decodes nothing (the
// manager's verifier does), it only refuses what it cannot have obtained
// correctly. The lead's evidence envelope wraps these bytes.
// See docs/TEE_PROVIDERS.md.
import { AttestationError } from '../errors.ts';

export interface NativeEvidence {
  /** Who made it: "sev_guest" or "tdx_guest" (configfs-tsm `provider`), "nitro_nsm". */
  provider: string;
  /** The native document: configfs-tsm `outblob`, or the Nitro COSE_Sign1 attestation document. */
  evidence: Uint8Array;
  /** configfs-tsm `auxblob` (SEV-SNP: the certificate table), or empty. */
  aux: Uint8Array;
}

export interface NativeReporter {
  readonly platform: 'aws-nitro-v1' | 'amd-sev-snp-v1' | 'intel-tdx-v1';
  /**
   * Synchronous on purpose: the disk node's protocol core calls its provider
   * synchronously, once per session (ATTEST). This blocks the node for as
   * long as the hardware takes (Nitro ~1 ms plus a process start, SEV-SNP ~8 ms, TDX ~1 s).
   */
  report(reportData: Uint8Array): NativeEvidence;
}

/** Every hardware report field we fill is 64 bytes (SNP REPORT_DATA, TDX REPORTDATA, our Nitro user_data). */
export const REPORT_DATA_BYTES = 64;

export function checkReportData(reportData: Uint8Array): void {
  if (!(reportData instanceof Uint8Array) || reportData.length !== REPORT_DATA_BYTES) {
    throw new AttestationError('E_ATT_REPORT_DATA', `report data must be exactly ${REPORT_DATA_BYTES} bytes`);
  }
}

export function platformError(message: string, cause?: unknown): AttestationError {
  return new AttestationError('E_ATT_PLATFORM', message, cause === undefined ? undefined : { cause });
}
