// Frame layouts of the disk-node protocol (docs/PROTOCOL.md): decoding of
// request batches and encoding of HELLO and reply frames. All integers are
// big-endian. The decoder trusts nothing: every length is checked against the
// frame and the limits before any byte is read, and a bad frame becomes a
// WireError carrying the status code the reply will report.
import { createHash } from 'node:crypto';
import { batchCommandsMax, protocolVersion } from './limits.ts';

export const FrameType = { hello: 1, request: 2, reply: 3 } as const;

export const Op = { read: 1, write: 2, copy: 3, trim: 4, status: 5, deathRead: 6, deathWrite: 7 } as const;

export const Status = {
  ok: 0,
  frame: 1,
  version: 2,
  session: 3,
  replay: 4,
  signature: 5,
  tooLarge: 6,
  range: 7,
  deathVersion: 8,
  notExecuted: 9,
} as const;

/** Stable error codes for each status, as clients report them. */
export const statusCodes: readonly string[] = [
  'OK',
  'E_FRAME',
  'E_VERSION',
  'E_SESSION',
  'E_REPLAY',
  'E_SIGNATURE',
  'E_TOO_LARGE',
  'E_RANGE',
  'E_DEATH_VERSION',
  'E_NOT_EXECUTED',
];

export const requestHeaderBytes = 80;
export const replyHeaderBytes = 48;
export const helloHeaderBytes = 60;
export const signatureBytes = 64;
export const challengeBytes = 32;
export const nonceBytes = 32;
/** Byte size of a STATUS result payload. */
export const statusPayloadBytes = 16 + 4 + 4 + 8 * 6;
/** Domain label the manager signs in front of a request digest. */
export const batchSignatureDomain = Buffer.from('teearray/batch/v1');

export type Command =
  | { op: typeof Op.read; sector: number; count: number }
  | { op: typeof Op.write; sector: number; count: number; data: Buffer }
  | { op: typeof Op.copy; src: number; dst: number; count: number }
  | { op: typeof Op.trim; sector: number; count: number }
  | { op: typeof Op.status }
  | { op: typeof Op.deathRead }
  | { op: typeof Op.deathWrite; version: bigint; record: Buffer };

export interface Request {
  counter: bigint;
  session: Buffer;
  nonce: Buffer;
  commands: Command[];
  /** SHA-256 of every byte before the signature: what the manager signed. */
  digest: Buffer;
  signature: Buffer;
}

export class WireError extends Error {
  readonly code: string;
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(`${statusCodes[status]}: ${message}`);
    this.code = statusCodes[status];
  }
}

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Reads the counter and nonce of a frame that may be otherwise invalid, so a refusal can echo them. */
export function peekRequestIds(frame: Buffer): { counter: bigint; nonce: Buffer } {
  if (frame.length < requestHeaderBytes) return { counter: 0n, nonce: Buffer.alloc(nonceBytes) };
  return { counter: frame.readBigUInt64BE(8), nonce: frame.subarray(48, 80) };
}

export function decodeRequest(frame: Buffer, sectorBytes: number): Request {
  if (frame.length < requestHeaderBytes + signatureBytes) throw new WireError(Status.frame, 'frame shorter than header');
  if (frame[0] !== protocolVersion || frame[1] !== FrameType.request) {
    throw new WireError(Status.version, `version ${frame[0]} type ${frame[1]} not accepted`);
  }
  const count = frame.readUInt16BE(2);
  if (count > batchCommandsMax) throw new WireError(Status.tooLarge, `${count} commands > ${batchCommandsMax}`);
  const end = frame.length - signatureBytes;
  const commands: Command[] = [];
  let at = requestHeaderBytes;
  const need = (n: number): number => {
    if (at + n > end) throw new WireError(Status.frame, `command ${commands.length} truncated`);
    const start = at;
    at += n;
    return start;
  };
  for (let i = 0; i < count; i++) {
    const op = frame[need(1)];
    if (op === Op.read || op === Op.trim) {
      const p = need(8);
      commands.push({ op, sector: frame.readUInt32BE(p), count: frame.readUInt32BE(p + 4) });
    } else if (op === Op.write) {
      const p = need(8);
      const n = frame.readUInt32BE(p + 4);
      const data = frame.subarray(need(n * sectorBytes), at);
      commands.push({ op, sector: frame.readUInt32BE(p), count: n, data });
    } else if (op === Op.copy) {
      const p = need(12);
      commands.push({ op, src: frame.readUInt32BE(p), dst: frame.readUInt32BE(p + 4), count: frame.readUInt32BE(p + 8) });
    } else if (op === Op.status || op === Op.deathRead) {
      commands.push({ op });
    } else if (op === Op.deathWrite) {
      const p = need(12);
      const record = frame.subarray(need(frame.readUInt32BE(p + 8)), at);
      commands.push({ op, version: frame.readBigUInt64BE(p), record });
    } else {
      throw new WireError(Status.frame, `command ${i} has unknown op ${op}`);
    }
  }
  if (at !== end) throw new WireError(Status.frame, `${end - at} trailing bytes before signature`);
  return {
    counter: frame.readBigUInt64BE(8),
    session: frame.subarray(16, 48),
    nonce: frame.subarray(48, 80),
    commands,
    digest: sha256(frame.subarray(0, end)),
    signature: frame.subarray(end),
  };
}

/** One command's outcome and how many payload bytes it returns. */
export interface ResultSlot {
  op: number;
  status: number;
  payloadBytes: number;
}

/**
 * Lays out a reply frame and returns it with the offset of each result's
 * payload, so the caller writes read data straight into the frame (one copy)
 * in command order before calling signFrame.
 */
export function allocReply(
  ids: { counter: bigint; nonce: Uint8Array },
  batchStatus: number,
  results: ResultSlot[],
): { frame: Buffer; offsets: number[] } {
  let size = replyHeaderBytes + signatureBytes;
  for (const r of results) size += 2 + r.payloadBytes;
  const frame = Buffer.allocUnsafe(size);
  frame[0] = protocolVersion;
  frame[1] = FrameType.reply;
  frame.writeUInt16BE(results.length, 2);
  frame.writeUInt16BE(batchStatus, 4);
  frame.writeUInt16BE(0, 6);
  frame.writeBigUInt64BE(ids.counter, 8);
  frame.set(ids.nonce, 16);
  const offsets: number[] = [];
  let at = replyHeaderBytes;
  for (const r of results) {
    frame[at] = r.op;
    frame[at + 1] = r.status;
    offsets.push(at + 2);
    at += 2 + r.payloadBytes;
  }
  return { frame, offsets };
}

/** Fills a frame's last 64 bytes with the attestation over the digest of the rest. */
export function signFrame(frame: Buffer, attest: (digest: Buffer) => Uint8Array): Buffer {
  const end = frame.length - signatureBytes;
  frame.set(attest(sha256(frame.subarray(0, end))), end);
  return frame;
}

export interface HelloFields {
  frameBytesMax: number;
  batchCommandsMax: number;
  inflightBatchesMax: number;
  sectorBytes: number;
  sectorCount: number;
  challenge: Uint8Array;
  evidence: Uint8Array;
}

/** Builds the HELLO frame a node sends first on every session. */
export function encodeHello(f: HelloFields, attest: (digest: Buffer) => Uint8Array): Buffer {
  const end = helloHeaderBytes + f.evidence.length;
  const frame = Buffer.alloc(end + signatureBytes);
  frame[0] = protocolVersion;
  frame[1] = FrameType.hello;
  frame.writeUInt32BE(f.frameBytesMax, 4);
  frame.writeUInt32BE(f.batchCommandsMax, 8);
  frame.writeUInt32BE(f.inflightBatchesMax, 12);
  frame.writeUInt32BE(f.sectorBytes, 16);
  frame.writeUInt32BE(f.sectorCount, 20);
  frame.set(f.challenge, 24);
  frame.writeUInt32BE(f.evidence.length, 56);
  frame.set(f.evidence, helloHeaderBytes);
  return signFrame(frame, attest);
}
