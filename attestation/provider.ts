// The contract between a disk node and the platform that attests it.
//
// A provider stands for the TEE platform: it measured the disk-node build when
// it launched it, it holds the attestation private key, and it signs report
// data on the node's behalf. The disk node only ever sees this interface, so
// the private key never appears in disk-node code paths, and a real TEE
// (AWS Nitro, AMD SEV-SNP, Intel TDX) plugs in behind the same two members.
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
   * Boot evidence: binds the build digest, the launch configuration, the
   * random instance id drawn at this boot and the attestation public key to
   * the platform's endorsement chain. Static for the life of the instance.
   */
  readonly evidence: Uint8Array;
  /** Random instance id drawn at boot (16 bytes); also inside `evidence`. */
  readonly instanceId: Uint8Array;
  /**
   * Signs 32 bytes of report data with the attestation key. The node calls this
   * once per reply batch with a digest binding the request nonce and every
   * byte it returns; the verifier checks it against the key in `evidence`.
   */
  sign(reportData: Uint8Array): Uint8Array;
}
