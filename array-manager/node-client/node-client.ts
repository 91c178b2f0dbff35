// A session with one disk node, from the manager's side. It waits for the
// node's HELLO, sends a first batch that asks for the platform's report over
// this session (ATTEST, with the node's membership record) and has that
// evidence verified, then signs and
// pipelines command batches (bounded in flight, bounded waiting) and checks
// every reply: the counter and request digest it answers, its layout, and the
// instance key's signature over the whole reply. Any reply that fails a check
// poisons the session: every pending batch fails and the channel is closed,
// because a channel that returned one forged frame cannot be trusted for the
// next. A node closes a session rather than answer a frame it does not accept
// (bad signature, replay, a newer session fenced this one): that too poisons it.
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import type { FrameChannel } from './frame-channel.ts';
import {
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
import { encodeLaunch, flagObserve, instanceIdOf, replyDomain, sessionReportData, statusCodes } from '../../disk-node/wire.ts';

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
  /** The report data the node's platform must have reported: session, nonce, instance key, launch config. */
  reportData: Buffer;
  hello: Hello;
  managerPublicKey: Uint8Array;
}

export interface NodeClientOptions {
  /** Signs a batch message with the manager key. */
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
  /** How long to wait for HELLO and for each reply. */
  timeoutMs: number;
  /** Local bound on batches in flight (the node's announced bound also applies). */
  inflightMax?: number;
  /** Most batches waiting for a free in-flight slot before batch() fails with E_BUSY. */
  waitingMax?: number;
}

interface Pending {
  counter: bigint;
  digest: Buffer;
  commands: OutgoingCommand[];
  resolve: (results: CommandResult[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A batch's nonce: 32 bytes cut from a larger CSPRNG draw that is never
 * reused, so one call into the generator serves 64 batches (a call costs
 * about 7 us, whatever its size up to a few KiB).
 */
const noncesPerDraw = 64;
let nonces = Buffer.alloc(0);
function freshNonce(): Buffer {
  if (nonces.length === 0) nonces = randomBytes(32 * noncesPerDraw);
  const nonce = nonces.subarray(0, 32);
  nonces = nonces.subarray(32);
  return nonce;
}

export class NodeClient {
  private counter = 0n;
  private readonly inflight: Pending[] = [];
  private readonly waiting: (() => void)[] = [];
  private failure: NodeError | undefined;
  private readonly inflightMax: number;
  private readonly waitingMax: number;
  private readonly instanceKey: KeyObject;
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
    const x = Buffer.from(hello.instancePublicKey).toString('base64url');
    this.instanceKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
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
        reject(err);
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
   * the manager's nonce, the instance key and the launch config. DEATH_READ
   * rides along (read-only, trusted only once the evidence verified): it is
   * what a manager that just opened a session asks first (creating or opening
   * an array, checking a replacement), and this way costs no round trip.
   */
  private async attest(): Promise<void> {
    const { results, nonce } = await this.send([{ op: Op.attest }, { op: Op.deathRead }]);
    const [result, record] = results;
    if (result.op !== Op.attest || record.op !== Op.deathRead) throw new NodeError('E_FRAME', 'ATTEST answered with another result');
    const h = this.hello;
    const launch = encodeLaunch({ managerPublicKey: this.opts.managerPublicKey, sectorBytes: h.sectorBytes, sectorCount: h.sectorCount });
    const reportData = sessionReportData(h.challenge, nonce, h.instancePublicKey, launch);
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

  /** Sends one signed batch and resolves with its results once the node's signed reply checks out. */
  async batch(commands: OutgoingCommand[]): Promise<CommandResult[]> {
    return (await this.send(commands)).results;
  }

  private async send(commands: OutgoingCommand[]): Promise<{ results: CommandResult[]; nonce: Buffer }> {
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
    const nonce = freshNonce();
    const flags = this.opts.observe ? flagObserve : 0;
    const { frame, digest } = encodeRequest({ flags, counter, session: this.hello.challenge, nonce }, commands, this.opts.sign);
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
      this.inflight.push({ counter, digest, commands, resolve: (results) => resolve({ results, nonce }), reject, timer });
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
    if (!verify(null, Buffer.concat([replyDomain, reply.digest]), this.instanceKey, reply.signature)) {
      return this.poison(new NodeError('E_ATTESTATION', `reply to batch ${pending.counter} is not signed by the node's instance key`));
    }
    this.inflight.shift();
    clearTimeout(pending.timer);
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
