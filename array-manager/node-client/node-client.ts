// A session with one disk node, from the manager's side. It waits for the
// node's HELLO, has the attestation verified, then signs and pipelines command
// batches (bounded in flight, bounded waiting) and checks every reply: the
// counter and nonce it answers, its layout, and the node's attestation over
// the digest of the whole reply. Any reply that fails a check poisons the
// session: every pending batch fails and the channel is closed, because a
// channel that returned one forged frame cannot be trusted for the next.
import { randomBytes } from 'node:crypto';
import type { FrameChannel } from './frame-channel.ts';
import {
  NodeError,
  Op,
  Status,
  decodeHello,
  decodeReply,
  encodeRequest,
  type CommandResult,
  type OutgoingCommand,
  type Hello,
  type NodeStatus,
} from './frame-codec.ts';
import { statusCodes } from '../../disk-node/wire.ts';

/** The attested identity of the node on the other end, as the verifier established it. */
export interface VerifiedPeer {
  instanceId: Uint8Array;
  /** True when `signature` is the node's attestation over `reportData`. */
  verifyReport(reportData: Uint8Array, signature: Uint8Array): boolean;
}

export interface NodeClientOptions {
  /** Signs a batch message with the manager key. */
  sign: (message: Buffer) => Uint8Array;
  /** Verifies the HELLO's evidence against the reference values; throws to refuse the node. */
  verifyHello: (hello: Hello) => VerifiedPeer;
  /** How long to wait for HELLO and for each reply. */
  timeoutMs: number;
  /** Local bound on batches in flight (the node's announced bound also applies). */
  inflightMax?: number;
  /** Most batches waiting for a free in-flight slot before batch() fails with E_BUSY. */
  waitingMax?: number;
}

interface Pending {
  counter: bigint;
  nonce: Buffer;
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

  private constructor(
    private readonly channel: FrameChannel,
    readonly hello: Hello,
    readonly peer: VerifiedPeer,
    private readonly opts: NodeClientOptions,
  ) {
    this.inflightMax = Math.max(1, Math.min(hello.inflightBatchesMax, opts.inflightMax ?? 32));
    this.waitingMax = opts.waitingMax ?? 4096;
  }

  /** Waits for the node's HELLO on `channel`, verifies it, and returns the session. */
  static open(channel: FrameChannel, opts: NodeClientOptions): Promise<NodeClient> {
    return new Promise((resolve, reject) => {
      let client: NodeClient | undefined;
      const timer = setTimeout(() => fail(new NodeError('E_TIMEOUT', `no HELLO within ${opts.timeoutMs} ms`)), opts.timeoutMs).unref();
      const fail = (err: Error): void => {
        clearTimeout(timer);
        channel.close();
        reject(err);
      };
      channel.listen(
        (frame) => {
          if (client) return client.onFrame(frame);
          try {
            const hello = decodeHello(frame);
            const peer = opts.verifyHello(hello);
            if (!peer.verifyReport(hello.digest, hello.signature)) {
              throw new NodeError('E_ATTESTATION', 'HELLO is not attested by the node it names');
            }
            clearTimeout(timer);
            client = new NodeClient(channel, hello, peer, opts);
            resolve(client);
          } catch (err) {
            fail(err as Error);
          }
        },
        (reason) => {
          if (client) client.poison(new NodeError('E_CLOSED', `session closed: ${reason}`));
          else fail(new NodeError('E_CLOSED', `closed before HELLO: ${reason}`));
        },
      );
    });
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  /** Sends one signed batch and resolves with its results once the attested reply checks out. */
  async batch(commands: OutgoingCommand[]): Promise<CommandResult[]> {
    if (commands.length === 0 || commands.length > this.hello.batchCommandsMax) {
      throw new NodeError('E_TOO_LARGE', `batch of ${commands.length} commands (1..${this.hello.batchCommandsMax})`);
    }
    while (!this.failure && this.inflight.length >= this.inflightMax) {
      if (this.waiting.length >= this.waitingMax) throw new NodeError('E_BUSY', `${this.waitingMax} batches already waiting`);
      await new Promise<void>((r) => this.waiting.push(r));
    }
    if (this.failure) throw this.failure;
    const counter = ++this.counter;
    const nonce = randomBytes(32);
    const frame = encodeRequest({ counter, session: this.hello.challenge, nonce }, commands, this.opts.sign);
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
      this.inflight.push({ counter, nonce, commands, resolve, reject, timer });
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
    if (reply.counter !== pending.counter || !reply.nonce.equals(pending.nonce)) {
      return this.poison(new NodeError('E_NONCE', `reply does not answer batch ${pending.counter}`));
    }
    if (!this.peer.verifyReport(reply.digest, reply.signature)) {
      return this.poison(new NodeError('E_ATTESTATION', `reply to batch ${pending.counter} is not attested by the node`));
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
