// An in-process FrameChannel to a DiskNodeCore with hooks for the faults the
// node-client tests need: rewrite the HELLO, hold requests unanswered (to
// fill the in-flight window), rewrite requests on their way (a man in the
// middle), rewrite or drop or duplicate replies, inject frames the node never
// sent, and observe whether the client closed the channel. When the core
// answers a frame with { close }, the channel closes as the WebSocket shell
// would. Delivery is asynchronous (setImmediate), like a socket's. Also: the
// man in the middle of protocol v3 who puts its own X25519 key in HELLO, and
// every encoding of a low-order X25519 point.
import type { FrameChannel } from '../../array-manager/node-client/frame-channel.ts';
import { NodeClient, type NodeClientOptions } from '../../array-manager/node-client/node-client.ts';
import type { DiskNodeCore, Session } from '../../disk-node/node-core.ts';
import { mac, macBytes, sessionKeys } from '../../disk-node/wire.ts';
import { sessionKeyPair, testClientOptions, type TestNode } from '../disk-node/fixtures.ts';

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
  /** Turns the node's HELLO into the frame the client receives. */
  helloHook: (hello: Buffer) => Buffer = (hello) => hello;
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
    if (this.sendsHello) this.inject(this.helloHook(this.hello));
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

/** `n` as 32 little-endian bytes, the X25519 encoding. */
function u25519(n: bigint): Buffer {
  const b = Buffer.alloc(32);
  for (let i = 0; i < 32; i++, n >>= 8n) b[i] = Number(n & 0xffn);
  return b;
}
const p25519 = 2n ** 255n - 19n;

/**
 * Every 32-byte encoding of an X25519 public key of small order, from which
 * X25519 gives the all-zero secret whatever the private key: the points of
 * order 1, 2, 4 and 8 on the curve and its twist (u = 0, 1, p-1 and the two
 * order-8 u), the non-canonical encodings of 0 and 1 (p, p+1), and each of
 * those with the top bit set (RFC 7748 ignores it).
 */
export const lowOrderX25519: [string, Buffer][] = (() => {
  const points: [string, Buffer][] = [
    ['0 (all zero)', u25519(0n)],
    ['1', u25519(1n)],
    ['p-1', u25519(p25519 - 1n)],
    ['order 8 (e0eb7a7c...)', Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex')],
    ['order 8 (5f9c95bc...)', Buffer.from('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', 'hex')],
    ['p (0 non-canonical)', u25519(p25519)],
    ['p+1 (1 non-canonical)', u25519(p25519 + 1n)],
  ];
  return points.flatMap(([name, u]): [string, Buffer][] => {
    const high = Buffer.from(u);
    high[31] |= 0x80;
    return [[name, u], [`${name}, top bit set`, high]];
  });
})();

/**
 * A man in the middle of `channel`: it puts its own X25519 key in the HELLO
 * in place of the instance key, forwards the client's frames, and re-MACs
 * each reply under the reply key its own key gives with the manager's
 * session key (read from the open frame), so the client's MAC check passes.
 * Only the session evidence can tell.
 */
export function substituteInstanceKey(channel: CoreChannel): { publicRaw: Buffer } {
  const own = sessionKeyPair();
  let challenge: Buffer | undefined;
  channel.helloHook = (hello) => {
    challenge = Buffer.from(hello.subarray(24, 56));
    return Buffer.concat([hello.subarray(0, 64), own.publicRaw]);
  };
  let replyKey: Buffer | undefined;
  channel.requestHook = (request, index) => {
    if (index === 0) {
      const managerSessionKey = Buffer.from(request.subarray(48, 80));
      replyKey = sessionKeys(own.privateKey, managerSessionKey, { challenge: challenge!, managerSessionKey, instancePublicKey: own.publicRaw }).reply;
    }
    return request;
  };
  channel.replyHook = (reply) => {
    const forged = Buffer.from(reply);
    const end = forged.length - macBytes;
    forged.set(mac(replyKey!, forged.subarray(0, end)), end);
    return [forged];
  };
  return { publicRaw: own.publicRaw };
}
