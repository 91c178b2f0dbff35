// A fuzzer against a live disk node: startDiskNode (disk-node/main.ts) on
// 127.0.0.1 with the fixtures' fake provider, driven over real WebSockets.
// Both request frame types of protocol v3 are fuzzed, each where it belongs:
// frames sent as a session's first frame (where the node expects the signed
// open frame) and frames sent on a session the harness has opened with an
// authentic open frame (where the node expects frames MACed with the
// session's request key). Random frames, mutated valid frames of each type
// (bit flips, truncations, extensions, splices), misdirected frames (the
// other type, a wrong key or challenge, a used counter, an unusable session
// key), text frames and frames above the pre-auth and frameBytesMax bounds.
// None of them is an authentic, fresh batch, so after each frame: the answer
// is a close (code 4000 with the refusal's code as the reason, never a reply
// frame), the store's digest is what the known writes left, and no fuzz batch
// was executed (the node executed exactly the harness's own open frames);
// after each group, a manager's session (NodeClient) still runs batches.
// Each frame is built for the session it is sent on, when it is sent, so a
// mutated frame differs from an authentic frame of that very session (not of
// a stale one) in the bytes the mutation changed. Connection bounds are in
// shell.test.ts.
import t from 'tap';
import type { Test } from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { openWebSocketChannel } from '../../array-manager/node-client/frame-channel.ts';
import { decodeHello, decodeReply, encodeRequest, type Command, type Hello } from '../../array-manager/node-client/frame-codec.ts';
import { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { frameBytesMax, preAuthFrameBytesMax, protocolVersion } from '../../disk-node/limits.ts';
import { startDiskNode, type RunningDiskNode } from '../../disk-node/main.ts';
import { FrameType, Op, Status, sessionKeys, statusCodes } from '../../disk-node/wire.ts';
import { commandArb } from './arbitraries.ts';
import { fakeProvider, managerKeys, pattern, replyAuthentic, sessionKeyPair, storeDigest, testClientOptions } from './fixtures.ts';

const sectorBytes = 4096;
const sectorCount = 64;
const exchangeTimeoutMs = 5000;
const manager = managerKeys();
/** Another manager: its signatures are not the launch manager's. */
const stranger = managerKeys();
/** The X25519 session key the fuzzer's open frames carry (the harness's own open frames draw one per session). */
const fuzzSessionKey = sessionKeyPair().publicRaw;

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

/** A raw session the fuzzer sends one frame on: fresh (HELLO only), or opened by the harness's own authentic open frame. */
interface Live {
  session: RawSession;
  hello: Hello;
  /** Set once the harness's open frame (counter 1) ran: the session's MAC keys. */
  keys?: { request: Buffer; reply: Buffer };
}

interface Harness {
  node: RunningDiskNode;
  /** Digest of the store after the known writes; nothing the fuzzer sends may change it. */
  digest: string;
  /** Batches the node has executed: only the harness's own open frames and manager sessions count. */
  executed: bigint;
}

/** One fuzz frame: the session state it is sent in, and how it is built from that session; undefined if this draw came out authentic. */
interface Probe {
  name: string;
  opened: boolean;
  build: (live: Live) => Buffer | string | undefined;
  /** The refusal code the node must close with, when it is known; any refusal otherwise. */
  expect?: string;
}

async function startHarness(t: Test): Promise<Harness> {
  const provider = fakeProvider();
  const node = await startDiskNode(
    { config: { managerPublicKey: manager.publicRaw, sectorBytes, sectorCount }, host: '127.0.0.1', port: 0 },
    provider,
  );
  t.teardown(() => node.close());
  const client = await managerClient(node.port);
  await client.batch([
    { op: Op.write, sector: 0, count: sectorCount, data: pattern(sectorBytes, sectorCount, 7) },
    { op: Op.deathWrite, version: 10n, record: Buffer.from('known death record') },
  ]);
  client.close();
  return { node, digest: storeDigest(node.core.store), executed: node.core.stats.batchesExecuted };
}

function managerClient(port: number): Promise<NodeClient> {
  return openWebSocketChannel(`ws://127.0.0.1:${port}`, exchangeTimeoutMs).then((channel) =>
    NodeClient.open(channel, testClientOptions(manager, exchangeTimeoutMs)),
  );
}

/** Why `answer` is not an acceptable answer to a fuzz frame, or '' when it is: a close with 4000 and a refusal code (`expect`, if given). */
function badAnswer(answer: Answer, expect?: string): string {
  if (answer.kind === 'silence') return 'no answer';
  if (answer.kind === 'reply') return `a reply frame of ${answer.frame.length} bytes to an unauthentic frame`;
  if (answer.code !== 4000 || !statusCodes.includes(answer.reason) || answer.reason === 'OK') return `closed with ${answer.code} "${answer.reason}"`;
  if (expect && answer.reason !== expect) return `closed with ${answer.reason}, expected ${expect}`;
  return '';
}

/**
 * A new session: its HELLO and, when `opened`, the harness's authentic open
 * frame (a DEATH_READ, which changes nothing) under a fresh X25519 session
 * key, whose reply must carry the derived reply key's MAC. A string says why
 * there is none.
 */
async function newSession(h: Harness, opened: boolean): Promise<Live | string> {
  const { session, first } = await RawSession.open(h.node.port);
  if (first.kind !== 'reply') return 'no HELLO on a new session';
  const hello = decodeHello(first.frame);
  if (!opened) return { session, hello };
  const own = sessionKeyPair();
  const keys = sessionKeys(own.privateKey, hello.instancePublicKey, { challenge: hello.challenge, managerSessionKey: own.publicRaw, instancePublicKey: hello.instancePublicKey });
  const commands: Command[] = [{ op: Op.deathRead }];
  const opening = { session: hello.challenge, sessionKey: own.publicRaw };
  const answer = await session.send(encodeRequest({ flags: 0, counter: 1n, opening }, commands, { sign: manager.sign }).frame);
  if (answer.kind !== 'reply') return `the harness's open frame was answered with ${JSON.stringify(answer)}`;
  if (!replyAuthentic(keys.reply, answer.frame)) return "the open frame's reply does not carry the session's reply MAC";
  if (decodeReply(answer.frame, commands, sectorBytes).batchStatus !== Status.ok) return 'the open frame was refused';
  h.executed++;
  return { session, hello, keys };
}

/** Sends the probe's frame on a session made for it and checks the answer, the store and the executed count. */
async function probe(h: Harness, p: Probe): Promise<string> {
  const live = await newSession(h, p.opened);
  if (typeof live === 'string') return live;
  const frame = p.build(live);
  if (frame === undefined) {
    live.session.close();
    fc.pre(false);
    return '';
  }
  const why = badAnswer(await live.session.send(frame), p.expect);
  live.session.close();
  if (why) return `${p.name}: ${why}`;
  if (storeDigest(h.node.core.store) !== h.digest) return `${p.name}: store changed`;
  if (h.node.core.stats.batchesExecuted !== h.executed) return `${p.name}: a fuzz frame was executed`;
  return '';
}

/** A manager's session still gets its batches executed, and no fuzz frame was. */
async function checkAlive(t: Test, h: Harness): Promise<void> {
  t.equal(h.node.core.stats.batchesExecuted, h.executed, 'no fuzz frame was executed');
  const client = await managerClient(h.node.port);
  const [read] = await client.batch([{ op: Op.read, sector: 0, count: sectorCount }]);
  t.ok(read.op === Op.read && read.data.equals(pattern(sectorBytes, sectorCount, 7)), 'the node still serves the known data');
  client.close();
  h.executed += 2n; // the session's open frame (ATTEST, DEATH_READ) and the READ
}

/** What a valid frame holds: commands after a WRITE that would overwrite the known data if it ran. */
type FrameSpec = { commands: Command[]; fill: number };
const specArb: fc.Arbitrary<FrameSpec> = fc
  .tuple(fc.array(commandArb(sectorBytes, 2), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 255 }))
  .map(([commands, fill]) => ({ commands: [{ op: Op.write, sector: 0, count: 1, data: Buffer.alloc(sectorBytes, fill ^ 0x5a) }, ...commands], fill }));

/** An open frame for this session, signed by the launch manager key: it would run as the session's first frame. */
const validOpen = (live: Live, s: FrameSpec): Buffer =>
  encodeRequest({ flags: 0, counter: 1n << 40n, opening: { session: live.hello.challenge, sessionKey: fuzzSessionKey } }, s.commands, { sign: manager.sign }).frame;

/** A frame MACed with this session's request key and an unused counter: it would run on the opened session. */
const validMaced = (live: Live, s: FrameSpec): Buffer => encodeRequest({ flags: 0, counter: 2n + BigInt(s.fill) }, s.commands, { key: live.keys!.request }).frame;

/** Valid frames of one type changed so that they differ from every authentic frame they were made from (flips can cancel, splices can copy). */
function mutationsOf(kind: string, opened: boolean, valid: (live: Live, s: FrameSpec) => Buffer): fc.Arbitrary<Probe> {
  const probeOf = (what: string, make: (live: Live) => Buffer[]): Probe => ({
    name: `${what} of a valid ${kind}`,
    opened,
    build: (live) => {
      const [bad, ...authentic] = make(live);
      return authentic.some((f) => f.equals(bad)) ? undefined : bad;
    },
  });
  return fc.oneof(
    fc.tuple(specArb, fc.array(fc.nat(), { minLength: 1, maxLength: 4 })).map(([s, bits]) =>
      probeOf('bit flips', (live) => {
        const f = valid(live, s);
        const bad = Buffer.from(f);
        for (const b of bits) bad[(b >> 3) % bad.length] ^= 1 << (b & 7);
        return [bad, f];
      }),
    ),
    fc.tuple(specArb, fc.nat()).map(([s, n]) =>
      probeOf('a truncation', (live) => {
        const f = valid(live, s);
        return [f.subarray(0, n % f.length), f];
      }),
    ),
    fc.tuple(specArb, fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([s, tail]) =>
      probeOf('an extension', (live) => {
        const f = valid(live, s);
        return [Buffer.concat([f, tail]), f];
      }),
    ),
    fc.tuple(specArb, specArb, fc.nat()).map(([sa, sb, n]) =>
      probeOf('a splice', (live) => {
        const [a, b] = [valid(live, sa), valid(live, sb)];
        return [Buffer.concat([a.subarray(0, n % a.length), b.subarray(n % a.length)]), a, b];
      }),
    ),
  );
}

/** Random bytes, alone or behind a v3 header of either request type, so the parser gets past the version check. */
function randomFrames(opened: boolean): fc.Arbitrary<Probe> {
  const where = opened ? 'on an opened session' : 'as a first frame';
  return fc.oneof(
    fc.uint8Array({ maxLength: 400 }).map((b): Probe => ({ name: `random bytes ${where}`, opened, build: () => Buffer.from(b) })),
    ...[FrameType.open, FrameType.request].map((type) =>
      fc.uint8Array({ maxLength: 1200 }).map((b): Probe => ({ name: `random bytes behind a type ${type} header ${where}`, opened, build: () => Buffer.concat([Buffer.from([protocolVersion, type]), b]) })),
    ),
  );
}

/** Well-formed frames that are not an authentic, fresh batch where they are sent; each with the code the node must close with. */
const misdirectedArb: fc.Arbitrary<Probe> = fc.oneof(
  specArb.map((s): Probe => ({
    name: 'a MACed frame (any key) as the first frame',
    opened: false,
    build: () => encodeRequest({ flags: 0, counter: 1n }, s.commands, { key: randomBytes(32) }).frame,
    expect: 'E_VERSION',
  })),
  specArb.map((s): Probe => ({
    name: 'an open frame signed for another session (challenge)',
    opened: false,
    build: () => encodeRequest({ flags: 0, counter: 1n, opening: { session: randomBytes(32), sessionKey: fuzzSessionKey } }, s.commands, { sign: manager.sign }).frame,
    expect: 'E_SESSION',
  })),
  specArb.map((s): Probe => ({
    name: 'an open frame signed by another manager key',
    opened: false,
    build: (live) => encodeRequest({ flags: 0, counter: 1n, opening: { session: live.hello.challenge, sessionKey: fuzzSessionKey } }, s.commands, { sign: stranger.sign }).frame,
    expect: 'E_SIGNATURE',
  })),
  specArb.map((s): Probe => ({
    name: 'a signed open frame whose session key gives no X25519 secret (all zero)',
    opened: false,
    build: (live) => encodeRequest({ flags: 0, counter: 1n, opening: { session: live.hello.challenge, sessionKey: Buffer.alloc(32) } }, s.commands, { sign: manager.sign }).frame,
    expect: 'E_FRAME',
  })),
  specArb.map((s): Probe => ({
    name: 'a signed open frame with counter 0',
    opened: false,
    build: (live) => encodeRequest({ flags: 0, counter: 0n, opening: { session: live.hello.challenge, sessionKey: fuzzSessionKey } }, s.commands, { sign: manager.sign }).frame,
    expect: 'E_REPLAY',
  })),
  specArb.map((s): Probe => ({
    name: 'a second signed open frame on an opened session',
    opened: true,
    build: (live) => validOpen(live, s),
    expect: 'E_VERSION',
  })),
  fc.tuple(specArb, fc.constantFrom('the reply key', 'a random key')).map(([s, which]): Probe => ({
    name: `a MACed frame under ${which}`,
    opened: true,
    build: (live) => encodeRequest({ flags: 0, counter: 2n }, s.commands, { key: which === 'the reply key' ? live.keys!.reply : randomBytes(32) }).frame,
    expect: 'E_SIGNATURE',
  })),
  fc.tuple(specArb, fc.constantFrom(0n, 1n)).map(([s, counter]): Probe => ({
    name: `a MACed frame with counter ${counter} (not above the open frame's)`,
    opened: true,
    build: (live) => encodeRequest({ flags: 0, counter }, s.commands, { key: live.keys!.request }).frame,
    expect: 'E_REPLAY',
  })),
);

t.test('fuzz: random, mutated, misdirected, text and oversized frames of both request types against a live node', { timeout: 60_000 }, async (t) => {
  const h = await startHarness(t);
  const groups: [string, fc.Arbitrary<Probe>, number][] = [
    ['random frames as a first frame', randomFrames(false), 300],
    ['random frames on an opened session', randomFrames(true), 300],
    ['mutated valid open frames as a first frame', mutationsOf('open frame', false, validOpen), 800],
    ['mutated valid MACed frames on an opened session', mutationsOf('MACed frame', true, validMaced), 800],
    ['misdirected frames', misdirectedArb, 300],
  ];
  for (const [name, arb, numRuns] of groups) {
    const before = h.executed;
    await fc.assert(
      fc.asyncProperty(arb, async (p) => {
        const why = await probe(h, p);
        if (why) throw new Error(why);
      }),
      { numRuns, endOnFailure: true },
    );
    t.pass(`${name}: ${numRuns} frames each answered by a close with its refusal code, store unchanged`);
    if (name.includes('opened session')) t.ok(h.executed - before >= BigInt(numRuns), `${name}: each on a session the harness opened (${h.executed - before} open frames ran)`);
    await checkAlive(t, h);
  }

  for (const [name, opened, frame, code, reason] of [
    ['a text frame as the first frame', false, 'HELLO?', 1003, 'binary frames only'],
    ['a text frame on an opened session', true, 'HELLO?', 1003, 'binary frames only'],
    // Before a session authenticates, the WebSocket layer refuses a frame over preAuthFrameBytesMax at its length header (1009).
    ['a first frame of preAuthFrameBytesMax + 1 bytes', false, Buffer.alloc(preAuthFrameBytesMax + 1), 1009, ''],
    ['a first frame of exactly frameBytesMax', false, Buffer.alloc(frameBytesMax, 0xff), 1009, ''],
    ['a first frame of frameBytesMax + 1 bytes', false, Buffer.alloc(frameBytesMax + 1), 1009, ''],
    // Once the open frame ran, frames up to frameBytesMax are read, and refused by the core (version 0 or 0xff).
    ['a frame of preAuthFrameBytesMax + 1 bytes on an opened session', true, Buffer.alloc(preAuthFrameBytesMax + 1), 4000, 'E_VERSION'],
    ['a frame of exactly frameBytesMax on an opened session', true, Buffer.alloc(frameBytesMax, 0xff), 4000, 'E_VERSION'],
    ['a frame of frameBytesMax + 1 bytes on an opened session', true, Buffer.alloc(frameBytesMax + 1), 1009, ''],
  ] as const) {
    const live = await newSession(h, opened);
    if (typeof live === 'string') throw new Error(live);
    const answer = await live.session.send(frame);
    t.same(answer, { kind: 'close', code, reason }, `${name}: the node closes the session with ${code} ${reason}`);
    live.session.close();
  }
  t.equal(storeDigest(h.node.core.store), h.digest);
  await checkAlive(t, h);
});

t.test('control: the valid frames the mutations start from are authentic where they are sent', async (t) => {
  const h = await startHarness(t);
  // A drawn spec (its commands may be out of range: then a MACed refusal, still a reply), and one that surely runs.
  const drawn = fc.sample(specArb, { numRuns: 1, seed: 42 })[0];
  const runs: FrameSpec = { commands: [{ op: Op.write, sector: 0, count: 1, data: Buffer.alloc(sectorBytes, 0x5a) }, { op: Op.read, sector: 0, count: 1 }], fill: 1 };
  for (const [spec, status] of [
    [drawn, undefined],
    [runs, Status.ok],
  ] as const) {
    for (const [name, opened, valid] of [
      ['a valid open frame as the first frame', false, validOpen],
      ['a valid MACed frame on an opened session', true, validMaced],
    ] as const) {
      const live = await newSession(h, opened);
      if (typeof live === 'string') throw new Error(live);
      const answer = await live.session.send(valid(live, spec));
      live.session.close();
      t.equal(answer.kind, 'reply', `${name} (${spec === runs ? 'in range' : 'drawn'}): answered with a reply, not a close`);
      if (answer.kind !== 'reply') continue;
      const reply = decodeReply(answer.frame, spec.commands, sectorBytes);
      if (status !== undefined) t.equal(reply.batchStatus, status, `${name}: executed`);
      // An open frame's reply is MACed with keys from fuzzSessionKey, whose private key the fuzzer dropped; a MACed frame's with the session's.
      if (live.keys) t.ok(replyAuthentic(live.keys.reply, answer.frame), `${name}: the reply carries the session's reply MAC`);
    }
  }
  t.not(storeDigest(h.node.core.store), h.digest, 'their WRITE changed the store, where no fuzz frame did');
});
