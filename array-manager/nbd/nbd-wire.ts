// NBD wire codec: protocol constants and the encoders/decoders of every
// structure the server reads or writes (handshake greeting, option requests
// and replies, NBD_INFO items, transmission requests, simple replies and
// structured reply chunks).
//
// Source: the NBD protocol document, doc/proto.md of the NetworkBlockDevice
// project ("fixed newstyle" negotiation, the INFO extension and structured
// replies as merged into the main document). Every value below is named
// there; section names are given on the lines that need them.
//
// Trusts: nothing it decodes. Every decoder checks magic numbers, lengths and
// string bounds and throws NbdWireError with a stable code. Encoders take our
// own values and assert their ranges.
// Does not handle: TLS, extended headers (64-bit lengths), block status.

import assert from 'node:assert/strict';

/** A malformed structure from the peer. `code` is stable; the message names the field. */
export class NbdWireError extends Error {
  readonly code: 'E_NBD_MAGIC' | 'E_NBD_TRUNCATED' | 'E_NBD_LENGTH' | 'E_NBD_STRING';
  constructor(code: NbdWireError['code'], message: string) {
    super(message);
    this.name = 'NbdWireError';
    this.code = code;
  }
}

// Magic numbers ("Newstyle negotiation", "Transmission").
export const NBD_MAGIC = 0x4e42444d41474943n; // "NBDMAGIC"
export const NBD_IHAVEOPT = 0x49484156454f5054n; // "IHAVEOPT"
export const NBD_OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;

// Handshake flags (server) and client flags ("Handshake flags", "Client flags").
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

// Transmission flags ("Transmission flags").
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_FUA = 1 << 3;
export const NBD_FLAG_ROTATIONAL = 1 << 4;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const NBD_FLAG_SEND_DF = 1 << 7;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;
export const NBD_FLAG_SEND_RESIZE = 1 << 9;
export const NBD_FLAG_SEND_CACHE = 1 << 10;
export const NBD_FLAG_SEND_FAST_ZERO = 1 << 11;

// Option types ("Option types").
export const NBD_OPT_EXPORT_NAME = 1;
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_LIST = 3;
export const NBD_OPT_PEEK_EXPORT = 4;
export const NBD_OPT_STARTTLS = 5;
export const NBD_OPT_INFO = 6;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;
export const NBD_OPT_LIST_META_CONTEXT = 9;
export const NBD_OPT_SET_META_CONTEXT = 10;
export const NBD_OPT_EXTENDED_HEADERS = 11;

// Option reply types ("Option reply types"); errors have bit 31 set.
export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
export const NBD_REP_META_CONTEXT = 4;
export const NBD_REP_ERR_UNSUP = 0x80000001;
export const NBD_REP_ERR_POLICY = 0x80000002;
export const NBD_REP_ERR_INVALID = 0x80000003;
export const NBD_REP_ERR_PLATFORM = 0x80000004;
export const NBD_REP_ERR_TLS_REQD = 0x80000005;
export const NBD_REP_ERR_UNKNOWN = 0x80000006;
export const NBD_REP_ERR_SHUTDOWN = 0x80000007;
export const NBD_REP_ERR_BLOCK_SIZE_REQD = 0x80000008;
export const NBD_REP_ERR_TOO_BIG = 0x80000009;

// Information types carried in NBD_REP_INFO ("NBD_REP_INFO").
export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_DESCRIPTION = 2;
export const NBD_INFO_BLOCK_SIZE = 3;

// Command flags ("Command flags").
export const NBD_CMD_FLAG_FUA = 1 << 0;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;
export const NBD_CMD_FLAG_DF = 1 << 2;
export const NBD_CMD_FLAG_REQ_ONE = 1 << 3;
export const NBD_CMD_FLAG_FAST_ZERO = 1 << 4;

// Request types ("Request types").
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_CACHE = 5;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_BLOCK_STATUS = 7;

// Structured reply flags and types ("Structured reply flags", "... types").
export const NBD_REPLY_FLAG_DONE = 1 << 0;
export const NBD_REPLY_TYPE_NONE = 0;
export const NBD_REPLY_TYPE_OFFSET_DATA = 1;
export const NBD_REPLY_TYPE_OFFSET_HOLE = 2;
export const NBD_REPLY_TYPE_ERROR = 0x8001;
export const NBD_REPLY_TYPE_ERROR_OFFSET = 0x8002;

// Error values ("Error values").
export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_ENOMEM = 12;
export const NBD_EINVAL = 22;
export const NBD_ENOSPC = 28;
export const NBD_EOVERFLOW = 75;
export const NBD_ENOTSUP = 95;
export const NBD_ESHUTDOWN = 108;

// Fixed sizes of wire structures, in bytes.
export const greetingBytes = 18; // NBDMAGIC, IHAVEOPT, 16-bit handshake flags
export const clientFlagsBytes = 4;
export const optionHeaderBytes = 16; // IHAVEOPT, option, length
export const optionReplyHeaderBytes = 20; // magic, option, type, length
export const requestHeaderBytes = 28;
export const simpleReplyHeaderBytes = 16;
export const structuredReplyHeaderBytes = 20;
export const readChunkHeaderBytes = structuredReplyHeaderBytes + 8; // + 64-bit offset
export const exportNameReplyZeroesBytes = 124;
/** "MUST be no longer than 4096 bytes" (Conventions: strings). */
export const stringBytesMax = 4096;
/** The largest value a 16-bit message-length field of an error chunk can carry within the string limit. */
const errorMessageBytesMax = stringBytesMax;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function need(bytes: Uint8Array, offset: number, length: number, what: string): void {
  if (bytes.byteLength - offset < length) {
    throw new NbdWireError('E_NBD_TRUNCATED', `${what}: need ${length} bytes, have ${bytes.byteLength - offset}`);
  }
}

/** Decodes a protocol string: UTF-8, no NUL, at most stringBytesMax bytes. */
export function decodeString(bytes: Uint8Array, what: string): string {
  if (bytes.byteLength > stringBytesMax) {
    throw new NbdWireError('E_NBD_STRING', `${what}: ${bytes.byteLength} bytes exceeds ${stringBytesMax}`);
  }
  if (bytes.includes(0)) throw new NbdWireError('E_NBD_STRING', `${what}: contains NUL`);
  try {
    return textDecoder.decode(bytes);
  } catch {
    throw new NbdWireError('E_NBD_STRING', `${what}: not valid UTF-8`);
  }
}

/** Encodes one of our own strings; asserts the protocol bounds. */
export function encodeString(text: string): Uint8Array {
  const bytes = textEncoder.encode(text);
  assert(bytes.byteLength <= stringBytesMax && !bytes.includes(0), 'string outside protocol bounds');
  return bytes;
}

// ---- Handshake ------------------------------------------------------------

/** S: NBDMAGIC, IHAVEOPT, 16-bit handshake flags ("Newstyle negotiation"). */
export function encodeGreeting(handshakeFlags: number): Uint8Array {
  const out = new Uint8Array(greetingBytes);
  const v = view(out);
  v.setBigUint64(0, NBD_MAGIC);
  v.setBigUint64(8, NBD_IHAVEOPT);
  v.setUint16(16, handshakeFlags);
  return out;
}

export function decodeGreeting(bytes: Uint8Array): { handshakeFlags: number } {
  need(bytes, 0, greetingBytes, 'greeting');
  const v = view(bytes);
  if (v.getBigUint64(0) !== NBD_MAGIC) throw new NbdWireError('E_NBD_MAGIC', 'greeting: bad NBDMAGIC');
  if (v.getBigUint64(8) !== NBD_IHAVEOPT) throw new NbdWireError('E_NBD_MAGIC', 'greeting: bad IHAVEOPT');
  return { handshakeFlags: v.getUint16(16) };
}

export function encodeClientFlags(flags: number): Uint8Array {
  const out = new Uint8Array(clientFlagsBytes);
  view(out).setUint32(0, flags >>> 0);
  return out;
}

export function decodeClientFlags(bytes: Uint8Array): number {
  need(bytes, 0, clientFlagsBytes, 'client flags');
  return view(bytes).getUint32(0);
}

export interface OptionHeader {
  option: number;
  /** Length of the option data that follows the header. */
  length: number;
}

/** C: IHAVEOPT, 32-bit option, 32-bit data length. */
export function encodeOptionHeader(header: OptionHeader): Uint8Array {
  const out = new Uint8Array(optionHeaderBytes);
  const v = view(out);
  v.setBigUint64(0, NBD_IHAVEOPT);
  v.setUint32(8, header.option >>> 0);
  v.setUint32(12, header.length >>> 0);
  return out;
}

export function decodeOptionHeader(bytes: Uint8Array): OptionHeader {
  need(bytes, 0, optionHeaderBytes, 'option header');
  const v = view(bytes);
  if (v.getBigUint64(0) !== NBD_IHAVEOPT) throw new NbdWireError('E_NBD_MAGIC', 'option header: bad IHAVEOPT');
  return { option: v.getUint32(8), length: v.getUint32(12) };
}

export interface OptionReply {
  option: number;
  type: number;
  payload: Uint8Array;
}

/** S: reply magic, option, reply type, length, payload ("Fixed newstyle negotiation"). */
export function encodeOptionReply(option: number, type: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(optionReplyHeaderBytes + payload.byteLength);
  const v = view(out);
  v.setBigUint64(0, NBD_OPTION_REPLY_MAGIC);
  v.setUint32(8, option >>> 0);
  v.setUint32(12, type >>> 0);
  v.setUint32(16, payload.byteLength);
  out.set(payload, optionReplyHeaderBytes);
  return out;
}

/** Decodes the header of an option reply; the payload length is returned, not checked against a bound. */
export function decodeOptionReplyHeader(bytes: Uint8Array): { option: number; type: number; length: number } {
  need(bytes, 0, optionReplyHeaderBytes, 'option reply');
  const v = view(bytes);
  if (v.getBigUint64(0) !== NBD_OPTION_REPLY_MAGIC) throw new NbdWireError('E_NBD_MAGIC', 'option reply: bad magic');
  return { option: v.getUint32(8), type: v.getUint32(12), length: v.getUint32(16) };
}

/** Error replies carry an optional message for a human; ours are short ASCII. */
export function encodeOptionError(option: number, type: number, message: string): Uint8Array {
  assert(type >= 0x80000000, 'option error type must have bit 31 set');
  return encodeOptionReply(option, type, encodeString(message));
}

/** NBD_REP_SERVER payload: 32-bit name length, name. */
export function encodeServerEntry(name: string): Uint8Array {
  const nameBytes = encodeString(name);
  const out = new Uint8Array(4 + nameBytes.byteLength);
  view(out).setUint32(0, nameBytes.byteLength);
  out.set(nameBytes, 4);
  return out;
}

export function decodeServerEntry(payload: Uint8Array): string {
  need(payload, 0, 4, 'NBD_REP_SERVER');
  const nameLength = view(payload).getUint32(0);
  if (nameLength > payload.byteLength - 4) {
    throw new NbdWireError('E_NBD_LENGTH', `NBD_REP_SERVER: name length ${nameLength} exceeds payload`);
  }
  return decodeString(payload.subarray(4, 4 + nameLength), 'NBD_REP_SERVER name');
}

/** Request of NBD_OPT_INFO and NBD_OPT_GO: export name and the information items asked for. */
export interface InfoRequest {
  name: string;
  infos: number[];
}

export function encodeInfoRequest(request: InfoRequest): Uint8Array {
  const nameBytes = encodeString(request.name);
  const out = new Uint8Array(4 + nameBytes.byteLength + 2 + 2 * request.infos.length);
  const v = view(out);
  v.setUint32(0, nameBytes.byteLength);
  out.set(nameBytes, 4);
  v.setUint16(4 + nameBytes.byteLength, request.infos.length);
  request.infos.forEach((info, i) => v.setUint16(6 + nameBytes.byteLength + 2 * i, info));
  return out;
}

/** Data: 32-bit name length (<= data length - 6), name, 16-bit count, count 16-bit items ("NBD_OPT_INFO"). */
export function decodeInfoRequest(data: Uint8Array): InfoRequest {
  need(data, 0, 6, 'info request');
  const v = view(data);
  const nameLength = v.getUint32(0);
  if (nameLength > data.byteLength - 6) {
    throw new NbdWireError('E_NBD_LENGTH', `info request: name length ${nameLength} exceeds data length - 6`);
  }
  const name = decodeString(data.subarray(4, 4 + nameLength), 'info request name');
  const count = v.getUint16(4 + nameLength);
  if (data.byteLength !== 6 + nameLength + 2 * count) {
    throw new NbdWireError('E_NBD_LENGTH', `info request: ${count} items do not fill ${data.byteLength} bytes`);
  }
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(v.getUint16(6 + nameLength + 2 * i));
  return { name, infos };
}

/** NBD_INFO_EXPORT: type, 64-bit size, 16-bit transmission flags (length 12). */
export function encodeInfoExport(sizeBytes: number, transmissionFlags: number): Uint8Array {
  const out = new Uint8Array(12);
  const v = view(out);
  v.setUint16(0, NBD_INFO_EXPORT);
  v.setBigUint64(2, BigInt(sizeBytes));
  v.setUint16(10, transmissionFlags);
  return out;
}

export interface BlockSizes {
  minimumBytes: number;
  preferredBytes: number;
  maximumBytes: number;
}

/** NBD_INFO_BLOCK_SIZE: type, minimum, preferred, maximum (length 14). */
export function encodeInfoBlockSize(sizes: BlockSizes): Uint8Array {
  const out = new Uint8Array(14);
  const v = view(out);
  v.setUint16(0, NBD_INFO_BLOCK_SIZE);
  v.setUint32(2, sizes.minimumBytes);
  v.setUint32(6, sizes.preferredBytes);
  v.setUint32(10, sizes.maximumBytes);
  return out;
}

/** NBD_INFO_NAME: type, name. */
export function encodeInfoName(name: string): Uint8Array {
  const nameBytes = encodeString(name);
  const out = new Uint8Array(2 + nameBytes.byteLength);
  view(out).setUint16(0, NBD_INFO_NAME);
  out.set(nameBytes, 2);
  return out;
}

/** The items of NBD_REP_INFO that this codec understands, decoded; others are reported by type only. */
export type InfoReply =
  | { info: typeof NBD_INFO_EXPORT; sizeBytes: bigint; transmissionFlags: number }
  | ({ info: typeof NBD_INFO_BLOCK_SIZE } & BlockSizes)
  | { info: typeof NBD_INFO_NAME; name: string }
  | { info: 'other'; type: number };

export function decodeInfoReply(payload: Uint8Array): InfoReply {
  need(payload, 0, 2, 'NBD_REP_INFO');
  const v = view(payload);
  const type = v.getUint16(0);
  const exactly = (length: number) => {
    if (payload.byteLength !== length) {
      throw new NbdWireError('E_NBD_LENGTH', `NBD_REP_INFO type ${type}: length ${payload.byteLength} != ${length}`);
    }
  };
  switch (type) {
    case NBD_INFO_EXPORT:
      exactly(12);
      return { info: NBD_INFO_EXPORT, sizeBytes: v.getBigUint64(2), transmissionFlags: v.getUint16(10) };
    case NBD_INFO_BLOCK_SIZE:
      exactly(14);
      return {
        info: NBD_INFO_BLOCK_SIZE,
        minimumBytes: v.getUint32(2),
        preferredBytes: v.getUint32(6),
        maximumBytes: v.getUint32(10),
      };
    case NBD_INFO_NAME:
      return { info: NBD_INFO_NAME, name: decodeString(payload.subarray(2), 'NBD_INFO_NAME') };
    default:
      return { info: 'other', type };
  }
}

/** Reply to NBD_OPT_EXPORT_NAME: 64-bit size, 16-bit flags, 124 zeroes unless NO_ZEROES was agreed. */
export function encodeExportNameReply(sizeBytes: number, transmissionFlags: number, noZeroes: boolean): Uint8Array {
  const out = new Uint8Array(10 + (noZeroes ? 0 : exportNameReplyZeroesBytes));
  const v = view(out);
  v.setBigUint64(0, BigInt(sizeBytes));
  v.setUint16(8, transmissionFlags);
  return out;
}

// ---- Transmission ---------------------------------------------------------

export interface RequestHeader {
  flags: number;
  type: number;
  /** Opaque 64-bit cookie echoed in the reply. */
  handle: bigint;
  offset: bigint;
  length: number;
}

/** C: magic, 16-bit flags, 16-bit type, 64-bit handle, 64-bit offset, 32-bit length ("Request message"). */
export function encodeRequestHeader(request: RequestHeader): Uint8Array {
  const out = new Uint8Array(requestHeaderBytes);
  const v = view(out);
  v.setUint32(0, NBD_REQUEST_MAGIC);
  v.setUint16(4, request.flags);
  v.setUint16(6, request.type);
  v.setBigUint64(8, request.handle);
  v.setBigUint64(16, request.offset);
  v.setUint32(24, request.length >>> 0);
  return out;
}

// The per-request paths below avoid allocating a DataView per call: headers
// are read through one scratch copy, replies written with Buffer's methods
// into small buffers Node carves from its shared slab.
const requestScratch = new Uint8Array(requestHeaderBytes);
const requestScratchView = new DataView(requestScratch.buffer);

export function decodeRequestHeader(bytes: Uint8Array): RequestHeader {
  need(bytes, 0, requestHeaderBytes, 'request header');
  requestScratch.set(bytes.subarray(0, requestHeaderBytes));
  const v = requestScratchView;
  const magic = v.getUint32(0);
  if (magic !== NBD_REQUEST_MAGIC) {
    throw new NbdWireError('E_NBD_MAGIC', `request header: bad magic 0x${magic.toString(16)}`);
  }
  return {
    flags: v.getUint16(4),
    type: v.getUint16(6),
    handle: v.getBigUint64(8),
    offset: v.getBigUint64(16),
    length: v.getUint32(24),
  };
}

/** S: magic, 32-bit error, 64-bit handle ("Simple reply message"); READ data follows on success. */
export function encodeSimpleReply(error: number, handle: bigint): Uint8Array {
  const out = Buffer.allocUnsafe(simpleReplyHeaderBytes);
  out.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0);
  out.writeUInt32BE(error, 4);
  out.writeBigUInt64BE(handle, 8);
  return out;
}

export function decodeSimpleReply(bytes: Uint8Array): { error: number; handle: bigint } {
  need(bytes, 0, simpleReplyHeaderBytes, 'simple reply');
  const v = view(bytes);
  if (v.getUint32(0) !== NBD_SIMPLE_REPLY_MAGIC) throw new NbdWireError('E_NBD_MAGIC', 'simple reply: bad magic');
  return { error: v.getUint32(4), handle: v.getBigUint64(8) };
}

export interface StructuredReplyHeader {
  flags: number;
  type: number;
  handle: bigint;
  /** Length of the chunk payload that follows. */
  length: number;
}

function writeStructuredHeader(v: DataView, header: StructuredReplyHeader): void {
  v.setUint32(0, NBD_STRUCTURED_REPLY_MAGIC);
  v.setUint16(4, header.flags);
  v.setUint16(6, header.type);
  v.setBigUint64(8, header.handle);
  v.setUint32(16, header.length >>> 0);
}

/** S: magic, 16-bit flags, 16-bit type, 64-bit handle, 32-bit payload length ("Structured reply chunk"). */
export function encodeStructuredReplyHeader(header: StructuredReplyHeader): Uint8Array {
  const out = new Uint8Array(structuredReplyHeaderBytes);
  writeStructuredHeader(view(out), header);
  return out;
}

export function decodeStructuredReplyHeader(bytes: Uint8Array): StructuredReplyHeader {
  need(bytes, 0, structuredReplyHeaderBytes, 'structured reply');
  const v = view(bytes);
  if (v.getUint32(0) !== NBD_STRUCTURED_REPLY_MAGIC) {
    throw new NbdWireError('E_NBD_MAGIC', 'structured reply: bad magic');
  }
  return { flags: v.getUint16(4), type: v.getUint16(6), handle: v.getBigUint64(8), length: v.getUint32(16) };
}

/**
 * Header of a final NBD_REPLY_TYPE_OFFSET_DATA chunk carrying `dataBytes` of
 * data read at `offset`: the data itself is written after it without a copy.
 */
export function encodeReadChunkHeader(handle: bigint, offset: bigint, dataBytes: number): Uint8Array {
  assert(dataBytes >= 1 && dataBytes <= 0xffffffff - 8, 'OFFSET_DATA chunk must carry 1..2^32-9 bytes');
  const out = Buffer.allocUnsafe(readChunkHeaderBytes);
  out.writeUInt32BE(NBD_STRUCTURED_REPLY_MAGIC, 0);
  out.writeUInt16BE(NBD_REPLY_FLAG_DONE, 4);
  out.writeUInt16BE(NBD_REPLY_TYPE_OFFSET_DATA, 6);
  out.writeBigUInt64BE(handle, 8);
  out.writeUInt32BE(8 + dataBytes, 16);
  out.writeBigUInt64BE(offset, 20);
  return out;
}

/** A final NBD_REPLY_TYPE_ERROR chunk: 32-bit error, 16-bit message length, message. */
export function encodeStructuredError(handle: bigint, error: number, message: string): Uint8Array {
  assert(error !== 0, 'error chunk needs a nonzero error');
  const messageBytes = encodeString(message);
  assert(messageBytes.byteLength <= errorMessageBytesMax);
  const out = new Uint8Array(structuredReplyHeaderBytes + 6 + messageBytes.byteLength);
  const v = view(out);
  writeStructuredHeader(v, {
    flags: NBD_REPLY_FLAG_DONE,
    type: NBD_REPLY_TYPE_ERROR,
    handle,
    length: 6 + messageBytes.byteLength,
  });
  v.setUint32(structuredReplyHeaderBytes, error);
  v.setUint16(structuredReplyHeaderBytes + 4, messageBytes.byteLength);
  out.set(messageBytes, structuredReplyHeaderBytes + 6);
  return out;
}

/** A final NBD_REPLY_TYPE_NONE chunk: success with no payload. */
export function encodeStructuredDone(handle: bigint): Uint8Array {
  return encodeStructuredReplyHeader({ flags: NBD_REPLY_FLAG_DONE, type: NBD_REPLY_TYPE_NONE, handle, length: 0 });
}

/** Payload of an error chunk: error, message length (<= payload - 6), message. */
export function decodeStructuredError(payload: Uint8Array): { error: number; message: string } {
  need(payload, 0, 6, 'error chunk');
  const v = view(payload);
  const messageLength = v.getUint16(4);
  if (messageLength > payload.byteLength - 6) {
    throw new NbdWireError('E_NBD_LENGTH', `error chunk: message length ${messageLength} exceeds payload - 6`);
  }
  return { error: v.getUint32(0), message: decodeString(payload.subarray(6, 6 + messageLength), 'error message') };
}
