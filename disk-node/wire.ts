// Frame layouts of the disk-node protocol, version 3 (docs/PROTOCOL.md), all
// integers big-endian. The decoder checks every length against the frame and
// the limits before reading; a bad frame is a WireError whose status closes
// the session.
import { createHash, createHmac, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';
import { batchCommandsMax, protocolVersion } from './limits.ts';

/** A session's first request is an `open` frame, signed by the manager key; every later one a `request` frame under the session's MAC key. */
export const FrameType = { hello: 1, open: 2, reply: 3, request: 4 } as const;

export const Op = { read: 1, write: 2, copy: 3, trim: 4, status: 5, deathRead: 6, deathWrite: 7, attest: 8 } as const;

/** Ops that change nothing: the only ones an observer batch may hold. */
export const readOnlyOps: ReadonlySet<number> = new Set([Op.read, Op.status, Op.deathRead, Op.attest]);

/** Request flag: an observer batch neither raises the session fence nor is stopped by it. */
export const flagObserve = 1;

export const Status = { ok: 0, frame: 1, version: 2, session: 3, replay: 4, signature: 5, tooLarge: 6, range: 7, deathVersion: 8, notExecuted: 9, fenced: 10, readOnly: 11 } as const;

/** Stable error codes for each status, as clients report them. */
export const statusCodes: readonly string[] = ['OK', 'E_FRAME', 'E_VERSION', 'E_SESSION', 'E_REPLAY', 'E_SIGNATURE', 'E_TOO_LARGE', 'E_RANGE', 'E_DEATH_VERSION', 'E_NOT_EXECUTED', 'E_FENCED', 'E_READ_ONLY'];

export const openHeaderBytes = 80;
export const requestHeaderBytes = 16;
export const replyHeaderBytes = 48;
export const helloBytes = 96;
export const signatureBytes = 64;
export const macBytes = 32;
export const challengeBytes = 32;
/** Byte size of a STATUS result payload. */
export const statusPayloadBytes = 16 + 4 + 4 + 8 * 6;
/** Domain labels: what the manager signs before an open frame's digest, the session key derivation, the platform report over a session. */
export const openDomain = Buffer.from('teearray/open/v3');
export const keysDomain = Buffer.from('teearray/keys/v3');
export const sessionDomain = Buffer.from('teearray/session/v3');

export type Command =
  | { op: typeof Op.read; sector: number; count: number }
  | { op: typeof Op.write; sector: number; count: number; data: Buffer }
  | { op: typeof Op.copy; src: number; dst: number; count: number }
  | { op: typeof Op.trim; sector: number; count: number }
  | { op: typeof Op.status }
  | { op: typeof Op.deathRead }
  | { op: typeof Op.deathWrite; version: bigint; record: Buffer }
  | { op: typeof Op.attest };

export interface Request {
  flags: number;
  counter: bigint;
  /** Open frames only: the HELLO challenge, and the manager's fresh X25519 public key for this session. */
  opening?: { session: Buffer; sessionKey: Buffer };
  commands: Command[];
  /** Over `digest` (header, command fields, each data part's SHA-256): the manager's signature (open frame) or the session MAC. */
  auth: Buffer;
  digest: Buffer;
}

export class WireError extends Error {
  constructor(readonly status: number, message: string) {
    super(`${statusCodes[status]}: ${message}`);
  }
}

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** What names a session: the node's challenge and instance key (HELLO), the manager's session key (open frame). */
export type SessionIds = { challenge: Uint8Array; managerSessionKey: Uint8Array; instancePublicKey: Uint8Array };

/** HMAC-SHA-256: how a session authenticates its requests' digests and its replies. */
export const mac = (key: Uint8Array, data: Uint8Array): Buffer => createHmac('sha256', key).update(data).digest();

/** A raw 32-byte Ed25519 or X25519 public key as a KeyObject. */
export function rawPublicKey(crv: 'Ed25519' | 'X25519', raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error(`${crv} public key must be 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv, x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

// A session's MAC keys, one per direction so neither side's frames can be
// reflected as the other's: HKDF over the X25519 secret of `own` and `peer`
// (instance key, manager's session key), salted with the challenge.
export function sessionKeys(own: KeyObject, peer: Uint8Array, ids: SessionIds): { request: Buffer; reply: Buffer } {
  let secret: Buffer;
  try {
    secret = diffieHellman({ privateKey: own, publicKey: rawPublicKey('X25519', peer) });
  } catch {
    throw new WireError(Status.frame, 'session key is not a valid X25519 key');
  }
  const okm = Buffer.from(hkdfSync('sha256', secret, ids.challenge, Buffer.concat([keysDomain, ids.managerSessionKey, ids.instancePublicKey]), 64));
  return { request: okm.subarray(0, 32), reply: okm.subarray(32) };
}

/** The 16-byte instance id: derived from the instance key, so an id cannot be claimed without the key. */
export function instanceIdOf(instancePublicKey: Uint8Array): Buffer {
  return sha256(instancePublicKey).subarray(0, 16);
}

/** The 40 launch-config bytes bound into every session report: manager key, sector bytes, sector count. */
export function encodeLaunch(c: { managerPublicKey: Uint8Array; sectorBytes: number; sectorCount: number }): Buffer {
  const b = Buffer.alloc(40);
  b.set(c.managerPublicKey, 0);
  b.writeUInt32BE(c.sectorBytes, 32);
  b.writeUInt32BE(c.sectorCount, 36);
  return b;
}

/** Report data of a session's ATTEST: binds the session, the manager's fresh session key, the instance key and the launch config. */
export function sessionReportData(ids: SessionIds, launch: Uint8Array): Buffer {
  return sha256(sessionDomain, ids.challenge, ids.managerSessionKey, ids.instancePublicKey, launch);
}

// Parses a session's open frame (`opening`) or a later request frame and
// computes its batch digest: the header, each command's fixed fields as on
// the wire, and for a WRITE or DEATH_WRITE the SHA-256 of its data, so a
// sender that already knows a payload's digest never hashes the payload twice.
export function decodeRequest(frame: Buffer, sectorBytes: number, opening: boolean): Request {
  const [type, headerBytes, authBytes] = opening ? [FrameType.open, openHeaderBytes, signatureBytes] : [FrameType.request, requestHeaderBytes, macBytes];
  if (frame.length < headerBytes + authBytes) throw new WireError(Status.frame, 'frame shorter than header');
  if (frame[0] !== protocolVersion || frame[1] !== type) {
    throw new WireError(Status.version, `version ${frame[0]} type ${frame[1]} not accepted, expected type ${type}`);
  }
  const count = frame.readUInt16BE(2);
  if (count > batchCommandsMax) throw new WireError(Status.tooLarge, `${count} commands > ${batchCommandsMax}`);
  const end = frame.length - authBytes;
  const commands: Command[] = [];
  const digest = createHash('sha256').update(frame.subarray(0, headerBytes));
  let at = headerBytes;
  const need = (n: number): number => {
    if (at + n > end) throw new WireError(Status.frame, `command ${commands.length} truncated`);
    const start = at;
    at += n;
    return start;
  };
  /** The data part of the command that started at `start`: its fixed fields, then the data's own digest, go into the batch digest. */
  const data = (start: number, n: number): Buffer => {
    digest.update(frame.subarray(start, at));
    const bytes = frame.subarray(need(n), at);
    digest.update(sha256(bytes));
    return bytes;
  };
  for (let i = 0; i < count; i++) {
    const start = need(1);
    const op = frame[start];
    if (op === Op.read || op === Op.trim) {
      const p = need(8);
      commands.push({ op, sector: frame.readUInt32BE(p), count: frame.readUInt32BE(p + 4) });
    } else if (op === Op.write) {
      const p = need(8);
      const n = frame.readUInt32BE(p + 4);
      commands.push({ op, sector: frame.readUInt32BE(p), count: n, data: data(start, n * sectorBytes) });
      continue;
    } else if (op === Op.copy) {
      const p = need(12);
      commands.push({ op, src: frame.readUInt32BE(p), dst: frame.readUInt32BE(p + 4), count: frame.readUInt32BE(p + 8) });
    } else if (op === Op.status || op === Op.deathRead || op === Op.attest) {
      commands.push({ op });
    } else if (op === Op.deathWrite) {
      const p = need(12);
      commands.push({ op, version: frame.readBigUInt64BE(p), record: data(start, frame.readUInt32BE(p + 8)) });
      continue;
    } else {
      throw new WireError(Status.frame, `command ${i} has unknown op ${op}`);
    }
    digest.update(frame.subarray(start, at));
  }
  if (at !== end) throw new WireError(Status.frame, `${end - at} trailing bytes before the ${opening ? 'signature' : 'MAC'}`);
  const opened = opening ? { session: frame.subarray(16, 48), sessionKey: frame.subarray(48, 80) } : undefined;
  return { flags: frame.readUInt16BE(4), counter: frame.readBigUInt64BE(8), opening: opened, commands, auth: frame.subarray(end), digest: digest.digest() };
}

/** One command's outcome and how many payload bytes it returns. */
export type ResultSlot = { op: number; status: number; payloadBytes: number };

// Lays out a reply frame with the offset of each result's payload, so read
// data goes straight into the frame (one copy) before it is MACed.
export function allocReply(ids: { counter: bigint; digest: Uint8Array }, batchStatus: number, results: ResultSlot[]): { frame: Buffer; offsets: number[] } {
  let size = replyHeaderBytes + macBytes;
  for (const r of results) size += 2 + r.payloadBytes;
  const frame = Buffer.allocUnsafe(size);
  frame[0] = protocolVersion;
  frame[1] = FrameType.reply;
  frame.writeUInt16BE(results.length, 2);
  frame.writeUInt16BE(batchStatus, 4);
  frame.writeUInt16BE(0, 6);
  frame.writeBigUInt64BE(ids.counter, 8);
  frame.set(ids.digest, 16);
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

// The HELLO frame a node sends first on every connection: `sizes` are
// frameBytesMax, batchCommandsMax, inflightBatchesMax, sector bytes and sector
// count. Unsigned, so a stranger's connection costs no signature; the session's
// ATTEST binds the (X25519) instance key in it.
export function encodeHello(sizes: number[], challenge: Uint8Array, sessionSeq: bigint, instancePublicKey: Uint8Array): Buffer {
  const frame = Buffer.alloc(helloBytes);
  frame[0] = protocolVersion;
  frame[1] = FrameType.hello;
  sizes.forEach((v, i) => frame.writeUInt32BE(v, 4 + 4 * i));
  frame.set(challenge, 24);
  frame.writeBigUInt64BE(sessionSeq, 56);
  frame.set(instancePublicKey, 64);
  return frame;
}
