// A session with one disk node, from the manager's side. It waits for the
// node's HELLO, draws an X25519 key for the session and derives the session's
// MAC keys with the node's instance key, sends a first batch signed with the
// manager key that carries its session key and asks for the platform's report
// over this session (ATTEST, with the node's membership record), and has that
// evidence verified. Then it MACs and pipelines command batches (bounded in
// flight, bounded waiting) and checks every reply: the counter and request
// digest it answers, its layout, and its MAC under the session's reply key,
// which only the attested instance could compute. Any reply that fails a check
// poisons the session: every pending batch fails and the channel is closed,
// because a channel that returned one forged frame cannot be trusted for the
// next. A node closes a session rather than answer a frame it does not accept
// (bad signature, replay, a newer session fenced this one): that too poisons it.
import { generateKeyPairSync, timingSafeEqual } from 'node:crypto';
import type { FrameChannel } from './frame-channel.ts';
import { FramePool } from './frame-pool.ts';
import {
  ClosedAfterHello,
  NodeError,
  Op,
  Status,
  decodeHello,
  decodeReply,
  readOnlyOps,
  encodeRequest,
  type CommandResult,
  type OutgoingCommand,
  type Hello,
  type NodeStatus,
} from './frame-codec.ts';
import { encodeLaunch, flagObserve, instanceIdOf, mac, sessionKeys, sessionReportData, statusCodes, WireError, type SessionIds } from '../../disk-node/wire.ts';

/** The attested identity of the node on the other end, as its session evidence established it. */
export interface VerifiedPeer {
  /** Derived from the instance key: a restarted node has another. */
  instanceId: Uint8Array;
  instancePublicKey: Uint8Array;
  /** The platform the evidence came from, as its verifier named it. */
  platform: string;
}

/** What the node's session evidence must bind, besides what the verifier checks against its manifest. */
export interface EvidenceExpectation {
  /** The report data the node's platform must have reported: session, manager's session key, instance key, launch config. */
  reportData: Buffer;
  hello: Hello;
  managerPublicKey: Uint8Array;
}

export interface NodeClientOptions {
  /** Signs a session's open frame with the manager key. */
  sign: (message: Buffer) => Uint8Array;
  /** The manager's public key: the launch config every node must attest to. */
  managerPublicKey: Uint8Array;
  /**
   * Verifies a session's ATTEST evidence against the reference values and
   * checks that it reports `expected.reportData`; returns the platform name,
   * throws to refuse the node.
   */
  verifyEvidence: (evidence: Buffer, expected: EvidenceExpectation) => { platform: string };
  /** Observer sessions send read-only batches that never fence the manager's sessions (status tools). */
  observe?: boolean;
  /**
   * Only the open frame is an observer's: the session fences no other on the
   * node until it sends a batch that may change the store (a replacement's
   * check: a member offered by mistake is refused without its session to the
   * array being fenced).
   */
  observeOpen?: boolean;
  /** How long to wait for HELLO and for each reply. */
  timeoutMs: number;
  /** Local bound on batches in flight (the node's announced bound also applies). */
  inflightMax?: number;
  /** Most batches waiting for a free in-flight slot before batch() fails with E_BUSY. */
  waitingMax?: number;
}

interface Pending {
  counter: bigint;
  frame: Buffer;
  digest: Buffer;
  commands: OutgoingCommand[];
  resolve: (results: CommandResult[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class NodeClient {
  private counter = 0n;
  private readonly inflight: Pending[] = [];
  private readonly waiting: (() => void)[] = [];
  private failure: NodeError | undefined;
  private readonly inflightMax: number;
  private readonly waitingMax: number;
  /** What names this session: the HELLO's challenge and instance key, and the manager's fresh session key. */
  private readonly ids: SessionIds;
  private readonly keys: { request: Buffer; reply: Buffer };
  private sentOpen = false;
  /** Buffers of large frames the node has answered, for the next ones: about a journal round's worth. */
  private readonly frames = new FramePool(4 * 1024 * 1024);
  /** Set once the session's evidence verified. */
  peer!: VerifiedPeer;
  private recordAtOpen: { version: bigint; record: Buffer } | undefined;

  private constructor(
    private readonly channel: FrameChannel,
    readonly hello: Hello,
    private readonly opts: NodeClientOptions,
  ) {
    this.inflightMax = Math.max(1, Math.min(hello.inflightBatchesMax, opts.inflightMax ?? 32));
    this.waitingMax = opts.waitingMax ?? 4096;
    const { privateKey, publicKey } = generateKeyPairSync('x25519');
    const managerSessionKey = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    this.ids = { challenge: hello.challenge, managerSessionKey, instancePublicKey: hello.instancePublicKey };
    try {
      this.keys = sessionKeys(privateKey, hello.instancePublicKey, this.ids);
    } catch (err) {
      // An unsigned HELLO can carry any key; one no X25519 secret comes from is refused like a forged one.
      if (!(err instanceof WireError)) throw err;
      throw new NodeError('E_ATTESTATION', `HELLO's instance key: ${err.message}`);
    }
  }

  /** Waits for the node's HELLO on `channel`, has the session's evidence verified, and returns the session. */
  static open(channel: FrameChannel, opts: NodeClientOptions): Promise<NodeClient> {
    return new Promise((resolve, reject) => {
      let client: NodeClient | undefined;
      const timer = setTimeout(() => fail(new NodeError('E_TIMEOUT', `no HELLO within ${opts.timeoutMs} ms`)), opts.timeoutMs).unref();
      const fail = (err: Error): void => {
        clearTimeout(timer);
        client?.poison(err instanceof NodeError ? err : new NodeError('E_ATTESTATION', err.message));
        channel.close();
        if (client && err instanceof NodeError && err.code === 'E_CLOSED') reject(new ClosedAfterHello(err, instanceIdOf(client.hello.instancePublicKey)));
        else reject(err);
      };
      channel.listen(
        (frame) => {
          if (client) return client.onFrame(frame);
          try {
            client = new NodeClient(channel, decodeHello(frame), opts);
          } catch (err) {
            return fail(err as Error);
          }
          clearTimeout(timer);
          client.attest().then(() => resolve(client!), fail);
        },
        (reason) => {
          if (client) client.poison(new NodeError('E_CLOSED', `session closed: ${reason}`));
          else fail(new NodeError('E_CLOSED', `closed before HELLO: ${reason}`));
        },
      );
    });
  }

  /**
   * The session's first batch: the platform's report binding this session,
   * the manager's session key, the instance key and the launch config. DEATH_READ
   * rides along (read-only, trusted only once the evidence verified): it is
   * what a manager that just opened a session asks first (creating or opening
   * an array, checking a replacement), and this way costs no round trip.
   */
  private async attest(): Promise<void> {
    const results = await this.batch([{ op: Op.attest }, { op: Op.deathRead }]);
    const [result, record] = results;
    if (result.op !== Op.attest || record.op !== Op.deathRead) throw new NodeError('E_FRAME', 'ATTEST answered with another result');
    const h = this.hello;
    const launch = encodeLaunch({ managerPublicKey: this.opts.managerPublicKey, sectorBytes: h.sectorBytes, sectorCount: h.sectorCount });
    const reportData = sessionReportData(this.ids, launch);
    const { platform } = this.opts.verifyEvidence(result.evidence, { reportData, hello: h, managerPublicKey: this.opts.managerPublicKey });
    this.peer = { instanceId: instanceIdOf(h.instancePublicKey), instancePublicKey: h.instancePublicKey, platform };
    this.recordAtOpen = { version: record.version, record: Buffer.from(record.record) };
  }

  /**
   * The node's membership record as the session's first batch read it, while
   * nothing else has been sent on the session; undefined after. Until then it
   * is what a DEATH_READ would return: that batch fenced every older session,
   * and this one has changed nothing. For a caller that opened the session
   * itself just now (another session to the node, opened since, could).
   */
  openingRecord(): { version: bigint; record: Buffer } | undefined {
    return this.counter === 1n ? this.recordAtOpen : undefined;
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  /** Sends one batch (the first signed, later ones MACed) and resolves with its results once the node's MACed reply checks out. */
  async batch(commands: OutgoingCommand[]): Promise<CommandResult[]> {
    if (this.opts.observe && commands.some((c) => !readOnlyOps.has(c.op))) throw new NodeError('E_READ_ONLY', 'an observer session sends read-only batches');
    if (commands.length === 0 || commands.length > this.hello.batchCommandsMax) {
      throw new NodeError('E_TOO_LARGE', `batch of ${commands.length} commands (1..${this.hello.batchCommandsMax})`);
    }
    while (!this.failure && this.inflight.length >= this.inflightMax) {
      if (this.waiting.length >= this.waitingMax) throw new NodeError('E_BUSY', `${this.waitingMax} batches already waiting`);
      await new Promise<void>((r) => this.waiting.push(r));
    }
    if (this.failure) throw this.failure;
    const counter = ++this.counter;
    // The first frame sent opens the session: it brings the manager's session key under the manager key's signature.
    const opening = this.sentOpen ? undefined : { session: this.ids.challenge, sessionKey: this.ids.managerSessionKey };
    const flags = this.opts.observe || (opening && this.opts.observeOpen) ? flagObserve : 0;
    const auth = opening ? { sign: this.opts.sign } : { key: this.keys.request };
    const { frame, digest } = encodeRequest({ flags, counter, opening }, commands, auth, (size) => this.frames.take(size));
    if (frame.length > this.hello.frameBytesMax) {
      this.wake();
      throw new NodeError('E_TOO_LARGE', `batch frame of ${frame.length} bytes > ${this.hello.frameBytesMax}`);
    }
    return new Promise((resolve, reject) => {
      // Unreferenced: an abandoned session must not keep the process alive.
      const timer = setTimeout(
        () => this.poison(new NodeError('E_TIMEOUT', `no reply within ${this.opts.timeoutMs} ms`)),
        this.opts.timeoutMs,
      ).unref();
      this.inflight.push({ counter, frame, digest, commands, resolve, reject, timer });
      this.sentOpen = true;
      this.channel.send(frame);
    });
  }

  async status(): Promise<NodeStatus> {
    const [result] = await this.batch([{ op: Op.status }]);
    if (result.op !== Op.status) throw new NodeError('E_FRAME', 'STATUS answered with another result');
    return result.status;
  }

  close(): void {
    this.poison(new NodeError('E_CLOSED', 'session closed by the manager'));
  }

  private onFrame(frame: Buffer): void {
    const pending = this.inflight[0];
    if (!pending) return this.poison(new NodeError('E_FRAME', 'reply with no batch in flight'));
    let reply;
    try {
      reply = decodeReply(frame, pending.commands, this.hello.sectorBytes);
    } catch (err) {
      return this.poison(err as NodeError);
    }
    if (reply.counter !== pending.counter || !reply.requestDigest.equals(pending.digest)) {
      return this.poison(new NodeError('E_NONCE', `reply does not answer batch ${pending.counter}`));
    }
    if (!timingSafeEqual(mac(this.keys.reply, reply.authenticated), reply.mac)) {
      return this.poison(new NodeError('E_ATTESTATION', `reply to batch ${pending.counter} does not carry the session's MAC`));
    }
    this.inflight.shift();
    clearTimeout(pending.timer);
    this.frames.give(pending.frame);
    this.wake();
    if (reply.batchStatus === Status.ok) return pending.resolve(reply.results);
    const detail = reply.statuses.map((s, i) => `${i}:${statusCodes[s]}`).join(' ');
    pending.reject(new NodeError(statusCodes[reply.batchStatus], `batch ${pending.counter} refused${detail ? ` (${detail})` : ''}`));
  }

  private wake(): void {
    this.waiting.shift()?.();
  }

  private poison(err: NodeError): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.inflight.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    for (const w of this.waiting.splice(0)) w();
    this.channel.close();
  }
}
