// The disk node's protocol core: sessions, authorization and batch execution,
// with no I/O. A frame goes in, a signed reply frame comes out; the WebSocket
// shell (main.ts) and the in-process simulator both drive this same code.
//
// A batch runs only if (in this order) it parses, its Ed25519 signature by the
// manager key fixed at launch verifies, it is bound to this session's
// challenge, and its counter is above every counter this session accepted.
// Then every command is validated before any executes, so a batch either runs
// whole or changes nothing. Every reply is attested: the provider signs the
// digest of the whole reply, which echoes the request's nonce.
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import type { AttestationProvider, LaunchConfig } from '../attestation/provider.ts';
import * as limits from './limits.ts';
import { SectorStore } from './store.ts';
import {
  Op,
  Status,
  WireError,
  allocReply,
  batchSignatureDomain,
  challengeBytes,
  decodeRequest,
  encodeHello,
  peekRequestIds,
  replyHeaderBytes,
  signFrame,
  signatureBytes,
  statusPayloadBytes,
  type Command,
  type Request,
  type ResultSlot,
} from './wire.ts';

/** DER prefix that turns a raw 32-byte Ed25519 key into an SPKI structure (RFC 8410 §4). */
const ed25519SpkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error(`manager public key must be 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([ed25519SpkiPrefix, raw]), format: 'der', type: 'spki' });
}

export interface Session {
  readonly challenge: Buffer;
  lastCounter: bigint;
}

export class DiskNodeCore {
  readonly store: SectorStore;
  private readonly managerKey: KeyObject;
  private readonly bootMs = Date.now();
  private readonly attest: (digest: Buffer) => Uint8Array;
  readonly stats = { batchesExecuted: 0n, batchesRefused: 0n, bytesRead: 0n, bytesWritten: 0n };

  constructor(
    readonly config: LaunchConfig,
    private readonly provider: AttestationProvider,
  ) {
    this.managerKey = ed25519PublicKey(config.managerPublicKey);
    this.store = new SectorStore(config.sectorBytes, config.sectorCount);
    this.attest = (digest) => provider.sign(digest);
  }

  /** Starts a session: a fresh challenge and the HELLO frame that announces it. */
  openSession(): { session: Session; hello: Buffer } {
    const session = { challenge: randomBytes(challengeBytes), lastCounter: 0n };
    const hello = encodeHello(
      {
        frameBytesMax: limits.frameBytesMax,
        batchCommandsMax: limits.batchCommandsMax,
        inflightBatchesMax: limits.inflightBatchesMax,
        sectorBytes: this.store.sectorBytes,
        sectorCount: this.store.sectorCount,
        challenge: session.challenge,
        evidence: this.provider.evidence,
      },
      this.attest,
    );
    return { session, hello };
  }

  /** Handles one request frame and returns the attested reply frame. Never throws on bad input. */
  handle(session: Session, frame: Buffer): Buffer {
    let request: Request;
    try {
      request = decodeRequest(frame, this.store.sectorBytes);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      return this.refuse(peekRequestIds(frame), err.status, []);
    }
    const signed = Buffer.concat([batchSignatureDomain, request.digest]);
    if (!verify(null, signed, this.managerKey, request.signature)) return this.refuse(request, Status.signature, []);
    if (!request.session.equals(session.challenge)) return this.refuse(request, Status.session, []);
    if (request.counter <= session.lastCounter) return this.refuse(request, Status.replay, []);
    session.lastCounter = request.counter;

    const slots = this.validate(request.commands);
    const failed = slots.find((s) => s.status !== Status.ok);
    if (failed) {
      for (const s of slots) if (s.status === Status.ok) s.status = Status.notExecuted;
      for (const s of slots) s.payloadBytes = 0;
      return this.refuse(request, failed.status, slots);
    }
    const { frame: reply, offsets } = allocReply(request, Status.ok, slots);
    request.commands.forEach((c, i) => this.execute(c, reply, offsets[i]));
    this.stats.batchesExecuted++;
    return signFrame(reply, this.attest);
  }

  private refuse(ids: { counter: bigint; nonce: Uint8Array }, status: number, slots: ResultSlot[]): Buffer {
    this.stats.batchesRefused++;
    return signFrame(allocReply(ids, status, slots).frame, this.attest);
  }

  /** Checks every command against the store as it will be when the commands before it have run. */
  private validate(commands: Command[]): ResultSlot[] {
    const s = this.store;
    let replyBytes = replyHeaderBytes + signatureBytes;
    let deathVersion = s.deathVersion;
    return commands.map((c): ResultSlot => {
      let status: number = Status.ok;
      let payloadBytes = 0;
      if (c.op === Op.read || c.op === Op.write || c.op === Op.trim) {
        if (!s.inRange(c.sector, c.count)) status = Status.range;
        else if (c.op === Op.read) payloadBytes = c.count * s.sectorBytes;
      } else if (c.op === Op.copy) {
        if (!s.inRange(c.src, c.count) || !s.inRange(c.dst, c.count)) status = Status.range;
      } else if (c.op === Op.status) {
        payloadBytes = statusPayloadBytes;
      } else if (c.op === Op.deathRead) {
        payloadBytes = 12 + limits.deathRecordBytesMax;
      } else if (c.record.length > limits.deathRecordBytesMax) {
        status = Status.tooLarge;
      } else if (c.version <= deathVersion) {
        status = Status.deathVersion;
      } else {
        deathVersion = c.version;
      }
      replyBytes += 2 + payloadBytes;
      if (status === Status.ok && replyBytes > limits.frameBytesMax) status = Status.tooLarge;
      return { op: c.op, status, payloadBytes };
    });
  }

  private execute(c: Command, reply: Buffer, at: number): void {
    const s = this.store;
    switch (c.op) {
      case Op.read:
        for (const part of s.view(c.sector, c.count)) {
          reply.set(part, at);
          at += part.length;
        }
        this.stats.bytesRead += BigInt(c.count * s.sectorBytes);
        return;
      case Op.write:
        s.write(c.sector, c.data);
        this.stats.bytesWritten += BigInt(c.data.length);
        return;
      case Op.copy:
        return s.copy(c.src, c.dst, c.count);
      case Op.trim:
        return s.trim(c.sector, c.count);
      case Op.status:
        return this.writeStatus(reply, at);
      case Op.deathRead:
        reply.fill(0, at, at + 12 + limits.deathRecordBytesMax);
        reply.writeBigUInt64BE(s.deathVersion, at);
        reply.writeUInt32BE(s.deathRecord.length, at + 8);
        reply.set(s.deathRecord, at + 12);
        return;
      case Op.deathWrite:
        s.updateDeathRecord(c.version, c.record);
        return;
    }
  }

  private writeStatus(reply: Buffer, at: number): void {
    reply.set(this.provider.instanceId, at);
    reply.writeUInt32BE(this.store.sectorBytes, at + 16);
    reply.writeUInt32BE(this.store.sectorCount, at + 20);
    const values = [
      this.stats.batchesExecuted,
      this.stats.batchesRefused,
      this.stats.bytesRead,
      this.stats.bytesWritten,
      this.store.deathVersion,
      BigInt(Date.now() - this.bootMs),
    ];
    values.forEach((v, i) => reply.writeBigUInt64BE(v, at + 24 + 8 * i));
  }
}
