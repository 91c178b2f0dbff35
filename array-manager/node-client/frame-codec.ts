// The manager's half of the disk-node frame codec (docs/PROTOCOL.md): it
// encodes request batches and decodes HELLO and reply frames. The layouts and
// codes are the disk node's own (disk-node/wire.ts), imported so the two sides
// cannot drift. Replies come from the network, so decoding checks every length
// against the request it answers and refuses anything else with E_FRAME.
import { createHash } from 'node:crypto';
import {
  FrameType,
  Op,
  Status,
  type Command,
  challengeBytes,
  helloBytes,
  mac,
  macBytes,
  openDomain,
  openHeaderBytes,
  readOnlyOps,
  replyHeaderBytes,
  requestHeaderBytes,
  sha256,
  signatureBytes,
  statusCodes,
  statusPayloadBytes,
} from '../../disk-node/wire.ts';
import { deathRecordBytesMax, evidenceBytesMax, protocolVersion } from '../../disk-node/limits.ts';

export { Op, Status, readOnlyOps, type Command };

/** A WRITE whose data comes in pieces, copied straight into the frame without concatenating them first. */
export interface WritePieces {
  op: typeof Op.write;
  sector: number;
  count: number;
  pieces: Uint8Array[];
  /** SHA-256 of the pieces in order, when the caller has it already (a journal header carries it): the batch digest then reuses it. */
  digest?: Buffer;
}

/** What the manager may send: any command, or a WRITE in pieces. */
export type OutgoingCommand = Command | WritePieces;

function writeBytes(c: Extract<OutgoingCommand, { op: typeof Op.write }>): number {
  return 'pieces' in c ? c.pieces.reduce((n, p) => n + p.length, 0) : c.data.length;
}

export class NodeError extends Error {
  constructor(
    readonly code: string,
    /** The message without its code. */
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

/**
 * A session that closed while opening, after the node's HELLO arrived
 * (E_CLOSED), with the instance id that HELLO announced. The node answered;
 * the connection was broken, so NodeHandle does not count it as an outage. A
 * node that goes silent after its HELLO (E_TIMEOUT) gets no such error: a hung
 * node is unreachable for the death window like one that does not answer.
 */
export class ClosedAfterHello extends NodeError {
  constructor(
    closed: NodeError,
    readonly instanceId: Buffer,
  ) {
    super(closed.code, closed.detail);
  }
}

export interface RequestIds {
  /** Request flags (flagObserve). */
  flags: number;
  counter: bigint;
  /** The session's open frame only: the HELLO challenge and the manager's X25519 public key for the session. */
  opening?: { session: Uint8Array; sessionKey: Uint8Array };
}

/** How a request is authenticated: the open frame by the manager key's signature, every later one by the session's request key. */
export type RequestAuth = { sign: (message: Buffer) => Uint8Array } | { key: Uint8Array };

function commandBytes(c: OutgoingCommand): number {
  switch (c.op) {
    case Op.read:
    case Op.trim:
      return 9;
    case Op.write:
      return 9 + writeBytes(c);
    case Op.copy:
      return 13;
    case Op.status:
    case Op.deathRead:
    case Op.attest:
      return 1;
    case Op.deathWrite:
      return 13 + c.record.length;
  }
}

/** The SHA-256 of a WRITE's data, reusing the caller's digest of its pieces when given. */
function dataDigest(c: Extract<OutgoingCommand, { op: typeof Op.write }>): Buffer {
  if (!('pieces' in c)) return sha256(c.data);
  return c.digest ?? sha256(...c.pieces);
}

/**
 * Encodes a request batch (an open frame when `ids.opening` is given) and
 * authenticates its batch digest (docs/PROTOCOL.md: the header, each
 * command's fixed fields, and the SHA-256 of each data part): an open frame
 * with the manager key's signature, a later one with the session's MAC.
 * Returns the frame, in a buffer from `alloc`, and the digest, which the
 * node's reply must echo.
 */
export function encodeRequest(
  ids: RequestIds,
  commands: OutgoingCommand[],
  auth: RequestAuth,
  alloc: (size: number) => Buffer = Buffer.allocUnsafe,
): { frame: Buffer; digest: Buffer } {
  const [headerBytes, authBytes] = ids.opening ? [openHeaderBytes, signatureBytes] : [requestHeaderBytes, macBytes];
  let size = headerBytes + authBytes;
  for (const c of commands) size += commandBytes(c);
  const frame = alloc(size);
  frame[0] = protocolVersion;
  frame[1] = ids.opening ? FrameType.open : FrameType.request;
  frame.writeUInt16BE(commands.length, 2);
  frame.writeUInt16BE(ids.flags, 4);
  frame.writeUInt16BE(0, 6);
  frame.writeBigUInt64BE(ids.counter, 8);
  if (ids.opening) {
    frame.set(ids.opening.session, 16);
    frame.set(ids.opening.sessionKey, 48);
  }
  const digest = createHash('sha256').update(frame.subarray(0, headerBytes));
  let at = headerBytes;
  for (const c of commands) {
    const start = at;
    frame[at++] = c.op;
    if (c.op === Op.read || c.op === Op.trim || c.op === Op.write) {
      at = frame.writeUInt32BE(c.sector, at);
      at = frame.writeUInt32BE(c.count, at);
    } else if (c.op === Op.copy) {
      at = frame.writeUInt32BE(c.src, at);
      at = frame.writeUInt32BE(c.dst, at);
      at = frame.writeUInt32BE(c.count, at);
    } else if (c.op === Op.deathWrite) {
      at = frame.writeBigUInt64BE(c.version, at);
      at = frame.writeUInt32BE(c.record.length, at);
    }
    digest.update(frame.subarray(start, at));
    if (c.op === Op.write) {
      if ('pieces' in c) for (const p of c.pieces) (frame.set(p, at), (at += p.length));
      else at += c.data.copy(frame, at);
      digest.update(dataDigest(c));
    } else if (c.op === Op.deathWrite) {
      at += c.record.copy(frame, at);
      digest.update(sha256(c.record));
    }
  }
  const batchDigest = digest.digest();
  const tag = 'sign' in auth ? auth.sign(Buffer.concat([openDomain, batchDigest])) : mac(auth.key, batchDigest);
  frame.set(tag, frame.length - authBytes);
  return { frame, digest: batchDigest };
}

export interface Hello {
  frameBytesMax: number;
  batchCommandsMax: number;
  inflightBatchesMax: number;
  sectorBytes: number;
  sectorCount: number;
  challenge: Buffer;
  /** The node's order of this session: a newer session's batch fences older ones. */
  sessionSeq: bigint;
  /** The node's X25519 instance key, drawn at its boot: the session's MAC keys come from it, and the session's ATTEST evidence binds it. */
  instancePublicKey: Buffer;
}

export function decodeHello(frame: Buffer): Hello {
  if (frame.length >= 2 && (frame[0] !== protocolVersion || frame[1] !== FrameType.hello)) {
    throw new NodeError('E_VERSION', `expected HELLO v${protocolVersion}, got version ${frame[0]} type ${frame[1]}`);
  }
  if (frame.length !== helloBytes) throw new NodeError('E_FRAME', `HELLO of ${frame.length} bytes, expected ${helloBytes}`);
  return {
    frameBytesMax: frame.readUInt32BE(4),
    batchCommandsMax: frame.readUInt32BE(8),
    inflightBatchesMax: frame.readUInt32BE(12),
    sectorBytes: frame.readUInt32BE(16),
    sectorCount: frame.readUInt32BE(20),
    challenge: frame.subarray(24, 24 + challengeBytes),
    sessionSeq: frame.readBigUInt64BE(56),
    instancePublicKey: frame.subarray(64, 96),
  };
}

export interface NodeStatus {
  instanceId: Buffer;
  sectorBytes: number;
  sectorCount: number;
  batchesExecuted: bigint;
  batchesRefused: bigint;
  bytesRead: bigint;
  bytesWritten: bigint;
  deathVersion: bigint;
  uptimeMs: bigint;
}

export type CommandResult =
  | { op: typeof Op.read; data: Buffer }
  | { op: typeof Op.status; status: NodeStatus }
  | { op: typeof Op.deathRead; version: bigint; record: Buffer }
  | { op: typeof Op.attest; evidence: Buffer }
  | { op: typeof Op.write | typeof Op.copy | typeof Op.trim | typeof Op.deathWrite };

export interface Reply {
  counter: bigint;
  /** The batch digest of the request this reply answers. */
  requestDigest: Buffer;
  /** Status of the batch: OK, or the reason nothing in it ran. */
  batchStatus: number;
  /** Per-command status codes (empty when the batch was refused before parsing). */
  statuses: number[];
  results: CommandResult[];
  /** The bytes the reply's MAC covers, and the MAC. */
  authenticated: Buffer;
  mac: Buffer;
}

/** Payload bytes of a command's result; an ATTEST result says its own length in its first 4 bytes (`at` points there). */
function payloadBytes(c: OutgoingCommand, sectorBytes: number, frame: Buffer, at: number, end: number): number {
  if (c.op === Op.attest) {
    const n = at + 4 <= end ? frame.readUInt32BE(at) : 0;
    if (n > evidenceBytesMax) throw new NodeError('E_FRAME', `evidence of ${n} bytes > ${evidenceBytesMax}`);
    return 4 + n;
  }
  if (c.op === Op.read) return c.count * sectorBytes;
  if (c.op === Op.status) return statusPayloadBytes;
  if (c.op === Op.deathRead) return 12 + deathRecordBytesMax;
  return 0;
}

function decodeStatus(p: Buffer): NodeStatus {
  const u64 = (i: number): bigint => p.readBigUInt64BE(24 + 8 * i);
  return {
    instanceId: p.subarray(0, 16),
    sectorBytes: p.readUInt32BE(16),
    sectorCount: p.readUInt32BE(20),
    batchesExecuted: u64(0),
    batchesRefused: u64(1),
    bytesRead: u64(2),
    bytesWritten: u64(3),
    deathVersion: u64(4),
    uptimeMs: u64(5),
  };
}

function decodeResult(c: OutgoingCommand, p: Buffer): CommandResult {
  if (c.op === Op.read) return { op: c.op, data: p };
  if (c.op === Op.status) return { op: c.op, status: decodeStatus(p) };
  if (c.op === Op.deathRead) {
    const length = p.readUInt32BE(8);
    if (length > deathRecordBytesMax) throw new NodeError('E_FRAME', `death record length ${length} too large`);
    return { op: c.op, version: p.readBigUInt64BE(0), record: p.subarray(12, 12 + length) };
  }
  if (c.op === Op.attest) return { op: c.op, evidence: p.subarray(4) };
  return { op: c.op };
}

/** Decodes a reply to `commands`; any layout that does not match them is E_FRAME. */
export function decodeReply(frame: Buffer, commands: OutgoingCommand[], sectorBytes: number): Reply {
  if (frame.length < replyHeaderBytes + macBytes) throw new NodeError('E_FRAME', 'reply shorter than header');
  if (frame[0] !== protocolVersion || frame[1] !== FrameType.reply) {
    throw new NodeError('E_VERSION', `expected reply v${protocolVersion}, got version ${frame[0]} type ${frame[1]}`);
  }
  const count = frame.readUInt16BE(2);
  const batchStatus = frame.readUInt16BE(4);
  if (batchStatus >= statusCodes.length) throw new NodeError('E_FRAME', `unknown batch status ${batchStatus}`);
  if (count !== 0 && count !== commands.length) throw new NodeError('E_FRAME', `reply has ${count} results for ${commands.length} commands`);
  const end = frame.length - macBytes;
  const statuses: number[] = [];
  const results: CommandResult[] = [];
  let at = replyHeaderBytes;
  for (let i = 0; i < count; i++) {
    if (at + 2 > end) throw new NodeError('E_FRAME', `result ${i} truncated`);
    const [op, status] = [frame[at], frame[at + 1]];
    if (op !== commands[i].op || status >= statusCodes.length) throw new NodeError('E_FRAME', `result ${i} does not answer its command`);
    at += 2;
    statuses.push(status);
    if (batchStatus !== Status.ok) continue;
    const n = payloadBytes(commands[i], sectorBytes, frame, at, end);
    if (at + n > end) throw new NodeError('E_FRAME', `result ${i} payload truncated`);
    results.push(decodeResult(commands[i], frame.subarray(at, at + n)));
    at += n;
  }
  if (at !== end) throw new NodeError('E_FRAME', `${end - at} unexpected bytes in reply`);
  return {
    counter: frame.readBigUInt64BE(8),
    requestDigest: frame.subarray(16, 48),
    batchStatus,
    statuses,
    results,
    authenticated: frame.subarray(0, end),
    mac: frame.subarray(end),
  };
}
