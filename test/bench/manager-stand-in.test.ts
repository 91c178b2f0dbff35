// bench/manager's stand-in nodes must keep the real manager working (or the
// benchmark measures a broken path), and bench/floor.ts must give a figure.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createArray } from '../../array-manager/array-create.ts';
import { openArray } from '../../array-manager/array-open.ts';
import { deriveKeySet } from '../../array-manager/crypto/key-set.ts';
import { StandInNode, standInConnector } from '../../bench/manager.ts';
import { Floor } from '../../bench/floor.ts';

const S = 4096;

t.test('the real manager creates, writes, reopens and reads over stand-in nodes', async (t) => {
  const nodes = Array.from({ length: 6 }, () => new StandInNode(4096));
  const dataKey = randomBytes(32);
  const disk = await createArray({ connector: standInConnector(nodes), dataKey, k: 4, m: 2 });
  const a = randomBytes(256 * S);
  await disk.writeSectors(40, a);
  const b = randomBytes(3 * S);
  await disk.writeSectors(41, b);
  const expect = Buffer.from(a);
  b.copy(expect, S);
  t.same(await disk.readSectors(40, 256), expect, 'read back through the writer');
  await disk.close();
  const again = await openArray({ connector: standInConnector(nodes), dataKey });
  t.same(await again.readSectors(40, 256), expect, 'reopened: read back from the stand-ins');
  // The thread's CPU clock (schedstat) advances in scheduler steps: a node that ran only a few small batches may
  // read none, so the stand-ins are judged together.
  t.ok(nodes.reduce((sum, n) => sum + n.cpuMs, 0) > 0, 'the stand-ins counted their CPU');
  await again.close();
});

t.test('the floor gives a positive figure for each kind and size', async (t) => {
  const keys = deriveKeySet(randomBytes(32), randomBytes(16));
  for (const [k, m] of [[4, 2], [8, 3], [3, 2]]) {
    const floor = new Floor(keys, k, m);
    for (const sectors of [1, 5, 256]) {
      for (const kind of ['write', 'read'] as const) {
        const ms = floor.cpuMsPerMiB(kind, sectors, 0.01, 1);
        t.ok(Number.isFinite(ms) && ms >= 0, `${k}+${m} ${kind} ${sectors} sectors: ${ms.toFixed(2)} ms/MiB`);
      }
    }
  }
});
