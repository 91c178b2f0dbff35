// Decoder of Intel TDX quotes, version 4, as laid out in the Intel TDX DCAP
// Quoting Library API, appendix "Quote Format" (docs/TEE_TDX.md has the
// table with offsets). It only cuts the bytes into fields and refuses
// anything but the one shape teearray verifies: version 4, ECDSA-256 with
// P-256, TEE type TDX, Intel's QE, certification data type 6 (QE report)
// holding type 5 (PCK certificate chain). Every length is checked against
// what is left, and trailing bytes are refused, so a quote has exactly one
// reading. Unlike teearray's own formats, TDX integers are little-endian.
import { ByteReader } from '../byte-reader.ts';
import { equalBytes } from '../bytes.ts';
import { AttestationError } from '../errors.ts';

/** Largest quote accepted. Real ones are about 5 KB, nearly all of it the PEM chain. */
export const tdxQuoteBytesMax = 64 * 1024;
/** Header (48) and TD quote body (584): the bytes the attestation key signs. */
const tdxSignedBytes = 48 + 584;

const quoteVersion = 4;
/** "ECDSA-256-with-P-256 curve" in the header's attestation key type. */
const attestationKeyTypeEcdsaP256 = 2;
/** TEE type of a TD quote (0x00 would be an SGX enclave's). */
const teeTypeTdx = 0x81;
/** Intel's QE vendor id, 939A7233-F79C-4CA9-940A-0DB3957F0607. */
const intelQeVendorId = new Uint8Array(Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex'));
/** Certification data: 6 = QE report certification data, 5 = PCK certificate chain (PEM). */
const certDataQeReport = 6;
const certDataPckChain = 5;
/** An SGX report body, here the QE's (SGX "REPORTBODY"). */
const qeReportBytes = 384;

const what = 'TDX quote';

export interface TdxQuoteBody {
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
}

export interface TdxQuote {
  /** Header || TD quote body: what `signature` is over. */
  signedBytes: Uint8Array;
  body: TdxQuoteBody;
  /** ECDSA P-256 signature, r || s, by the attestation key. */
  signature: Uint8Array;
  /** The attestation public key, x || y (64 bytes). */
  attestationKey: Uint8Array;
  /** The QE's SGX report (384 bytes), signed by the PCK key. */
  qeReport: Uint8Array;
  /** r || s, by the PCK leaf key over `qeReport`. */
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** The PCK certificate chain as PEM text, leaf first (its C string terminator removed). */
  pckChainPem: string;
}

function u16le(reader: ByteReader, field: string): number {
  const b = reader.take(2, field);
  return b[0] | (b[1] << 8);
}

function u32le(reader: ByteReader, field: string): number {
  const b = reader.take(4, field);
  return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
}

function refuse(message: string): never {
  throw new AttestationError('E_ATT_FORMAT', `${what} ${message}`);
}

/** Reads a certification data header (type u16, size u32) and returns its data, which must be all that is left. */
function certificationData(reader: ByteReader, expectedType: number, field: string): Uint8Array {
  const type = u16le(reader, `${field} type`);
  if (type !== expectedType) refuse(`${field} type ${type} is not ${expectedType}`);
  const data = reader.take(u32le(reader, `${field} size`), field);
  reader.end();
  return data;
}

function decodeBody(reader: ByteReader): TdxQuoteBody {
  const field = (name: string, length: number) => reader.take(length, `TD quote body ${name}`);
  return {
    teeTcbSvn: field('TEE_TCB_SVN', 16),
    mrSeam: field('MRSEAM', 48),
    mrSignerSeam: field('MRSIGNERSEAM', 48),
    seamAttributes: field('SEAMATTRIBUTES', 8),
    tdAttributes: field('TDATTRIBUTES', 8),
    xfam: field('XFAM', 8),
    mrTd: field('MRTD', 48),
    mrConfigId: field('MRCONFIGID', 48),
    mrOwner: field('MROWNER', 48),
    mrOwnerConfig: field('MROWNERCONFIG', 48),
    rtmr: [field('RTMR0', 48), field('RTMR1', 48), field('RTMR2', 48), field('RTMR3', 48)],
    reportData: field('REPORTDATA', 64),
  };
}

/**
 * The PEM chain is ASCII. Intel's QE writes it as a C string, so real quotes
 * end it with one NUL byte (the dcap-qvl samples do, go-tdx-guest's do not):
 * exactly one is dropped, anything else non-printable is refused.
 */
function pemText(bytes: Uint8Array): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0 ? bytes.length - 1 : bytes.length;
  const text = Buffer.from(bytes.subarray(0, end)).toString('latin1');
  if (!/^[\t\n\r\x20-\x7e]*$/.test(text)) refuse('PCK certificate chain is not printable ASCII PEM text');
  return text;
}

/**
 * The length a quote declares (header, body, signature data length and the
 * signature data), or null when too short to say. Published sample files are
 * often padded to a buffer's size; the decoder refuses padding, and an
 * auditor who wants to look at such a file cuts it here first.
 */
export function tdxQuoteDeclaredLength(bytes: Uint8Array): number | null {
  if (bytes.length < tdxSignedBytes + 4) return null;
  return tdxSignedBytes + 4 + new DataView(bytes.buffer, bytes.byteOffset + tdxSignedBytes, 4).getUint32(0, true);
}

export function decodeTdxQuote(bytes: Uint8Array): TdxQuote {
  if (bytes.length > tdxQuoteBytesMax) refuse(`is ${bytes.length} bytes, more than ${tdxQuoteBytesMax}`);
  const reader = new ByteReader(bytes, what);

  // Header (48 bytes).
  const version = u16le(reader, 'header version');
  if (version !== quoteVersion) refuse(`version ${version} is not ${quoteVersion}`);
  const keyType = u16le(reader, 'header attestation key type');
  if (keyType !== attestationKeyTypeEcdsaP256) refuse(`attestation key type ${keyType} is not ${attestationKeyTypeEcdsaP256} (ECDSA P-256)`);
  const teeType = u32le(reader, 'header TEE type');
  if (teeType !== teeTypeTdx) refuse(`TEE type 0x${teeType.toString(16)} is not 0x81 (TDX)`);
  reader.take(4, 'header reserved');
  if (!equalBytes(reader.take(16, 'header QE vendor id'), intelQeVendorId)) refuse("QE vendor id is not Intel's");
  reader.take(20, 'header user data');

  const body = decodeBody(reader);

  // Quote signature data: its length, then exactly that many bytes to the end.
  const signatureData = new ByteReader(reader.take(u32le(reader, 'signature data length'), 'signature data'), `${what} signature data`);
  reader.end();
  const signature = signatureData.take(64, 'quote signature');
  const attestationKey = signatureData.take(64, 'attestation key');
  const qe = new ByteReader(certificationData(signatureData, certDataQeReport, 'certification data'), `${what} QE report certification data`);
  const qeReport = qe.take(qeReportBytes, 'QE report');
  const qeReportSignature = qe.take(64, 'QE report signature');
  const qeAuthData = qe.take(u16le(qe, 'QE auth data size'), 'QE auth data');
  const pckChainPem = pemText(certificationData(qe, certDataPckChain, 'QE certification data'));

  return {
    signedBytes: bytes.slice(0, tdxSignedBytes),
    body,
    signature,
    attestationKey,
    qeReport,
    qeReportSignature,
    qeAuthData,
    pckChainPem,
  };
}
