// A fuzzer against a live disk node: startDiskNode (disk-node/main.ts) on
// 127.0.0.1 with the fixtures' fake provider, driven over real WebSockets.
// Random frames, mutated valid frames (bit flips, truncations, extensions,
// splices), text frames and frames above the pre-auth and frameBytesMax
// bounds. None of them is an authentic batch, so after each frame: the answer
// is a close (code 4000 with the refusal's code as the reason, never a reply
// frame), the store's digest is what the known writes left, and no fuzz batch
// was executed; after each group, a signed batch on a fresh session still
// runs. Connection bounds are in shell.test.ts.
import t from 'tap';
import type { Test } from 'tap';
import fc from 'fast-check';
import WebSocket from 'ws';
import { openWebSocketChannel } from '../../array-manager/node-client/frame-channel.ts';
import { decodeHello, encodeRequest, type Command, type Hello } from '../../array-manager/node-client/frame-codec.ts';
import { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { frameBytesMax, preAuthFrameBytesMax, protocolVersion } from '../../disk-node/limits.ts';
import { startDiskNode, type RunningDiskNode } from '../../disk-node/main.ts';
import { FrameType, Op, statusCodes } from '../../disk-node/wire.ts';
import { commandArb } from './arbitraries.ts';
import { fakeProvider, managerKeys, pattern, storeDigest, testClientOptions } from './fixtures.ts';

const sectorBytes = 4096;
const sectorCount = 64;
const exchangeTimeoutMs = 5000;
const manager = managerKeys();

type Answer = { kind: 'reply'; frame: Buffer } | { kind: 'close'; code: number; reason: string } | { kind: 'silence' };

/** A raw WebSocket session: the HELLO, then one answer per frame sent. */
class RawSession {
  private readonly events: Answer[] = [];
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.push({ kind: 'reply', frame: data }));
    ws.on('close', (code, reason) => {
      this.closed = true;
      this.push({ kind: 'close', code, reason: reason.toString() });
    });
    ws.on('error', () => {});
  }

  static async open(port: number): Promise<{ session: RawSession; first: Answer }> {
    const session = new RawSession(new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false }));
    return { session, first: await session.next() };
  }

  private push(a: Answer): void {
    this.events.push(a);
    this.waiter?.();
  }

  /** The next frame or close; 'silence' if neither comes within the exchange bound. */
  async next(): Promise<Answer> {
    if (this.events.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, exchangeTimeoutMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.events.shift() ?? { kind: 'silence' };
  }

  send(frame: Buffer | string): Promise<Answer> {
    if (this.closed) return Promise.resolve({ kind: 'close', code: 0, reason: 'already closed' });
    this.ws.send(frame, { binary: typeof frame !== 'string' });
    return this.next();
  }

  close(): void {
    this.ws.terminate();
  }
}

interface Harness {
  node: RunningDiskNode;
  /** Digest of the store after the known writes; nothing the fuzzer sends may change it. */
  digest: string;
  hello: Hello;
  session: RawSession;
  /** Batches the node has executed: only the harness's own signed batches count. */
  executed: bigint;
}

async function startHarness(t: Test): Promise<Harness> {
  const provider = fakeProvider();
  const node = await startDiskNode(
    { config: { managerPublicKey: manager.publicRaw, sectorBytes, sectorCount }, host: '127.0.0.1', port: 0 },
    provider,
  );
  t.teardown(() => node.close());
  const client = await signedClient(node.port);
  await client.batch([
    { op: Op.write, sector: 0, count: sectorCount, data: pattern(sectorBytes, sectorCount, 7) },
    { op: Op.deathWrite, version: 10n, record: Buffer.from('known death record') },
  ]);
  client.close();
  const { session, first } = await RawSession.open(node.port);
  if (first.kind !== 'reply') throw new Error('no HELLO');
  return { node, digest: storeDigest(node.core.store), hello: decodeHello(first.frame), session, executed: node.core.stats.batchesExecuted };
}

function signedClient(port: number): Promise<NodeClient> {
  return openWebSocketChannel(`ws://127.0.0.1:${port}`, exchangeTimeoutMs).then((channel) =>
    NodeClient.open(channel, testClientOptions(manager, exchangeTimeoutMs)),
  );
}

/** Why `answer` is not an acceptable answer to a fuzz frame, or '' when it is: a close with 4000 and a refusal code. */
function badAnswer(answer: Answer): string {
  if (answer.kind === 'silence') return 'no answer';
  if (answer.kind === 'reply') return `a reply frame of ${answer.frame.length} bytes to an unauthentic frame`;
  if (answer.code !== 4000 || !statusCodes.includes(answer.reason) || answer.reason === 'OK') return `closed with ${answer.code} "${answer.reason}"`;
  return '';
}

/** Replaces the harness session with a new one; '' or why there is none. */
async function freshSession(h: Harness): Promise<string> {
  const { session, first } = await RawSession.open(h.node.port);
  if (first.kind !== 'reply') return 'no HELLO on a new session';
  h.session = session;
  h.hello = decodeHello(first.frame);
  return '';
}

/** Sends `frame` on the harness session (reopened after a close) and checks the answer and the store. */
async function probe(h: Harness, frame: Buffer | string): Promise<string> {
  const none = h.session.closed ? await freshSession(h) : '';
  if (none) return none;
  const why = badAnswer(await h.session.send(frame));
  if (why) return why;
  if (storeDigest(h.node.core.store) !== h.digest) return 'store changed';
  return '';
}

/** A fresh, properly signed session still gets a batch executed, and no fuzz frame was. */
async function checkAlive(t: Test, h: Harness): Promise<void> {
  t.equal(h.node.core.stats.batchesExecuted, h.executed, 'no fuzz frame was executed');
  const client = await signedClient(h.node.port);
  const [read] = await client.batch([{ op: Op.read, sector: 0, count: sectorCount }]);
  t.ok(read.op === Op.read && read.data.equals(pattern(sectorBytes, sectorCount, 7)), 'the node still serves the known data');
  client.close();
  h.executed += 2n; // the session's ATTEST and the READ
}

/** Signed, valid request frames for this session that would overwrite the known data if run. */
const validFrameArb = (h: Harness) =>
  fc
    .tuple(fc.array(commandArb(sectorBytes, 2), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 255 }))
    .map(([commands, fill]) => {
      const overwrite: Command = { op: Op.write, sector: 0, count: 1, data: Buffer.alloc(sectorBytes, fill ^ 0x5a) };
      return encodeRequest({ flags: 0, counter: 1n << 40n, session: h.hello.challenge, nonce: Buffer.alloc(32, fill) }, [overwrite, ...commands], manager.sign).frame;
    });

/** Valid frames changed so that they differ from every frame the manager signed (flips can cancel, splices can copy). */
const mutationArb = (h: Harness) =>
  fc.oneof(
    fc.tuple(validFrameArb(h), fc.array(fc.nat(), { minLength: 1, maxLength: 4 })).map(([f, bits]) => {
      const bad = Buffer.from(f);
      for (const b of bits) bad[(b >> 3) % bad.length] ^= 1 << (b & 7);
      return [bad, f];
    }),
    fc.tuple(validFrameArb(h), fc.nat()).map(([f, n]) => [f.subarray(0, n % f.length), f]),
    fc.tuple(validFrameArb(h), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([f, tail]) => [Buffer.concat([f, tail]), f]),
    fc.tuple(validFrameArb(h), validFrameArb(h), fc.nat()).map(([a, b, n]) => [Buffer.concat([a.subarray(0, n % a.length), b.subarray(n % a.length)]), a, b]),
  )
    .filter(([bad, ...signed]) => signed.every((f) => !f.equals(bad)))
    .map(([bad]) => bad);

const randomFrameArb = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
  // Random bodies behind a request header, so the parser gets past the version check.
  fc.uint8Array({ minLength: 0, maxLength: 1200 }).map((b) => Buffer.concat([Buffer.from([protocolVersion, FrameType.request]), b])),
);

t.test('fuzz: random, mutated, text and oversized frames against a live node', { timeout: 30_000 }, async (t) => {
  const h = await startHarness(t);
  const groups: [string, fc.Arbitrary<Buffer>, number][] = [
    ['random frames', randomFrameArb, 500],
    ['mutated valid frames', mutationArb(h), 1000],
  ];
  for (const [name, arb, numRuns] of groups) {
    await fc.assert(
      fc.asyncProperty(arb, async (frame) => {
        const why = await probe(h, frame);
        if (why) throw new Error(why);
      }),
      { numRuns, endOnFailure: true },
    );
    t.pass(`${name}: ${numRuns} frames each answered by a close with its refusal code, store unchanged`);
    await checkAlive(t, h);
  }

  for (const [name, frame, code, reason] of [
    ['a text frame', 'HELLO?', 1003, 'binary frames only'],
    // Before a session authenticates, the WebSocket layer refuses a frame over preAuthFrameBytesMax at its length header (1009).
    ['a first frame of preAuthFrameBytesMax + 1 bytes', Buffer.alloc(preAuthFrameBytesMax + 1), 1009, ''],
    ['a frame of exactly frameBytesMax', Buffer.alloc(frameBytesMax, 0xff), 1009, ''],
    ['a frame of frameBytesMax + 1 bytes', Buffer.alloc(frameBytesMax + 1), 1009, ''],
  ] as const) {
    t.equal(await freshSession(h), '', 'a new session');
    const answer = await h.session.send(frame);
    t.same(answer, { kind: 'close', code, reason }, `${name}: the node closes the session with ${code} ${reason}`);
  }
  t.equal(storeDigest(h.node.core.store), h.digest);
  await checkAlive(t, h);
  h.session.close();
});
