// The bounds a client that may connect still cannot exceed: connections in
// the handshake, connections open (an idle one makes room, a busy one does
// not), the idle timeout, the in-flight budget counting every request kind
// (TRIM, WRITE_ZEROES and FLUSH carry no payload but cost device work), and
// the payload budget shared by all connections (incomplete writes cannot
// hold more than it).
//
// No assertion depends on timing: the server parses everything a client sent
// in one synchronous pass, so once a device call is seen, the set of started
// calls is final until one completes (checked after a few event-loop turns).

import { setImmediate as turn } from 'node:timers/promises';
import t, { type Test } from 'tap';
import type { BlockDevice } from '../../array-manager/nbd/block-device.ts';
import { MemoryDevice } from '../../array-manager/nbd/memory-device.ts';
import type { NbdLimits } from '../../array-manager/nbd/nbd-limits.ts';
import { startNbdServer } from '../../array-manager/nbd/nbd-server.ts';
import * as wire from '../../array-manager/nbd/nbd-wire.ts';
import { RawClient } from './nbd-test-client.ts';

const { NBD_CMD_READ: READ, NBD_CMD_WRITE: WRITE, NBD_CMD_TRIM: TRIM, NBD_CMD_WRITE_ZEROES: ZEROES, NBD_CMD_FLUSH: FLUSH } = wire;
const KiB = 1024;

/** A device whose calls wait until the test releases them, counting how many started. */
function gatedDevice(sizeBytes: number) {
  const inner = new MemoryDevice({ sizeBytes });
  const waiting: (() => void)[] = [];
  let started = 0;
  const gate = async <T>(call: () => Promise<T>): Promise<T> => {
    started++;
    await new Promise<void>((resolve) => waiting.push(resolve));
    return call();
  };
  const device: BlockDevice = {
    sizeBytes,
    blockBytes: inner.blockBytes,
    supportsMultiConn: true,
    read: (o, l) => gate(() => inner.read(o, l)),
    write: (o, d, f) => gate(() => inner.write(o, d, f)),
    flush: () => gate(() => inner.flush()),
    trim: (o, l) => gate(() => inner.trim(o, l)),
    writeZeroes: (o, l, z) => gate(() => inner.writeZeroes(o, l, z)),
  };
  return {
    device,
    get started() {
      return started;
    },
    releaseOne: () => waiting.shift()?.(),
    releaseAll: () => waiting.splice(0).forEach((r) => r()),
  };
}

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!what()) throw new Error('condition not reached');
}

/** A few event-loop turns: whatever the server would start synchronously has started. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await turn();
}

async function serve(t: Test, device: BlockDevice, limits: Partial<NbdLimits>) {
  const lines: string[] = [];
  const server = await startNbdServer({ port: 0, exports: device, limits, strictAlignment: true, log: (l) => lines.push(l) });
  t.teardown(() => server.close());
  return { server, lines, connect: () => RawClient.connect(server.address.port) };
}

t.test('in-flight budget counts TRIM, WRITE_ZEROES and FLUSH, not only payloads', async (t) => {
  for (const [what, type, length] of [
    ['TRIM', TRIM, 512 * KiB],
    ['WRITE_ZEROES', ZEROES, 512 * KiB],
    ['FLUSH (charged requestCostBytesMin)', FLUSH, 0],
  ] as const) {
    const gated = gatedDevice(8 << 20);
    const { connect } = await serve(t, gated.device, { inFlightBytesMax: 1024 * KiB, requestCostBytesMin: 256 * KiB, requestsInFlightMax: 64 });
    const c = await connect();
    await c.handshake();
    for (let i = 0; i < 10; i++) c.request(type, type === FLUSH ? 0 : i * length, length);
    const expected = type === FLUSH ? 4 : 2; // 1 MiB of budget: 2 x 512 KiB, or 4 x 256 KiB
    await until(() => gated.started >= expected);
    await settle();
    t.equal(gated.started, expected, `${what}: ${expected} of 10 run at once`);
    gated.releaseOne();
    await c.reply();
    await until(() => gated.started >= expected + 1);
    await settle();
    t.equal(gated.started, expected + 1, `${what}: one more starts when one completes`);
    for (let i = 1; i < 10; i++) {
      gated.releaseAll(); // what has started; the rest start as replies free the budget
      const reply = c.reply();
      await until(() => (gated.releaseAll(), true));
      t.equal((await reply).error, 0);
    }
    c.destroy();
  }
});

t.test('incomplete writes across connections hold at most the payload budget', async (t) => {
  const device = new MemoryDevice({ sizeBytes: 4 << 20 });
  const payload = 256 * KiB;
  const { server, connect } = await serve(t, device, { payloadBytesMax: payload, payloadBytesHeldMax: 2 * payload, inFlightBytesMax: payload });
  const clients = await Promise.all([connect(), connect(), connect(), connect()]);
  for (const c of clients) await c.handshake();
  const data = (i: number) => Buffer.alloc(payload, i + 1);
  // Every client announces a maximum-size write and sends half of it.
  const headers = clients.map((c, i) => wire.encodeRequestHeader({ flags: 0, type: WRITE, handle: 1n, offset: BigInt(i * payload), length: payload }));
  clients.forEach((c, i) => c.send(Buffer.concat([headers[i]!, data(i).subarray(0, payload / 2)])));
  await until(() => server.payloadBytesHeld === 2 * payload);
  await settle();
  t.equal(server.payloadBytesHeld, 2 * payload, 'two reservations granted, two clients wait (not reading)');

  // The first two to reserve finish; the waiting ones then get their turn.
  clients.forEach((c, i) => c.send(data(i).subarray(payload / 2)));
  for (const c of clients) t.equal((await c.reply()).error, 0);
  t.equal(server.payloadBytesHeld, 0, 'everything returned');
  for (let i = 0; i < 4; i++) t.ok(data(i).equals(await device.read(i * payload, payload)), `write ${i} landed whole`);

  // A client that leaves mid-payload gives its reservation back.
  const quitter = clients[0]!;
  quitter.send(Buffer.concat([wire.encodeRequestHeader({ flags: 0, type: WRITE, handle: 2n, offset: 0n, length: payload }), data(9).subarray(0, 100)]));
  await until(() => server.payloadBytesHeld === payload);
  quitter.destroy();
  await until(() => server.payloadBytesHeld === 0);
  t.pass('a disconnect mid-payload releases its reservation');
  t.ok(data(0).equals(await device.read(0, payload)), 'and its partial write was never applied');
  for (const c of clients) c.destroy();
});

t.test('a READ waits for the payload budget too', async (t) => {
  const gated = gatedDevice(4 << 20);
  const { server, connect } = await serve(t, gated.device, { payloadBytesMax: 256 * KiB, payloadBytesHeldMax: 256 * KiB });
  const a = await connect();
  const b = await connect();
  await a.handshake();
  await b.handshake();
  a.request(READ, 0, 256 * KiB);
  await until(() => gated.started === 1);
  b.request(READ, 0, 4 * KiB);
  await settle();
  t.equal(gated.started, 1, 'the second read waits while the first holds the whole budget');
  t.equal(server.payloadBytesHeld, 256 * KiB);
  gated.releaseOne();
  t.equal((await a.reply()).error, 0);
  await until(() => gated.started === 2);
  gated.releaseAll();
  t.equal((await b.reply()).error, 0);
  a.destroy();
  b.destroy();
});

t.test('connections in the handshake are bounded; the excess is closed at once', async (t) => {
  const { connect, lines } = await serve(t, new MemoryDevice({ sizeBytes: 1 << 20 }), { handshakesMax: 2 });
  const a = await connect();
  const b = await connect();
  await a.greeting();
  await b.greeting();
  const c = await connect();
  t.ok(await c.closedByServer(), 'third handshake refused');
  t.ok(lines.some((l) => /already in the handshake/.test(l)));
  a.destroy();
  b.destroy();
});

t.test('idle connections: closed after idleTimeoutMs; a busy one is not', async (t) => {
  const gated = gatedDevice(1 << 20);
  const { connect, lines } = await serve(t, gated.device, { idleTimeoutMs: 50 });
  const idle = await connect();
  await idle.handshake();
  t.ok(await idle.closedByServer(), 'an idle connection is closed');
  t.ok(lines.some((l) => /idle for \d+ ms/.test(l)), 'and the log says why');

  const busy = await connect();
  await busy.handshake();
  busy.request(READ, 0, 4096);
  await until(() => gated.started === 1);
  await new Promise((r) => setTimeout(r, 150)); // three timeouts pass while the read runs
  gated.releaseAll();
  t.equal((await busy.reply()).error, 0, 'a connection with a request in progress is kept');
  t.ok(await busy.closedByServer(), 'and closed once idle');
});

t.test('at the connection bound an idle connection makes room; busy ones do not', async (t) => {
  const gated = gatedDevice(1 << 20);
  const { connect, lines } = await serve(t, gated.device, { connectionsMax: 2, idleEvictMs: 1 });
  const busy = await connect();
  const idle = await connect();
  await busy.handshake();
  await idle.handshake();
  busy.request(READ, 0, 4096);
  await until(() => gated.started === 1);
  await new Promise((r) => setTimeout(r, 20)); // longer than idleEvictMs
  const newcomer = await connect();
  await newcomer.greeting();
  t.pass('the newcomer is served');
  t.ok(await idle.closedByServer(), 'the idle connection made room');
  t.ok(lines.some((l) => /its place is needed/.test(l)));
  const refused = await connect();
  t.ok(await refused.closedByServer(), 'nobody idle (one busy, one handshaking): refused');
  gated.releaseAll();
  t.equal((await busy.reply()).error, 0, 'the busy connection was untouched');
  for (const c of [busy, newcomer]) c.destroy();
});
