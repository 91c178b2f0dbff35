// The contract between a disk node and the platform that attests it.
//
// A provider stands for the TEE platform: it measured the disk-node build when
// it launched it and produces reports that bind report data to that
// measurement through the platform's endorsement chain. The disk node only
// ever sees this interface; its own instance key, drawn at boot, keys every
// session's MACs, and the per-session report binds that key. A real TEE (AWS Nitro,
// AMD SEV-SNP, Intel TDX) plugs in behind the same two members.
// See docs/ATTESTATION.md.

/** What the platform measures at launch besides the build itself. */
export interface LaunchConfig {
  /** Raw 32-byte Ed25519 public key of the one manager allowed to command the node. */
  managerPublicKey: Uint8Array;
  /** Bytes per sector (4096). */
  sectorBytes: number;
  /** Number of sectors held in RAM. */
  sectorCount: number;
}

export interface AttestationProvider {
  /** Platform name recorded in the evidence, e.g. "sim-tee-v1". */
  readonly platform: string;
  /**
   * The platform's report over 32 bytes of report data: evidence that binds
   * them to the measured build and launch configuration through the
   * platform's endorsement chain. The node calls this once per session, for an
   * ATTEST command of an authenticated manager batch, with report data that
   * binds the session challenge, the manager's nonce, the node's instance
   * public key and its launch config (docs/PROTOCOL.md). On hardware it is
   * slow (milliseconds to a second), which is why it is not done per reply.
   */
  report(reportData: Uint8Array): Uint8Array;
}
