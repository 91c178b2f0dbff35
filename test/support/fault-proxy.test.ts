// The fault proxy (fault-proxy.ts) does what it says: RFC 6455 framing
// parsed in both directions whatever the masking key; at rate 0 every byte
// passes unchanged; each fault at rate 1 does exactly its one thing. The
// FrameLink tests feed bytes by hand; the last ones run real ws endpoints
// through the proxy.
import t, { type Test } from 'tap';
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';
import { prng } from '../sim/prng.ts';
import { encodeFrame, framePayload, FrameLink, noFaults, parseFrameHeader, startFaultProxy, type FaultConfig, type FaultRates } from './fault-proxy.ts';

const binary = 2;
const close = 8;
const request = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
const response = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');

function bytes(seed: number, n: number): Buffer {
  const next = prng(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
}

/** Frames of every length encoding, masked with a random key, an all-zero key, or not at all. */
function sampleFrames(): Buffer[] {
  const sizes = [0, 1, 125, 126, 1000, 65535, 65536, 70000];
  return sizes.map((n, i) => encodeFrame(binary, bytes(i + 1, n), i % 3 === 0 ? undefined : i % 3 === 1 ? bytes(99 + i, 4) : Buffer.alloc(4)));
}

/** A link whose output is collected, with `rates` (the config stays mutable). */
function link(rates: Partial<FaultRates>, over: Partial<FaultConfig> = {}, isResponse = false) {
  const config = { ...noFaults(), ...over, rates };
  const out: Buffer[] = [];
  let resets = 0;
  const l = new FrameLink(config, prng(7), (b) => out.push(b), () => resets++, isResponse);
  t.teardown(() => l.close());
  l.push(isResponse ? response : request);
  out.length = 0; // the HTTP head, checked in its own test
  return { l, out, config, resets: () => resets };
}

/** Bits that differ between two buffers of one length. */
function bitsDiffering(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) for (let x = a[i] ^ b[i]; x; x &= x - 1) n++;
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('frame headers: every length encoding, masked or not, round trips; a partial header is incomplete', async (t) => {
  for (const f of sampleFrames()) {
    const h = parseFrameHeader(f)!;
    t.equal(h.headerBytes + h.payloadBytes, f.length, `a ${h.payloadBytes}-byte frame is parsed whole`);
    t.equal(parseFrameHeader(f.subarray(0, h.headerBytes - 1)), undefined, 'one header byte short is incomplete');
  }
  const payload = bytes(3, 300);
  t.same(framePayload(encodeFrame(binary, payload, bytes(4, 4))), payload, 'unmasking recovers the payload');
  t.not(encodeFrame(binary, payload, bytes(4, 4)).subarray(8).equals(payload), 'a nonzero key does mask it');
});

t.test('at rate 0 both directions pass byte for byte, however the bytes are split', async (t) => {
  for (const isResponse of [false, true]) {
    const out: Buffer[] = [];
    const l = new FrameLink(noFaults(), prng(1), (b) => out.push(b), () => t.fail('no reset'), isResponse);
    const input = Buffer.concat([isResponse ? response : request, ...sampleFrames(), encodeFrame(close, Buffer.from([3, 232]))]);
    const cut = prng(11);
    for (let at = 0; at < input.length; ) {
      const n = 1 + Math.floor(cut() * 3000);
      l.push(input.subarray(at, at + n));
      at += n;
    }
    t.same(Buffer.concat(out), input, `${isResponse ? 'node to manager' : 'manager to node'}: unchanged`);
    t.equal(l.counts.frames, sampleFrames().length, 'every data frame was parsed as one');
  }
});

t.test('a response that is not 101 passes raw, never parsed as frames', async (t) => {
  const out: Buffer[] = [];
  const l = new FrameLink({ ...noFaults(), rates: { drop: 1 } }, prng(1), (b) => out.push(b), () => {}, true);
  const input = Buffer.from('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 4\r\n\r\nbody');
  l.push(input);
  t.same(Buffer.concat(out), input);
  t.equal(l.counts.frames, 0);
});

t.test('duplicate: every frame twice, in order', async (t) => {
  const { l, out } = link({ duplicate: 1 });
  const frames = sampleFrames();
  frames.forEach((f) => l.push(f));
  t.same(out, frames.flatMap((f) => [f, f]));
});

t.test('reorder: each frame swaps with the next; a last frame alone goes after reorderWaitMs', async (t) => {
  const { l, out } = link({ reorder: 1 }, { reorderWaitMs: 20 });
  const [a, b, c, d, e] = sampleFrames();
  [a, b, c, d, e].forEach((f) => l.push(f));
  t.same(out, [b, a, d, c], 'pairs swapped; the fifth is held');
  await sleep(60);
  t.same(out, [b, a, d, c, e], 'and released when no next frame came');
});

t.test('corrupt: exactly one payload bit flipped, header kept; corruptFrame: one bit anywhere', async (t) => {
  const frames = sampleFrames().filter((f) => parseFrameHeader(f)!.payloadBytes > 0);
  const payloadOnly = link({ corrupt: 1 });
  const anywhere = link({ corruptFrame: 1 });
  for (const f of frames) {
    payloadOnly.l.push(Buffer.from(f));
    anywhere.l.push(Buffer.from(f));
  }
  frames.forEach((f, i) => {
    const h = parseFrameHeader(f)!;
    const got = payloadOnly.out[i];
    t.same(got.subarray(0, h.headerBytes), f.subarray(0, h.headerBytes), `${h.payloadBytes}-byte frame: header kept`);
    t.equal(bitsDiffering(framePayload(got), framePayload(f)), 1, 'one payload bit differs after unmasking');
    t.equal(bitsDiffering(anywhere.out[i], f), 1, 'corruptFrame: one bit of the frame differs');
  });
  const { l, out } = link({ corrupt: 1 });
  const closeFrame = encodeFrame(close, Buffer.from([3, 232]), bytes(5, 4));
  l.push(closeFrame);
  t.same(out, [closeFrame], 'a control frame passes unfaulted');
});

t.test('delay: the frame and the ones after it wait delayMs, in order', async (t) => {
  const { l, out, config } = link({ delay: 1 }, { delayMs: 40 });
  const [a, b] = sampleFrames();
  // Timed from before the push (the hold counts from it): a collector's pause in the lines below must not eat into it.
  const started = Date.now();
  l.push(a);
  config.rates = {};
  l.push(b);
  t.same(out, [], 'nothing yet: b waits behind the delayed a');
  while (out.length < 2 && Date.now() - started < 2000) await sleep(5);
  t.same(out, [a, b]);
  t.ok(Date.now() - started >= 35, 'held for about delayMs');
});

t.test('withhold: later frames overtake the withheld one, which comes after withholdMs', async (t) => {
  const { l, out, config } = link({ withhold: 1 }, { withholdMs: 30 });
  const [a, b, c] = sampleFrames();
  l.push(a);
  config.rates = {};
  l.push(b);
  l.push(c);
  t.same(out, [b, c]);
  await sleep(80);
  t.same(out, [b, c, a]);
});

t.test('drop sends nothing; reset calls reset and forwards nothing more', async (t) => {
  const dropped = link({ drop: 1 });
  sampleFrames().forEach((f) => dropped.l.push(f));
  t.same(dropped.out, []);
  t.equal(dropped.l.counts.drop, sampleFrames().length);
  const reset = link({ reset: 1 });
  sampleFrames().forEach((f) => reset.l.push(f));
  t.equal(reset.resets(), 1, 'one reset');
  t.same(reset.out, []);
});

t.test('the rates pick faults in proportion, from the seed', async (t) => {
  const run = () => {
    const { l, out } = link({ duplicate: 0.2, drop: 0.1 });
    const f = sampleFrames()[2];
    for (let i = 0; i < 2000; i++) l.push(f);
    return { counts: { ...l.counts }, frames: out.length };
  };
  const first = run();
  t.same(run(), first, 'the same seed gives the same faults');
  t.ok(first.counts.duplicate > 300 && first.counts.duplicate < 500, `about 20% duplicated (${first.counts.duplicate} of 2000)`);
  t.ok(first.counts.drop > 120 && first.counts.drop < 280, `about 10% dropped (${first.counts.drop} of 2000)`);
  t.equal(first.frames, 2000 + first.counts.duplicate - first.counts.drop, 'each fault changed the output as it says');
});

/** A ws server on 127.0.0.1 that records each message and echoes it; and a proxy in front of it. */
async function echoBehindProxy(t: Test, config = noFaults()) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(server, 'listening');
  const received: Buffer[] = [];
  server.on('connection', (ws) => ws.on('message', (m: Buffer) => (received.push(m), ws.send(m))));
  const proxy = await startFaultProxy((server.address() as { port: number }).port, 1, config);
  t.teardown(async () => {
    await proxy.close();
    server.clients.forEach((c) => c.terminate());
    server.close();
  });
  return { proxy, received };
}

async function client(url: string, zeroMask: boolean): Promise<{ ws: WebSocket; echoes: Buffer[] }> {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...(zeroMask ? { generateMask: (m: Buffer) => void m.fill(0) } : {}) });
  const echoes: Buffer[] = [];
  ws.on('message', (m: Buffer) => echoes.push(m));
  ws.on('error', () => {});
  await once(ws, 'open');
  return { ws, echoes };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await sleep(5);
}

t.test('real ws endpoints at rate 0: messages and echoes pass unchanged, any masking key', async (t) => {
  const { proxy, received } = await echoBehindProxy(t);
  const messages = [0, 10, 200, 70_000, 300_000].map((n) => bytes(n + 1, n));
  for (const zeroMask of [false, true]) {
    received.length = 0;
    const { ws, echoes } = await client(proxy.url, zeroMask);
    messages.forEach((m) => ws.send(m));
    await until(() => echoes.length === messages.length);
    t.same(received, messages, `the server got every message (${zeroMask ? 'zero' : 'random'} masks)`);
    t.same(echoes, messages, 'and the client every echo');
    ws.terminate();
  }
  t.equal(proxy.counts.toNode.frames, 2 * messages.length, 'the proxy parsed each frame toward the server');
});

t.test('real ws endpoints: duplication doubles messages; a reset closes the client', async (t) => {
  const config: FaultConfig = { ...noFaults(), rates: { duplicate: 1 } };
  const { proxy, received } = await echoBehindProxy(t, config);
  const { ws, echoes } = await client(proxy.url, true);
  ws.send(Buffer.from('one'));
  await until(() => echoes.length === 4);
  t.same(received.map(String), ['one', 'one'], 'the server got it twice');
  t.same(echoes.map(String), ['one', 'one', 'one', 'one'], 'both echoes, each twice');
  config.rates = { reset: 1 };
  const closed = once(ws, 'close');
  ws.send(Buffer.from('two'));
  await closed;
  t.pass('the reset closed the client');
  t.equal(received.length, 2, 'the frame that reset never arrived');
});
