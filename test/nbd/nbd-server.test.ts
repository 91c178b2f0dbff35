// The TCP server driven by a raw-socket client: data round trips with simple
// and structured replies, errors that keep the connection usable, malformed
// and truncated input, disconnects mid-handshake and mid-request, many
// requests in flight with out-of-order replies and a bounded queue, output
// backpressure from a client that stops reading replies, FLUSH and
// FUA durability (write-back device + crash), multi-connection flush, and a
// clean close() with requests in flight.

import t, { type Test } from 'tap';
import { BlockDeviceError, type BlockDevice } from '../../array-manager/nbd/block-device.ts';
import { MemoryDevice } from '../../array-manager/nbd/memory-device.ts';
import { startNbdServer, type NbdServer, type NbdServerOptions } from '../../array-manager/nbd/nbd-server.ts';
import * as wire from '../../array-manager/nbd/nbd-wire.ts';
import { RawClient } from './nbd-test-client.ts';

const block = (fill: number, bytes = 4096) => Buffer.alloc(bytes, fill);
const { NBD_CMD_READ: READ, NBD_CMD_WRITE: WRITE, NBD_CMD_FLUSH: FLUSH, NBD_CMD_DISC: DISC } = wire;

async function serve(t: Test, opts: Partial<NbdServerOptions> & { exports: NbdServerOptions['exports'] }) {
  const lines: string[] = [];
  const server = await startNbdServer({ port: 0, log: (l) => lines.push(l), ...opts });
  t.teardown(() => server.close());
  return { server, lines, connect: () => RawClient.connect(server.address.port) };
}

/** A device that forwards to `inner` except for the members given. */
function delegate(inner: BlockDevice, over: Partial<BlockDevice>): BlockDevice {
  return {
    sizeBytes: inner.sizeBytes,
    blockBytes: inner.blockBytes,
    supportsMultiConn: inner.supportsMultiConn,
    read: (o, l) => inner.read(o, l),
    write: (o, d, f) => inner.write(o, d, f),
    flush: () => inner.flush(),
    trim: (o, l) => inner.trim(o, l),
    writeZeroes: (o, l, z) => inner.writeZeroes(o, l, z),
    ...over,
  };
}

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
}

t.test('write and read back, simple then structured replies', async (t) => {
  const device = new MemoryDevice({ sizeBytes: 1 << 20 });
  const { connect } = await serve(t, { exports: device });
  for (const structured of [false, true]) {
    const c = await connect();
    const info = await c.handshake({ structured });
    t.equal(info.sizeBytes, 1n << 20n);
    t.equal(info.minimumBytes, 1, 'unaligned requests accepted by default');
    const fill = structured ? 0x5a : 0xa5;
    const w = c.request(WRITE, 8192, 8192, { data: block(fill, 8192) });
    t.same(await c.reply(), { handle: w, error: 0, data: new Uint8Array(0), shape: 'simple' });
    const r = c.request(READ, 8192, 8192);
    const reply = await c.reply();
    t.equal(reply.handle, r);
    t.equal(reply.shape, structured ? '1' : 'simple', 'one OFFSET_DATA chunk when structured');
    t.same(reply.data, block(fill, 8192));
    // Unaligned read and write through the read-modify-write wrapper.
    c.request(WRITE, 8195, 10, { data: block(1, 10) });
    t.equal((await c.reply()).error, 0);
    c.request(READ, 8190, 20);
    t.same((await c.reply()).data, Buffer.concat([block(0, 2), block(fill, 3), block(1, 10), block(fill, 5)]));
    c.request(READ, 0, 0);
    t.same((await c.reply()).error, 0, 'zero-length read');
    c.request(DISC, 0, 0);
    t.ok(await c.closedByServer(), 'DISC closes the connection');
  }
});

t.test('errors keep the connection usable', async (t) => {
  const device = new MemoryDevice({ sizeBytes: 1 << 20 });
  const { connect } = await serve(t, { exports: device, strictAlignment: true });
  for (const structured of [false, true]) {
    const c = await connect();
    const info = await c.handshake({ structured });
    t.equal(info.minimumBytes, 4096, 'strict: the device block is the minimum');
    const expect = async (error: number, what: string) => {
      const reply = await c.reply();
      t.equal(reply.error, error, what);
      t.equal(reply.data.byteLength, 0, 'no data with an error');
      if (structured) t.ok(reply.message && reply.shape === String(wire.NBD_REPLY_TYPE_ERROR), 'error chunk with a message');
    };
    c.request(READ, 1 << 20, 4096);
    await expect(wire.NBD_EINVAL, 'read past the end');
    c.request(WRITE, 1 << 20, 4096, { data: block(1) });
    await expect(wire.NBD_ENOSPC, 'write past the end (payload consumed)');
    c.request(WRITE, 100, 4096, { data: block(1) });
    await expect(wire.NBD_EINVAL, 'unaligned write');
    c.request(READ, 0, 4096, { flags: 0x40 });
    await expect(wire.NBD_EINVAL, 'unknown flag');
    c.request(9, 0, 0);
    await expect(wire.NBD_EINVAL, 'unknown command');
    c.request(READ, 0, 64 << 20);
    await expect(wire.NBD_EINVAL, 'read longer than the maximum payload');
    c.request(READ, 0xfffffffffffff000n, 8192);
    await expect(wire.NBD_EINVAL, 'offset near 2^64');
    c.request(FLUSH, 0, 4096);
    await expect(wire.NBD_EINVAL, 'flush with a length');
    c.request(WRITE, 0, 4096, { data: block(9) });
    t.equal((await c.reply()).error, 0);
    c.request(READ, 0, 4096);
    t.same((await c.reply()).data, block(9), 'still serving after errors');
    c.destroy();
  }
});

t.test('device failures map to EIO and do not end the connection', async (t) => {
  const inner = new MemoryDevice({ sizeBytes: 1 << 16 });
  const failing = delegate(inner, {
    supportsMultiConn: false,
    read: async (o, l) => (o === 0 ? Promise.reject(new Error('disk on fire')) : inner.read(o, l)),
    write: async () => {
      throw new BlockDeviceError('E_DEVICE_NO_SPACE', 'full');
    },
  });
  const { connect, lines } = await serve(t, { exports: failing });
  const c = await connect();
  const info = await c.handshake({ structured: true });
  t.equal(info.flags & wire.NBD_FLAG_CAN_MULTI_CONN, 0, 'no multi-conn unless the device says so');
  t.equal(info.flags & wire.NBD_FLAG_SEND_FAST_ZERO, wire.NBD_FLAG_SEND_FAST_ZERO);
  c.request(READ, 0, 4096);
  const reply = await c.reply();
  t.equal(reply.error, wire.NBD_EIO);
  t.equal(reply.message, 'device I/O error', 'internal details stay in the log');
  t.ok(lines.some((l) => l.includes('disk on fire')));
  c.request(WRITE, 4096, 4096, { data: block(1) });
  t.equal((await c.reply()).error, wire.NBD_ENOSPC);
  c.request(wire.NBD_CMD_WRITE_ZEROES, 0, 4096, { flags: wire.NBD_CMD_FLAG_FAST_ZERO });
  t.equal((await c.reply()).error, wire.NBD_ENOTSUP, 'FAST_ZERO refused quickly by a device without fast zeroes');
  c.request(READ, 4096, 4096);
  t.equal((await c.reply()).error, 0);
  c.destroy();
});

t.test('malformed input, truncation and disconnects never hurt other clients or acknowledged data', async (t) => {
  const device = new MemoryDevice({ sizeBytes: 1 << 20 });
  const { server, connect, lines } = await serve(t, { exports: device, limits: { handshakeTimeoutMs: 300 } });
  const good = await connect();
  await good.handshake();
  good.request(WRITE, 0, 4096, { data: block(0x11) });
  t.equal((await good.reply()).error, 0, 'acknowledged write');

  // Bad request magic: the stream is out of step, the server hangs up.
  const bad = await connect();
  await bad.handshake();
  bad.send(Buffer.alloc(28, 0xff));
  t.ok(await bad.closedByServer(), 'bad magic: connection dropped');

  // Oversized write: EINVAL, then the server hangs up without reading 64 MiB.
  const big = await connect();
  await big.handshake();
  big.request(WRITE, 0, 64 << 20);
  t.equal((await big.reply()).error, wire.NBD_EINVAL);
  t.ok(await big.closedByServer(), 'oversized write: connection ended');

  // Disconnect in the middle of a write payload: nothing of it is applied.
  const cut = await connect();
  await cut.handshake();
  cut.send(Buffer.concat([wire.encodeRequestHeader({ flags: 0, type: WRITE, handle: 1n, offset: 0n, length: 8192 }), block(0xee, 5000)]));
  await new Promise((r) => setTimeout(r, 50));
  cut.destroy();

  // Many reads in flight, then disconnect before reading any reply.
  const gone = await connect();
  await gone.handshake({ structured: true });
  for (let i = 0; i < 50; i++) gone.request(READ, 0, 65536);
  gone.destroy();

  // A truncated request header, then disconnect.
  const half = await connect();
  await half.handshake();
  half.send(wire.encodeRequestHeader({ flags: 0, type: READ, handle: 1n, offset: 0n, length: 4096 }).subarray(0, 13));
  half.destroy();

  // Disconnects during the handshake: before the client flags, inside an option, after a GO request.
  const early = await connect();
  await early.greeting();
  early.destroy();
  const mid = await connect();
  await mid.greeting();
  mid.send(Buffer.concat([wire.encodeClientFlags(1), wire.encodeOptionHeader({ option: wire.NBD_OPT_GO, length: 50 }), Buffer.alloc(10)]));
  mid.destroy();
  // A client that goes quiet is dropped by the handshake timeout.
  const quiet = await connect();
  await quiet.greeting();
  t.ok(await quiet.closedByServer(), 'handshake timeout');
  // Unknown client flags: hang up.
  const flags = await connect();
  await flags.greeting();
  flags.send(wire.encodeClientFlags(0x80));
  t.ok(await flags.closedByServer(), 'unknown client flags');

  good.request(READ, 0, 8192);
  const reply = await good.reply();
  t.same(reply.data, Buffer.concat([block(0x11), block(0)]), 'acknowledged data intact, cut write not applied');
  await until(() => server.connections === 1);
  t.equal(server.connections, 1, 'only the good connection is left');
  t.ok(lines.some((l) => l.includes('bad magic')));
  t.ok(lines.some((l) => l.includes('handshake timeout')));
  good.destroy();
});

t.test('many requests in flight: out-of-order replies, bounded concurrency', async (t) => {
  const inner = new MemoryDevice({ sizeBytes: 1 << 20 });
  let running = 0;
  let runningMax = 0;
  const blocks = 256;
  // Within each run of 8 blocks, later ones finish sooner, so replies must overtake each other.
  const slowDown = async (offset: number) => {
    running++;
    runningMax = Math.max(runningMax, running);
    for (let i = 8 - ((offset / 4096) % 8); i > 0; i--) await new Promise((r) => setImmediate(r));
    running--;
  };
  const device = delegate(inner, {
    read: async (o, l) => (await slowDown(o), inner.read(o, l)),
    write: async (o, d, f) => (await slowDown(o), inner.write(o, d.slice(), f)),
  });
  const { connect } = await serve(t, { exports: device, limits: { requestsInFlightMax: 8 } });
  const c = await connect();
  await c.handshake({ structured: true });
  const sent = new Map<bigint, number>();
  for (let i = 0; i < blocks; i++) sent.set(c.request(WRITE, i * 4096, 4096, { data: block(i % 251) }), i);
  const order: number[] = [];
  for (let i = 0; i < blocks; i++) {
    const reply = await c.reply();
    t.equal(reply.error, 0);
    order.push(sent.get(reply.handle)!);
    sent.delete(reply.handle);
  }
  t.equal(sent.size, 0, 'one reply per handle');
  t.ok(order.some((v, i) => i > 0 && v < order[i - 1]), 'replies came out of order');
  t.ok(runningMax > 1 && runningMax <= 8, `device saw ${runningMax} requests at once (limit 8)`);
  const reads = new Map<bigint, number>();
  for (let i = 0; i < blocks; i++) reads.set(c.request(READ, i * 4096, 4096), i);
  for (let i = 0; i < blocks; i++) {
    const reply = await c.reply();
    const index = reads.get(reply.handle)!;
    if (Buffer.compare(reply.data, block(index % 251)) !== 0) t.fail(`block ${index} read back wrong`);
  }
  t.pass('every block read back');
  c.destroy();
});

t.test('a client that does not read its replies is not served without bound', async (t) => {
  const inner = new MemoryDevice({ sizeBytes: 1 << 20 });
  let reads = 0;
  const device = delegate(inner, { read: (o, l) => (reads++, inner.read(o, l)) });
  const { connect } = await serve(t, { exports: device, limits: { sendBufferBytesMax: 1 << 20 } });
  const c = await connect();
  await c.handshake();
  c.socket.pause(); // stop reading replies
  const total = 400;
  for (let i = 0; i < total; i++) c.request(READ, 0, 1 << 20);
  await new Promise((r) => setTimeout(r, 300));
  t.ok(reads < total / 2, `server stopped after ${reads} of ${total} reads while replies were not read`);
  c.socket.resume();
  for (let i = 0; i < total; i++) if ((await c.reply()).error !== 0) t.fail('read failed');
  t.equal(reads, total, 'every read served once the client reads again');
  c.destroy();
});

t.test('FLUSH and FUA: acknowledged means durable, across connections', async (t) => {
  const device = new MemoryDevice({ sizeBytes: 1 << 20, writeBack: true });
  const { connect } = await serve(t, { exports: device });
  const a = await connect();
  const b = await connect();
  t.equal((await a.handshake()).flags & wire.NBD_FLAG_CAN_MULTI_CONN, wire.NBD_FLAG_CAN_MULTI_CONN);
  await b.handshake();
  a.request(WRITE, 0, 4096, { data: block(1) });
  t.equal((await a.reply()).error, 0);
  b.request(FLUSH, 0, 0);
  t.equal((await b.reply()).error, 0, 'flush on another connection');
  a.request(WRITE, 4096, 4096, { data: block(2), flags: wire.NBD_CMD_FLAG_FUA });
  t.equal((await a.reply()).error, 0);
  // FUA on WRITE_ZEROES is served with a device flush, so it goes before the unflushed write.
  a.request(wire.NBD_CMD_WRITE_ZEROES, 12288, 4096, { flags: wire.NBD_CMD_FLAG_FUA | wire.NBD_CMD_FLAG_NO_HOLE });
  t.equal((await a.reply()).error, 0);
  a.request(WRITE, 8192, 4096, { data: block(3) });
  t.equal((await a.reply()).error, 0);
  device.crash();
  const after = await device.read(0, 16384);
  t.equal(after[0], 1, 'write covered by FLUSH survived');
  t.equal(after[4096], 2, 'FUA write survived');
  t.equal(after[8192], 0, 'unflushed write lost: the device really is write-back');
  t.equal(after[12288], 0);
  a.destroy();
  b.destroy();
});

t.test('close() finishes running requests, answers new ones with ESHUTDOWN, then closes', async (t) => {
  const inner = new MemoryDevice({ sizeBytes: 1 << 16 });
  let release = () => {};
  let readsStarted = 0;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const device = delegate(inner, { read: async (o, l) => (readsStarted++, await gate, inner.read(o, l)) });
  const server: NbdServer = await startNbdServer({ port: 0, exports: device, limits: { closeLingerMs: 100 } });
  const c = await RawClient.connect(server.address.port);
  await c.handshake();
  const handshaking = await RawClient.connect(server.address.port);
  await handshaking.greeting();
  const pending = c.request(READ, 0, 4096);
  await until(() => readsStarted === 1);
  const closed = server.close();
  t.ok(await handshaking.closedByServer(), 'connections still in the handshake are dropped');
  const late = c.request(READ, 4096, 4096);
  const lateReply = await c.reply();
  t.same([lateReply.handle, lateReply.error], [late, wire.NBD_ESHUTDOWN], 'new request refused with ESHUTDOWN');
  release();
  const reply = await c.reply();
  t.same([reply.handle, reply.error], [pending, 0], 'running request completed');
  t.ok(await c.closedByServer(), 'then the connection closes');
  await closed;
  t.equal(server.connections, 0);
  await t.rejects(RawClient.connect(server.address.port), 'no longer listening');
});

t.test('connection limit and export names', async (t) => {
  const exports = new Map([
    ['a', new MemoryDevice({ sizeBytes: 1 << 16 })],
    ['b', new MemoryDevice({ sizeBytes: 1 << 17, readOnly: true })],
  ]);
  const { connect } = await serve(t, { exports, limits: { connectionsMax: 2 } });
  const a = await connect();
  const b = await connect();
  t.equal((await a.handshake({ name: 'a' })).sizeBytes, 1n << 16n);
  const info = await b.handshake({ name: 'b' });
  t.equal(info.sizeBytes, 1n << 17n);
  t.equal(info.flags & wire.NBD_FLAG_READ_ONLY, wire.NBD_FLAG_READ_ONLY);
  b.request(WRITE, 0, 4096, { data: block(1) });
  t.equal((await b.reply()).error, wire.NBD_EPERM, 'read-only export refuses writes');
  const third = await connect();
  t.ok(await third.closedByServer(), 'third connection refused');
  a.destroy();
  b.destroy();
  await t.rejects(startNbdServer({ port: 0, exports: { ...exports.get('a')!, sizeBytes: 100 } as BlockDevice }), /sizeBytes/);
});
