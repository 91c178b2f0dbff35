// MemoryDevice and UnalignedDevice against a plain byte-array model:
// sequences of random operations, concurrent writes to disjoint bytes of the
// same blocks (the read-modify-write race), write-back durability (flush,
// FUA, crash), and negative cases (unaligned, out of range, read-only, bad
// geometry).

import t from 'tap';
import fc from 'fast-check';
import { BlockDeviceError, type BlockDevice } from '../../array-manager/nbd/block-device.ts';
import { MemoryDevice } from '../../array-manager/nbd/memory-device.ts';
import { UnalignedDevice } from '../../array-manager/nbd/unaligned-device.ts';
import { blockDeviceConformance } from './block-device-conformance.ts';

/** Wraps a device so each call resolves after a random number of event-loop turns, exposing interleavings. */
function jittery(inner: BlockDevice, delays: () => number): BlockDevice {
  const wait = async () => {
    for (let i = delays(); i > 0; i--) await new Promise((r) => setImmediate(r));
  };
  return {
    sizeBytes: inner.sizeBytes,
    blockBytes: inner.blockBytes,
    supportsMultiConn: inner.supportsMultiConn,
    read: async (o, l) => (await wait(), inner.read(o, l).then(async (d) => (await wait(), d))),
    write: async (o, d, f) => (await wait(), inner.write(o, d.slice(), f)),
    flush: async () => (await wait(), inner.flush()),
    trim: async (o, l) => (await wait(), inner.trim(o, l)),
    writeZeroes: async (o, l, opts) => (await wait(), inner.writeZeroes(o, l, opts)),
  };
}

const rangeError = { name: 'BlockDeviceError', code: 'E_DEVICE_RANGE' };

await blockDeviceConformance(t, 'MemoryDevice', () => new MemoryDevice({ sizeBytes: 1 << 20 }));
await blockDeviceConformance(t, 'MemoryDevice write-back, 512-byte blocks', () => new MemoryDevice({ sizeBytes: 1 << 16, blockBytes: 512, writeBack: true }));
await blockDeviceConformance(t, 'UnalignedDevice over MemoryDevice', () => new UnalignedDevice(new MemoryDevice({ sizeBytes: 1 << 20 })));

t.test('MemoryDevice rejects bad arguments and geometry', async (t) => {
  const d = new MemoryDevice({ sizeBytes: 8192 });
  await t.rejects(d.read(1, 4096), rangeError, 'unaligned offset');
  await t.rejects(d.read(0, 100), rangeError, 'partial block');
  await t.rejects(d.read(4096, 8192), rangeError, 'past the end');
  await t.rejects(d.write(-4096, new Uint8Array(4096), false), rangeError, 'negative offset');
  await t.rejects(d.trim(0.5, 4096), rangeError, 'fractional offset');
  const ro = new MemoryDevice({ sizeBytes: 8192, readOnly: true });
  await t.rejects(ro.write(0, new Uint8Array(4096), false), { code: 'E_DEVICE_READ_ONLY' });
  await t.rejects(ro.writeZeroes(0, 4096, { noHole: false }), { code: 'E_DEVICE_READ_ONLY' });
  t.throws(() => new MemoryDevice({ sizeBytes: 4097 }), /sizeBytes/);
  t.throws(() => new MemoryDevice({ sizeBytes: 4096, blockBytes: 3000 }), /blockBytes/);
  t.throws(() => new MemoryDevice({ sizeBytes: 1 << 17, blockBytes: 1 << 17 }), /blockBytes/);
  t.throws(() => new MemoryDevice({ sizeBytes: 8 * 1024 ** 3 }), /exceeds/);
  t.ok(new BlockDeviceError('E_DEVICE_IO', 'x') instanceof Error);
});

t.test('MemoryDevice write-back: flush and FUA make writes durable, crash loses the rest', async (t) => {
  const d = new MemoryDevice({ sizeBytes: 16 * 4096, writeBack: true });
  const block = (v: number) => new Uint8Array(4096).fill(v);
  await d.write(0, block(1), false);
  await d.flush();
  await d.write(0, block(2), false); // volatile, overwrites a durable block
  await d.write(4096, block(3), true); // FUA: durable at once
  await d.write(8192, block(4), false); // volatile
  t.same((await d.read(0, 12288)).subarray(0, 1)[0], 2, 'reads see the cache');
  t.equal(d.dirtyBlocks, 2);
  d.crash();
  const after = await d.read(0, 12288);
  t.equal(after[0], 1, 'unflushed overwrite lost, flushed value back');
  t.equal(after[4096], 3, 'FUA write survived');
  t.equal(after[8192], 0, 'unflushed write lost');
  await d.write(8192, block(5), false);
  await d.writeZeroes(8192, 4096, { noHole: true });
  d.crash();
  t.equal((await d.read(8192, 4096))[0], 0, 'zeroing after a cached write is not undone by a crash');
});

interface Op {
  kind: 'write' | 'zero' | 'trim' | 'read';
  offset: number;
  length: number;
  fill: number;
}

const sizeBytes = 8 * 4096;
const op: fc.Arbitrary<Op> = fc
  .record({
    kind: fc.constantFrom<Op['kind']>('write', 'zero', 'trim', 'read'),
    offset: fc.nat({ max: sizeBytes - 1 }),
    length: fc.nat({ max: 3 * 4096 }),
    fill: fc.integer({ min: 1, max: 255 }),
  })
  .map((o) => ({ ...o, length: Math.min(o.length, sizeBytes - o.offset) }));

t.test('UnalignedDevice matches a byte-array model, one operation at a time', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 30 }), fc.constantFrom(512, 4096), async (ops, blockBytes) => {
      const device = new UnalignedDevice(new MemoryDevice({ sizeBytes, blockBytes }));
      const model = new Uint8Array(sizeBytes);
      for (const o of ops) {
        if (o.kind === 'write') {
          await device.write(o.offset, new Uint8Array(o.length).fill(o.fill), false);
          model.fill(o.fill, o.offset, o.offset + o.length);
        } else if (o.kind === 'zero') {
          await device.writeZeroes(o.offset, o.length, { noHole: false });
          model.fill(0, o.offset, o.offset + o.length);
        } else if (o.kind === 'trim') {
          // Trim leaves contents unspecified; only aligned blocks inside the range may change (MemoryDevice zeroes them).
          await device.trim(o.offset, o.length);
          const start = Math.ceil(o.offset / blockBytes) * blockBytes;
          const end = Math.floor((o.offset + o.length) / blockBytes) * blockBytes;
          if (end > start) model.fill(0, start, end);
        } else {
          const got = await device.read(o.offset, o.length);
          if (Buffer.compare(got, model.subarray(o.offset, o.offset + o.length)) !== 0) return false;
        }
      }
      return Buffer.compare(await device.read(0, sizeBytes), model) === 0;
    }),
    { numRuns: 200 },
  );
});

t.test('UnalignedDevice: concurrent writes to disjoint bytes of shared blocks all land', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.nat({ max: sizeBytes / 512 - 1 }), { minLength: 2, maxLength: 24 }),
      fc.infiniteStream(fc.nat({ max: 3 })),
      async (slots, delays) => {
        // Each write owns one 512-byte slot (several per 4096-byte block);
        // some are whole aligned blocks to mix the fast path with RMW.
        const it = delays[Symbol.iterator]();
        const device = new UnalignedDevice(jittery(new MemoryDevice({ sizeBytes }), () => it.next().value as number));
        const model = new Uint8Array(sizeBytes);
        await Promise.all(
          slots.map((slot, i) => {
            const fill = (i % 250) + 1;
            const aligned = slot % 8 === 0 && i % 3 === 0;
            const offset = slot * 512;
            const length = aligned ? Math.min(4096, sizeBytes - offset) : 512;
            if (aligned && slots.some((other) => other !== slot && other >= slot && other < slot + 8)) {
              // Overlapping writes have no defined winner: keep this one to its slot.
              model.fill(fill, offset, offset + 512);
              return device.write(offset, new Uint8Array(512).fill(fill), false);
            }
            model.fill(fill, offset, offset + length);
            return device.write(offset, new Uint8Array(length).fill(fill), false);
          }),
        );
        return Buffer.compare(await device.read(0, sizeBytes), model) === 0;
      },
    ),
    { numRuns: 150 },
  );
});

t.test('UnalignedDevice passes aligned requests through and checks ranges', async (t) => {
  const inner = new MemoryDevice({ sizeBytes });
  const device = new UnalignedDevice(inner);
  t.equal(device.blockBytes, 1);
  t.equal(device.preferredBlockBytes, 4096);
  t.equal(device.supportsMultiConn, true);
  await device.write(4096, new Uint8Array(4096).fill(7), true);
  t.equal((await inner.read(4096, 4096))[0], 7);
  await t.rejects(device.read(sizeBytes - 1, 2), rangeError);
  await t.rejects(device.write(-1, new Uint8Array(1), false), rangeError);
  await t.rejects(device.writeZeroes(0, sizeBytes + 1, { noHole: false }), rangeError);
  await device.trim(1, 100); // no whole block inside: nothing to do
  t.equal((await device.read(4096, 1))[0], 7);
});
