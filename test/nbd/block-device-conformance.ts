// The shared conformance suite every BlockDevice served over NBD must pass:
// the in-memory devices here, and the array's virtual disk when it plugs in
// (call blockDeviceConformance with a factory that builds a fresh device).
//
// It checks what the NBD server relies on: geometry; aligned reads, writes,
// zeroes and trims against a byte-array model; E_DEVICE_RANGE for requests
// outside the device; that a device copies what it keeps (the server reuses
// write buffers once the promise resolves) and returns reads that later
// writes do not change; and that concurrent writes to different blocks all
// land.

import type { Test } from 'tap';
import fc from 'fast-check';
import type { BlockDevice } from '../../array-manager/nbd/block-device.ts';

export async function blockDeviceConformance(t: Test, name: string, make: () => BlockDevice | Promise<BlockDevice>): Promise<void> {
  await t.test(`${name}: BlockDevice conformance`, async (t) => {
    const probe = await make();
    const block = probe.blockBytes;
    t.ok(block >= 1 && block <= 65536 && (block & (block - 1)) === 0, 'blockBytes is a power of two up to 64 KiB');
    t.ok(Number.isSafeInteger(probe.sizeBytes) && probe.sizeBytes % block === 0, 'size is whole blocks');
    const blocks = Math.min(probe.sizeBytes / block, 64);
    t.ok(blocks >= 4, 'at least 4 blocks to test with');

    await t.rejects(probe.read(probe.sizeBytes - block, 2 * block), { name: 'BlockDeviceError', code: 'E_DEVICE_RANGE' }, 'read past the end');
    await t.rejects(
      probe.write(probe.sizeBytes, new Uint8Array(block), false),
      { name: 'BlockDeviceError', code: 'E_DEVICE_RANGE' },
      'write past the end',
    );

    // The server reuses a write buffer after the promise resolves, and sends a
    // read buffer later: neither may alias the device's storage.
    const data = new Uint8Array(block).fill(0x5a);
    await probe.write(0, data, false);
    data.fill(0xa5);
    const first = await probe.read(0, block);
    t.equal(first[0], 0x5a, 'device copied the written data');
    await probe.write(0, new Uint8Array(block).fill(0x11), true);
    t.equal(first[0], 0x5a, 'an earlier read result does not change');
    await probe.flush();

    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            kind: fc.constantFrom('write', 'fua', 'zero', 'trim', 'read', 'flush'),
            first: fc.nat({ max: blocks - 1 }),
            count: fc.integer({ min: 1, max: 4 }),
            fill: fc.integer({ min: 1, max: 255 }),
          }),
          { maxLength: 25 },
        ),
        async (ops) => {
          const device = await make();
          const model = new Uint8Array(blocks * block);
          for (const op of ops) {
            const offset = op.first * block;
            const length = Math.min(op.count, blocks - op.first) * block;
            if (op.kind === 'write' || op.kind === 'fua') {
              await device.write(offset, new Uint8Array(length).fill(op.fill), op.kind === 'fua');
              model.fill(op.fill, offset, offset + length);
            } else if (op.kind === 'zero') {
              await device.writeZeroes(offset, length, { noHole: op.fill % 2 === 0 });
              model.fill(0, offset, offset + length);
            } else if (op.kind === 'trim') {
              // Contents are unspecified after a trim: overwrite so the model stays exact.
              await device.trim(offset, length);
              await device.write(offset, new Uint8Array(length).fill(op.fill), false);
              model.fill(op.fill, offset, offset + length);
            } else if (op.kind === 'flush') {
              await device.flush();
            } else if (Buffer.compare(await device.read(offset, length), model.subarray(offset, offset + length)) !== 0) {
              return false;
            }
          }
          return Buffer.compare(await device.read(0, blocks * block), model) === 0;
        },
      ),
      { numRuns: 60 },
    );
    t.pass('aligned operations match the model');

    const device = await make();
    await Promise.all(Array.from({ length: blocks }, (_, i) => device.write(i * block, new Uint8Array(block).fill(i + 1), false)));
    const all = await device.read(0, blocks * block);
    t.ok(
      Array.from({ length: blocks }, (_, i) => all[i * block] === i + 1 && all[(i + 1) * block - 1] === i + 1).every(Boolean),
      'concurrent writes to distinct blocks all land',
    );
  });
}
