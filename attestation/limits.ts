// Bounds of the attestation formats, in one place. Each one is checked where
// the data enters (decoders, manifest parser, key-file loader).

/** Longest platform name, in bytes (ASCII). */
export const platformNameBytesMax = 32;
/** Raw Ed25519 public key. */
export const publicKeyBytes = 32;
/** Ed25519 signature. */
export const signatureBytes = 64;
/** SHA-256 output: build digest and measurement. */
export const digestBytes = 32;
/** Report data a session's evidence binds (docs/PROTOCOL.md, ATTEST). */
export const reportDataBytes = 32;
/** Report data a platform's native evidence carries: SEV-SNP REPORT_DATA, TDX REPORTDATA, Nitro user_data as we use it. */
export const nativeReportDataBytes = 64;
/** Largest evidence envelope: the disk node's own bound on what ATTEST returns (disk-node/limits.ts). */
export const evidenceBytesMax = 32 * 1024;
/** Largest reference-values manifest, in bytes of JSON text. */
export const manifestBytesMax = 64 * 1024;
/** Most platforms a manifest lists. */
export const manifestPlatformsMax = 16;
/** Most trusted roots per platform. */
export const manifestRootsMax = 16;
/** Most accepted builds. */
export const manifestBuildsMax = 64;
/** Most accepted manager keys. */
export const manifestManagerKeysMax = 256;
/** Longest build name or version string in a manifest, in characters. */
export const manifestLabelCharsMax = 64;
/** Largest platform key or certificate file. */
export const keyFileBytesMax = 4096;
/** Disk-node source lines an auditor is promised to read (non-blank lines). */
export const auditLinesMax = 600;
/** Largest disk-node bundle the launcher will load. */
export const bundleBytesMax = 16 * 1024 * 1024;
