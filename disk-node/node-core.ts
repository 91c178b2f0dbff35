// The disk node's protocol core: sessions, authorization and batch execution,
// with no I/O. A frame goes in; a signed reply frame, or the reason to close
// the connection, comes out. The WebSocket shell (main.ts) and the in-process
// simulator both drive this same code.
//
// A batch runs only if (in this order) it parses, it names this session's
// challenge, its Ed25519 signature by the manager key fixed at launch
// verifies, its counter is above every counter this session accepted, and
// no newer session of the manager has run a batch (the fence). A frame that
// fails any of these gets no reply and costs no signature: the session is
// closed. Then every command is validated before any executes, so a batch
// either runs whole or changes nothing; that outcome is signed with the
// instance key over the reply, which carries the request's digest.
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { AttestationProvider, LaunchConfig } from '../attestation/provider.ts';
import * as limits from './limits.ts';
import { SectorStore } from './store.ts';
import * as wire from './wire.ts';
import { Op, Status, WireError, type Command, type Request, type ResultSlot } from './wire.ts';

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error(`manager public key must be 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

export interface Session {
  readonly challenge: Buffer;
  /** Order in which this node opened the session: a newer session's batch fences every older one. */
  readonly seq: bigint;
  lastCounter: bigint;
}

/** Why the node closes a session instead of answering: the frame was not an authentic, fresh batch for it. */
export type Refusal = { close: string };

export class DiskNodeCore {
  readonly store: SectorStore;
  /** Drawn at boot, never leaves this process: its public key is the instance's identity. */
  private readonly instanceKey: KeyObject;
  readonly instancePublicKey: Buffer;
  readonly instanceId: Buffer;
  private readonly managerKey: KeyObject;
  private readonly launch: Buffer;
  private readonly bootMs = Date.now();
  private sessions = 0n;
  /** Seq of the newest session that ran a batch that was not an observer's. */
  private fence = 0n;
  readonly stats = { batchesExecuted: 0n, batchesRefused: 0n, bytesRead: 0n, bytesWritten: 0n };

  constructor(
    readonly config: LaunchConfig,
    private readonly provider: AttestationProvider,
  ) {
    this.managerKey = ed25519PublicKey(config.managerPublicKey);
    this.store = new SectorStore(config.sectorBytes, config.sectorCount);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    this.instanceKey = privateKey;
    this.instancePublicKey = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    this.instanceId = wire.instanceIdOf(this.instancePublicKey);
    this.launch = wire.encodeLaunch(config);
  }

  /** Starts a session: a fresh challenge and the HELLO frame that announces it. */
  openSession(): { session: Session; hello: Buffer } {
    const session = { challenge: randomBytes(wire.challengeBytes), seq: ++this.sessions, lastCounter: 0n };
    const sizes = [limits.frameBytesMax, limits.batchCommandsMax, limits.inflightBatchesMax, this.store.sectorBytes, this.store.sectorCount];
    const hello = wire.encodeHello(sizes, session.challenge, session.seq, this.instancePublicKey);
    return { session, hello };
  }

  /** Handles one request frame: the signed reply, or why to close the session. Never throws on bad input. */
  handle(session: Session, frame: Buffer): Buffer | Refusal {
    let request: Request;
    try {
      if (session.lastCounter === 0n && frame.length > limits.preAuthFrameBytesMax) throw new WireError(Status.tooLarge, 'first frame too large');
      request = wire.decodeRequest(frame, this.store.sectorBytes);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      return this.refuse(err.status);
    }
    if (!request.session.equals(session.challenge)) return this.refuse(Status.session);
    const digest = request.digest;
    if (!verify(null, Buffer.concat([wire.batchDomain, digest]), this.managerKey, request.signature)) return this.refuse(Status.signature);
    if (request.counter <= session.lastCounter) return this.refuse(Status.replay);
    session.lastCounter = request.counter;
    const observer = (request.flags & wire.flagObserve) !== 0;
    if (!observer && session.seq < this.fence) return this.refuse(Status.fenced);
    if (!observer) this.fence = session.seq;

    const ids = { counter: request.counter, digest };
    const slots = this.validate(request, observer);
    const failed = slots.find((s) => s.status !== Status.ok);
    if (failed) {
      this.stats.batchesRefused++;
      for (const s of slots) (s.payloadBytes = 0), s.status === Status.ok && (s.status = Status.notExecuted);
      return this.sign(wire.allocReply(ids, failed.status, slots).frame);
    }
    const { frame: reply, offsets } = wire.allocReply(ids, Status.ok, slots);
    request.commands.forEach((c, i) => this.execute(c, reply, offsets[i], slots[i]));
    this.stats.batchesExecuted++;
    return this.sign(reply);
  }

  private refuse(status: number): Refusal {
    return this.stats.batchesRefused++, { close: wire.statusCodes[status] };
  }

  /** Signs a reply with the instance key over the digest of everything before the signature. */
  private sign(frame: Buffer): Buffer {
    const end = frame.length - wire.signatureBytes;
    frame.set(sign(null, Buffer.concat([wire.replyDomain, wire.sha256(frame.subarray(0, end))]), this.instanceKey), end);
    return frame;
  }

  /** Checks every command against the store as it will be when the commands before it have run. */
  private validate(request: Request, observer: boolean): (ResultSlot & { evidence?: Uint8Array })[] {
    const s = this.store;
    let replyBytes = wire.replyHeaderBytes + wire.signatureBytes;
    let workBytes = 0;
    let deathVersion = s.deathVersion;
    return request.commands.map((c) => {
      let status: number = Status.ok;
      let payloadBytes = 0;
      let evidence: Uint8Array | undefined;
      if (observer && !wire.readOnlyOps.has(c.op)) {
        status = Status.readOnly;
      } else if (c.op === Op.read || c.op === Op.write || c.op === Op.trim) {
        if (!s.inRange(c.sector, c.count)) status = Status.range;
        else if (c.op === Op.read) payloadBytes = c.count * s.sectorBytes;
        else if (c.op === Op.trim) workBytes += c.count * s.sectorBytes;
      } else if (c.op === Op.copy) {
        if (!s.inRange(c.src, c.count) || !s.inRange(c.dst, c.count)) status = Status.range;
        else workBytes += c.count * s.sectorBytes;
      } else if (c.op === Op.status) {
        payloadBytes = wire.statusPayloadBytes;
      } else if (c.op === Op.deathRead) {
        payloadBytes = 12 + limits.deathRecordBytesMax;
      } else if (c.op === Op.attest) {
        // The platform's report over this session, the manager's fresh nonce, the instance key and the launch config.
        evidence = this.provider.report(wire.sessionReportData(request.session, request.nonce, this.instancePublicKey, this.launch));
        if (evidence.length > limits.evidenceBytesMax) status = Status.tooLarge;
        payloadBytes = 4 + evidence.length;
      } else if (c.record.length > limits.deathRecordBytesMax) {
        status = Status.tooLarge;
      } else if (c.version <= deathVersion) {
        status = Status.deathVersion;
      } else {
        deathVersion = c.version;
      }
      replyBytes += 2 + payloadBytes;
      if (status === Status.ok && (replyBytes > limits.frameBytesMax || workBytes > limits.batchWorkBytesMax)) status = Status.tooLarge;
      return { op: c.op, status, payloadBytes, evidence };
    });
  }

  private execute(c: Command, reply: Buffer, at: number, slot: { evidence?: Uint8Array }): void {
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
      case Op.attest:
        reply.writeUInt32BE(slot.evidence!.length, at);
        reply.set(slot.evidence!, at + 4);
        return;
    }
  }

  private writeStatus(reply: Buffer, at: number): void {
    reply.set(this.instanceId, at);
    reply.writeUInt32BE(this.store.sectorBytes, at + 16);
    reply.writeUInt32BE(this.store.sectorCount, at + 20);
    const { batchesExecuted, batchesRefused, bytesRead, bytesWritten } = this.stats;
    [batchesExecuted, batchesRefused, bytesRead, bytesWritten, this.store.deathVersion, BigInt(Date.now() - this.bootMs)].forEach((v, i) => reply.writeBigUInt64BE(v, at + 24 + 8 * i));
  }
}
