// The array as an NBD block device: reads and writes pass through, trims of
// any length (NBD lets a trim span the whole disk) are cut into bounded
// pieces, bad ranges are refused with the device error the server maps.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createArray } from '../../array-manager/array-create.ts';
import { ArrayBlockDevice } from '../../array-manager/array-block-device.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';

t.test('a trim longer than one request bound zeroes the whole range', async (t) => {
  const cluster = new SimCluster(3, 14000);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 2, m: 1 });
  t.teardown(() => disk.close());
  const device = new ArrayBlockDevice(disk);
  const mib = 1 << 20;
  t.ok(device.sizeBytes > 40 * mib, 'a disk of more than 40 MiB');
  const edge = randomBytes(mib);
  await device.write(0, edge);
  await device.write(35 * mib, edge);
  await device.write(38 * mib, edge);
  await device.trim(4096, 36 * mib - 4096);
  t.same(Buffer.from(await device.read(0, 4096)), edge.subarray(0, 4096), 'the block before the range is kept');
  t.ok((await device.read(4096, mib - 4096)).every((b) => b === 0), 'the start of the range reads zeros');
  t.ok((await device.read(35 * mib, mib)).every((b) => b === 0), 'past the 32 MiB piece too');
  t.same(Buffer.from(await device.read(38 * mib, mib)), edge, 'the data after the range is kept');
  await t.rejects(device.read(device.sizeBytes, 4096), { code: 'E_DEVICE_RANGE' });
  await t.rejects(device.write(1, Buffer.alloc(4096)), { code: 'E_DEVICE_RANGE' });
  await t.rejects(device.read(0, 33 * mib), { code: 'E_DEVICE_RANGE' }, 'a payload request above the bound');
});
