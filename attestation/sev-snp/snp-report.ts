// The AMD SEV-SNP attestation report, decoded. Layout: AMD SEV Secure Nested
// Paging Firmware ABI Specification (56860) rev 1.57, §7.3, Table 23
// "ATTESTATION_REPORT Structure" (versions 2, 3 and 5; docs/TEE_SEV_SNP.md
// lists every offset). All integers are little-endian. The decoder checks the
// shape only (length, version, algorithm, must-be-zero fields, the signature
// encoding); whether the signature verifies is snp-verifier.ts's job.
import { AttestationError } from '../errors.ts';

/** The report is exactly this long (0x4A0). */
export const snpReportBytes = 0x4a0;
/** The signature covers bytes 0x000..0x29F. */
const snpSignedBytes = 0x2a0;
/** Report versions the firmware produces and this decoder reads. */
const snpReportVersions: readonly number[] = [2, 3, 5];
/** SIGNATURE_ALGO 1: ECDSA P-384 with SHA-384 (56860, Table "Signature Algorithm Encodings"). */
const snpSignatureAlgoEcdsaP384Sha384 = 1;

/** The processor generations with their own ARK/ASK (and, for Turin, TCB layout). */
export type SnpProductLine = 'Milan' | 'Genoa' | 'Turin';
export const snpProductLines: readonly SnpProductLine[] = ['Milan', 'Genoa', 'Turin'];

/** Security patch levels of one TCB_VERSION; `fmc` only on Turin and later. */
export interface SnpTcb {
  fmc: number | null;
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
}

// GUEST_POLICY bits (56860 §4.3, table "Guest Policy Structure").
const policyAbiMinorMask = 0xffn;
const policyAbiMajorShift = 8n;
const policySmtBit = 16n;
const policyReservedOneBit = 17n; // Reserved, must be one.
const policyMigrateMaBit = 18n;
const policyDebugBit = 19n;
const policySingleSocketBit = 20n;
/** Bits 63:26 are reserved, must be zero (bit 25, PAGE_SWAP_DISABLE, is the highest defined in rev 1.57). */
const policyMbzFrom = 26n;

export interface SnpPolicy {
  raw: bigint;
  abiMajor: number;
  abiMinor: number;
  smt: boolean;
  migrateMa: boolean;
  debug: boolean;
  singleSocket: boolean;
}

/** Which key signed the report (bits 4:2 at 0x48): only 0 (VCEK) chains to a VCEK certificate. */
export const snpSigningKeyVcek = 0;

export interface SnpReport {
  version: number;
  guestSvn: number;
  policy: SnpPolicy;
  familyId: Uint8Array;
  imageId: Uint8Array;
  vmpl: number;
  signatureAlgo: number;
  /** TCB_VERSIONs stay raw until the product line (hence their layout) is known. */
  currentTcb: Uint8Array;
  platformInfo: bigint;
  authorKeyEn: boolean;
  maskChipKey: boolean;
  signingKey: number;
  reportData: Uint8Array;
  measurement: Uint8Array;
  hostData: Uint8Array;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
  reportId: Uint8Array;
  reportIdMa: Uint8Array;
  reportedTcb: Uint8Array;
  /** CPUID_FAM_ID, CPUID_MOD_ID, CPUID_STEP: version 3 and later, else null. */
  cpuid: { family: number; model: number; stepping: number } | null;
  chipId: Uint8Array;
  committedTcb: Uint8Array;
  currentVersion: string;
  committedVersion: string;
  launchTcb: Uint8Array;
  /** The bytes the signature covers (0x000..0x29F). */
  signedBody: Uint8Array;
  /** R and S as big-endian 48-byte integers, concatenated (IEEE P1363 form). */
  signatureP1363: Uint8Array;
}

// Reserved ranges [from, to) that must be zero, with the first version that
// gives a range a meaning (0x188..0x18A: CPUID, version 3; 0x1F8..0x207: the
// launch and current mitigation vectors, version 5, reported but not read).
const mbzRanges: { from: number; to: number; unlessVersionAtLeast?: number }[] = [
  { from: 0x04c, to: 0x050 },
  { from: 0x188, to: 0x18b, unlessVersionAtLeast: 3 },
  { from: 0x18b, to: 0x1a0 },
  { from: 0x1eb, to: 0x1ec },
  { from: 0x1ef, to: 0x1f0 },
  { from: 0x1f8, to: 0x208, unlessVersionAtLeast: 5 },
  { from: 0x208, to: 0x2a0 },
];

// The signature (56860 Table "ECDSA P-384 with SHA-384 Signature Format"):
// R at 0x00 and S at 0x48, each 72 bytes, a little-endian integer zero-extended
// from its 48 P-384 bytes; 0x90..0x1FF reserved.
const signatureRsBytes = 72;
const p384Bytes = 48;

function formatError(why: string): never {
  throw new AttestationError('E_ATT_FORMAT', `SEV-SNP report ${why}`);
}

function isZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

function decodePolicy(raw: bigint): SnpPolicy {
  const bit = (n: bigint) => ((raw >> n) & 1n) === 1n;
  if (!bit(policyReservedOneBit)) formatError('POLICY bit 17 is reserved and must be one');
  if (raw >> policyMbzFrom !== 0n) formatError(`POLICY 0x${raw.toString(16)} sets reserved bits 63:26`);
  return {
    raw,
    abiMinor: Number(raw & policyAbiMinorMask),
    abiMajor: Number((raw >> policyAbiMajorShift) & policyAbiMinorMask),
    smt: bit(policySmtBit),
    migrateMa: bit(policyMigrateMaBit),
    debug: bit(policyDebugBit),
    singleSocket: bit(policySingleSocketBit),
  };
}

/** A little-endian zero-extended integer of `field` as 48 big-endian bytes. */
function scalar(field: Uint8Array, name: string): Uint8Array {
  if (!isZero(field.subarray(p384Bytes))) {
    throw new AttestationError('E_ATT_SIGNATURE', `SEV-SNP report signature ${name} has non-zero bytes above the 48 of P-384`);
  }
  return field.slice(0, p384Bytes).reverse();
}

/** Decodes and shape-checks a report; E_ATT_FORMAT (E_ATT_SIGNATURE for R or S out of range). */
export function decodeSnpReport(bytes: Uint8Array): SnpReport {
  if (bytes.length !== snpReportBytes) formatError(`must be exactly ${snpReportBytes} bytes, got ${bytes.length}`);
  const report = new Uint8Array(bytes); // A copy (a Buffer's slice would not be): fields never alias the input.
  const view = new DataView(report.buffer);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => view.getBigUint64(at, true);
  const field = (at: number, length: number) => report.slice(at, at + length);

  const version = u32(0x000);
  if (!snpReportVersions.includes(version)) formatError(`VERSION ${version} is not one of ${snpReportVersions.join(', ')}`);
  const signatureAlgo = u32(0x034);
  if (signatureAlgo !== snpSignatureAlgoEcdsaP384Sha384) formatError(`SIGNATURE_ALGO ${signatureAlgo} is not 1 (ECDSA P-384 with SHA-384)`);
  for (const range of mbzRanges) {
    if (range.unlessVersionAtLeast !== undefined && version >= range.unlessVersionAtLeast) continue;
    if (!isZero(report.subarray(range.from, range.to))) {
      formatError(`reserved bytes 0x${range.from.toString(16)}..0x${(range.to - 1).toString(16)} are not zero`);
    }
  }
  // 0x048: bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY, bits 31:5 reserved (zero).
  const signer = u32(0x048);
  if (signer >>> 5 !== 0) formatError(`signer flags 0x${signer.toString(16)} set reserved bits 31:5`);
  const signature = report.subarray(snpSignedBytes);
  if (!isZero(signature.subarray(2 * signatureRsBytes))) formatError('signature reserved bytes 0x90..0x1FF are not zero');
  // Firmware versions are BUILD, MINOR, MAJOR bytes (0x1E8 current, 0x1EC committed); shown MAJOR.MINOR.BUILD.
  const fw = (at: number) => `${report[at + 2]}.${report[at + 1]}.${report[at]}`;

  return {
    version,
    guestSvn: u32(0x004),
    policy: decodePolicy(u64(0x008)),
    familyId: field(0x010, 16),
    imageId: field(0x020, 16),
    vmpl: u32(0x030),
    signatureAlgo,
    currentTcb: field(0x038, 8),
    platformInfo: u64(0x040),
    authorKeyEn: (signer & 1) !== 0,
    maskChipKey: (signer & 2) !== 0,
    signingKey: (signer >>> 2) & 7,
    reportData: field(0x050, 64),
    measurement: field(0x090, 48),
    hostData: field(0x0c0, 32),
    idKeyDigest: field(0x0e0, 48),
    authorKeyDigest: field(0x110, 48),
    reportId: field(0x140, 32),
    reportIdMa: field(0x160, 32),
    reportedTcb: field(0x180, 8),
    cpuid: version >= 3 ? { family: report[0x188], model: report[0x189], stepping: report[0x18a] } : null,
    chipId: field(0x1a0, 64),
    committedTcb: field(0x1e0, 8),
    currentVersion: fw(0x1e8),
    committedVersion: fw(0x1ec),
    launchTcb: field(0x1f0, 8),
    signedBody: field(0, snpSignedBytes),
    signatureP1363: new Uint8Array([
      ...scalar(signature.subarray(0, signatureRsBytes), 'R'),
      ...scalar(signature.subarray(signatureRsBytes, 2 * signatureRsBytes), 'S'),
    ]),
  };
}

/**
 * The security patch levels of a TCB_VERSION (56860 §2.2, table
 * "TCB_VERSION Structure"): Milan and Genoa put BOOT_LOADER, TEE at bytes 0,
 * 1, SNP at 6 and MICROCODE at 7; Turin puts FMC, BOOT_LOADER, TEE, SNP at
 * bytes 0..3 and MICROCODE at 7. Reserved bytes are not read.
 */
export function decodeTcb(raw: Uint8Array, line: SnpProductLine): SnpTcb {
  if (line === 'Turin') return { fmc: raw[0], bootloader: raw[1], tee: raw[2], snp: raw[3], microcode: raw[7] };
  return { fmc: null, bootloader: raw[0], tee: raw[1], snp: raw[6], microcode: raw[7] };
}

/** The CPUID family (CPUID_FAM_ID, extended + base) of each product line's processors. */
export const snpCpuidFamily: Record<SnpProductLine, number> = { Milan: 0x19, Genoa: 0x19, Turin: 0x1a };
