// An in-process FrameChannel to a DiskNodeCore with hooks for the faults the
// node-client tests need: hold requests unanswered (to fill the in-flight
// window), rewrite requests on their way (a man in the middle), rewrite or
// drop or duplicate replies, inject frames the node never sent, and observe
// whether the client closed the channel. When the core answers a frame with
// { close }, the channel closes as the WebSocket shell would. Delivery is
// asynchronous (setImmediate), like a socket's.
import type { FrameChannel } from '../../array-manager/node-client/frame-channel.ts';
import { NodeClient, type NodeClientOptions } from '../../array-manager/node-client/node-client.ts';
import type { DiskNodeCore, Session } from '../../disk-node/node-core.ts';
import { testClientOptions, type TestNode } from '../disk-node/fixtures.ts';

export class CoreChannel implements FrameChannel {
  /** Every request frame the client sent, in order. */
  readonly requests: Buffer[] = [];
  /** True once either side closed the channel. */
  closed = false;
  /** The code the node closed the session with, when it refused a frame. */
  closedBy: string | undefined;
  /** While true, requests are queued unanswered until release(). */
  hold = false;
  /** Turns the node's reply to request `index` into the frames the client receives (none: dropped). */
  replyHook: (reply: Buffer, index: number) => Buffer[] = (reply) => [reply];
  /** Turns request `index` into the frame the node receives. */
  requestHook: (request: Buffer, index: number) => Buffer = (request) => request;
  private readonly held: { frame: Buffer; index: number }[] = [];
  readonly session: Session;
  private readonly hello: Buffer;
  private onFrame: ((frame: Buffer) => void) | undefined;
  private onClose: ((reason: string) => void) | undefined;

  constructor(
    readonly core: DiskNodeCore,
    private readonly sendsHello = true,
  ) {
    ({ session: this.session, hello: this.hello } = core.openSession());
  }

  send(frame: Buffer): void {
    if (this.closed) return;
    const index = this.requests.push(frame) - 1;
    if (this.hold) this.held.push({ frame, index });
    else setImmediate(() => this.answer(frame, index));
  }

  /** Answers up to `n` held requests, oldest first. */
  release(n = Infinity): void {
    for (const { frame, index } of this.held.splice(0, n)) this.answer(frame, index);
  }

  /** Delivers `frame` to the client as though the node had sent it. */
  inject(frame: Buffer): void {
    setImmediate(() => !this.closed && this.onFrame?.(frame));
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    setImmediate(() => this.onClose?.(reason));
  }

  listen(onFrame: (frame: Buffer) => void, onClose: (reason: string) => void): void {
    this.onFrame = onFrame;
    this.onClose = onClose;
    if (this.sendsHello) this.inject(this.hello);
  }

  private answer(frame: Buffer, index: number): void {
    if (this.closed) return;
    const reply = this.core.handle(this.session, this.requestHook(frame, index));
    if (!Buffer.isBuffer(reply)) {
      this.closedBy = reply.close;
      return this.close(`closed (4000 ${reply.close})`);
    }
    for (const out of this.replyHook(reply, index)) this.inject(out);
  }
}

/** Opens a NodeClient to `node` over a fresh CoreChannel. */
export async function openCoreClient(
  node: TestNode,
  opts: Partial<NodeClientOptions> = {},
): Promise<{ client: NodeClient; channel: CoreChannel }> {
  const channel = new CoreChannel(node.core);
  const client = await NodeClient.open(channel, { ...testClientOptions(node.manager, 10_000), ...opts });
  return { client, channel };
}

/** Lets every queued setImmediate callback (and what it queues, `rounds` deep) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
