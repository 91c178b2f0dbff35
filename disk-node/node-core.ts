// The disk node's protocol core: sessions, authorization and batch execution,
// with no I/O. A frame goes in; a MACed reply, or the reason to close the
// connection, comes out. The WebSocket shell (main.ts) and the in-process
// simulator both drive this same code. Order of checks: docs/PROTOCOL.md. A
// frame that fails one costs no MAC and closes the session; every command is
// validated before any executes, so a batch runs whole or changes nothing.
import { generateKeyPairSync, randomBytes, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import type { AttestationProvider, LaunchConfig } from '../attestation/provider.ts';
import * as limits from './limits.ts';
import { SectorStore } from './store.ts';
import * as wire from './wire.ts';
import { Op, Status, WireError, type Command, type Request, type ResultSlot } from './wire.ts';

export interface Session {
  readonly challenge: Buffer;
  /** Order in which this node opened the session: a newer session's batch fences every older one. */
  readonly seq: bigint;
  lastCounter: bigint;
  keys?: SessionKeys;
}

/** Set by a session's open frame: its MAC keys, and the report data its ATTEST reports (docs/PROTOCOL.md). */
type SessionKeys = { request: Buffer; reply: Buffer; reportData: Buffer };

/** Why the node closes a session instead of answering: the frame was not an authentic, fresh batch for it. */
export type Refusal = { close: string };

export class DiskNodeCore {
  readonly store: SectorStore;
  /** X25519, drawn at boot, never leaves this process: its public key is the instance's identity. */
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
    this.managerKey = wire.rawPublicKey('Ed25519', config.managerPublicKey);
    this.store = new SectorStore(config.sectorBytes, config.sectorCount);
    const { privateKey, publicKey } = generateKeyPairSync('x25519');
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

  /** Handles one request frame: the MACed reply, or why to close the session. Never throws on bad input. */
  handle(session: Session, frame: Buffer): Buffer | Refusal {
    let request: Request, keys: SessionKeys;
    try {
      if (!session.keys && frame.length > limits.preAuthFrameBytesMax) throw new WireError(Status.tooLarge, 'first frame too large');
      request = wire.decodeRequest(frame, this.store.sectorBytes, !session.keys);
      keys = this.authenticate(session, request);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      return this.refuse(err.status);
    }
    if (request.counter <= session.lastCounter) return this.refuse(Status.replay);
    session.lastCounter = request.counter;
    const observer = (request.flags & wire.flagObserve) !== 0;
    if (!observer && session.seq < this.fence) return this.refuse(Status.fenced);
    if (!observer) this.fence = session.seq;
    session.keys = keys;

    const ids = { counter: request.counter, digest: request.digest };
    const slots = this.validate(request, keys.reportData, observer);
    const failed = slots.find((s) => s.status !== Status.ok);
    if (failed) {
      this.stats.batchesRefused++;
      for (const s of slots) (s.payloadBytes = 0), s.status === Status.ok && (s.status = Status.notExecuted);
      return this.seal(wire.allocReply(ids, failed.status, slots).frame, keys);
    }
    const { frame: reply, offsets } = wire.allocReply(ids, Status.ok, slots);
    request.commands.forEach((c, i) => this.execute(c, reply, offsets[i], slots[i]));
    this.stats.batchesExecuted++;
    return this.seal(reply, keys);
  }

  /** A later frame's MAC, or the open frame's challenge and manager signature, then the keys its session key gives. */
  private authenticate(session: Session, { opening, digest, auth }: Request): SessionKeys {
    if (!opening && timingSafeEqual(wire.mac(session.keys!.request, digest), auth)) return session.keys!;
    if (!opening) throw new WireError(Status.signature, 'bad MAC');
    if (!opening.session.equals(session.challenge)) throw new WireError(Status.session, 'not this session');
    if (!verify(null, Buffer.concat([wire.openDomain, digest]), this.managerKey, auth)) throw new WireError(Status.signature, 'bad signature');
    const ids = { challenge: session.challenge, managerSessionKey: opening.sessionKey, instancePublicKey: this.instancePublicKey };
    return { ...wire.sessionKeys(this.instanceKey, opening.sessionKey, ids), reportData: wire.sessionReportData(ids, this.launch) };
  }

  private refuse(status: number): Refusal {
    return this.stats.batchesRefused++, { close: wire.statusCodes[status] };
  }

  /** MACs a reply under the session's reply key over everything before the MAC. */
  private seal(frame: Buffer, keys: { reply: Buffer }): Buffer {
    const end = frame.length - wire.macBytes;
    frame.set(wire.mac(keys.reply, frame.subarray(0, end)), end);
    return frame;
  }

  /** Checks every command against the store as it will be when the commands before it have run. */
  private validate(request: Request, reportData: Buffer, observer: boolean): (ResultSlot & { evidence?: Uint8Array })[] {
    const s = this.store;
    let replyBytes = wire.replyHeaderBytes + wire.macBytes;
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
        evidence = this.provider.report(reportData);
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
        this.stats.bytesWritten += BigInt(c.data.length);
        return s.write(c.sector, c.data);
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
        return s.updateDeathRecord(c.version, c.record);
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
