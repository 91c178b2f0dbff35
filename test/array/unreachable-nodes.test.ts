// What the array does when nodes do not answer (array-manager/node-handle.ts,
// array-state.ts; docs/JOURNAL.md): a node is lost only after its death
// window, never more than m slots are marked dead for what the manager cannot
// reach, writes stop with a retryable E_UNAVAILABLE and resume by themselves
// when the nodes answer again, and an unaligned write whose surrounding bytes
// cannot be read fails cleanly. The simulated cluster runs the manager on a
// virtual clock, so the windows pass without waiting.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createArray } from '../../array-manager/array-create.ts';
import { openArray } from '../../array-manager/array-open.ts';
import { rowSector } from '../../array-manager/geometry.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';

const S = 4096;

async function array(caches = { rowsMax: 1, tablesMax: 1 }) {
  const cluster = new SimCluster(6, 600);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 4, m: 2, journalPieces: 32, caches });
  const data = randomBytes(64 * S);
  await disk.writeSectors(0, data);
  return { cluster, disk, data };
}

t.test('a node partitioned for less than its death window keeps its slot', async (t) => {
  const { cluster, disk, data } = await array();
  cluster.partition(3);
  const started = cluster.clock.now();
  const writing = disk.writeSectors(100, randomBytes(4 * S));
  // Heal after some reconnect attempts, well inside the 30 s window.
  while (cluster.clock.now() - started < 5_000) await cluster.clock.sleep(0).then(() => new Promise((r) => setImmediate(r)));
  cluster.heal(3);
  await writing;
  t.equal(disk.state.liveSlots().length, 6, 'no slot marked dead');
  t.ok(disk.state.handles[3].sessionFailures > 0, 'the node was retried, not given up');
  t.same(await disk.readSectors(0, 64), data);
  await disk.close();
});

t.test('a node unreachable for the whole window is marked dead, once, with its reason', async (t) => {
  const { cluster, disk, data } = await array();
  cluster.kill(3);
  const started = cluster.clock.now();
  await disk.writeSectors(100, randomBytes(4 * S));
  t.ok(cluster.clock.now() - started >= 30_000, 'the death window passed first');
  t.same(disk.state.liveSlots(), [0, 1, 2, 4, 5]);
  t.equal(disk.state.counters.nodeFailures, 1, 'counted once');
  t.same(await disk.readSectors(0, 64), data);
  await disk.close();
});

t.test('more than m unreachable: writes refused as retryable, membership kept, service resumes by itself', async (t) => {
  const { cluster, disk, data } = await array();
  const version = disk.state.membership.version;
  for (const slot of [0, 1, 2]) cluster.partition(slot);
  await t.rejects(disk.writeSectors(100, randomBytes(4 * S)), { code: 'E_UNAVAILABLE' });
  await t.rejects(disk.write(100 * S + 7, randomBytes(10)), { code: 'E_UNAVAILABLE' }, 'an unaligned write fails cleanly too');
  t.equal(disk.state.membership.version, version, 'no membership change');
  t.equal(disk.state.liveSlots().length, 6, 'no slot marked dead');
  for (const slot of [0, 1, 2]) cluster.heal(slot);
  const later = randomBytes(4 * S);
  await disk.writeSectors(100, later);
  t.same(await disk.readSectors(100, 4), later, 'writes resumed without a restart');
  t.same(await disk.readSectors(0, 64), data);
  t.equal(disk.state.liveSlots().length, 6);
  await disk.close();
});

t.test('a node whose shards keep failing their MAC is proven wrong: its slot is marked dead, with its reason', async (t) => {
  const cluster = new SimCluster(6, 600);
  const disk = await createArray({
    connector: cluster.connector(),
    dataKey: dataKey(),
    k: 4,
    m: 2,
    journalPieces: 32,
    caches: { rowsMax: 1, tablesMax: 1 },
    health: { macFailuresMax: 3 },
  });
  const data = randomBytes(64 * S);
  await disk.writeSectors(0, data);
  // A write elsewhere carries the first one's apply, so its rows are read from the nodes, not from memory.
  await disk.writeSectors(1000, randomBytes(S));
  await disk.flush();
  const g = disk.state.geometry;
  // Slot 1 holds a data shard of every row: flip a byte of each of its first rows' shards.
  for (let row = 0; row < 8; row++) cluster.nodes[1].store.view(rowSector(g, 'data', row), 1)[0][100] ^= 0x5a;
  for (let i = 0; i < 64; i += 4) t.same(await disk.readSectors(i, 4), data.subarray(i * S, (i + 4) * S), `sectors ${i}..${i + 3} read back`);
  await new Promise((r) => setImmediate(r));
  await disk.state.ready();
  t.notOk(disk.state.isLive(1), 'slot 1 marked dead');
  t.match(disk.state.deaths.get(1)?.reason ?? '', /shards failed their MAC/);
  t.same(disk.state.liveSlots(), [0, 2, 3, 4, 5], 'no other slot');
  t.same(await disk.readSectors(0, 64), data, 'everything reads back without it');
  await disk.close();
});

t.test('a membership update stopped beyond m resumes without killing the nodes that already stored it', async (t) => {
  const { cluster, disk } = await array();
  const version = disk.state.membership.version;
  cluster.kill(5);
  cluster.partition(0);
  cluster.partition(1);
  // Marking slot 5 dead reaches slots 2-4 only: with 0 and 1 unreachable too, the update stops.
  await t.rejects(disk.state.markDead([5], 'lost'), { code: 'E_UNAVAILABLE' });
  t.same([2, 3, 4].map((slot) => cluster.nodes[slot].store.deathVersion), [2, 3, 4].map(() => version + 1n), 'slots 2-4 stored the update');
  t.equal(cluster.nodes[0].store.deathVersion, version, 'slot 0 did not');
  await t.rejects(disk.writeSectors(100, randomBytes(4 * S)), { code: 'E_UNAVAILABLE' }, 'writes wait for the update');
  cluster.heal(0);
  cluster.heal(1);
  const later = randomBytes(4 * S);
  await disk.writeSectors(100, later);
  t.same(disk.state.liveSlots(), [0, 1, 2, 3, 4], 'only the lost node is dead: the nodes holding the update were not refused as failed');
  t.same(await disk.readSectors(100, 4), later);
  await disk.close();
});

t.test('k <= m: an open that cannot rule out a stale view waits; the operator can accept silent slots as lost', async (t) => {
  const cluster = new SimCluster(5, 400);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 2, m: 3, journalPieces: 16 });
  const data = randomBytes(40 * S);
  await disk.writeSectors(0, data);
  cluster.kill(3);
  cluster.kill(4);
  await disk.state.markDead([3, 4], 'test: nodes lost');
  await disk.close();
  cluster.kill(2); // silent, not recorded: three answer, fewer than m+1 = 4
  await t.rejects(openArray({ connector: cluster.connector(), dataKey: key, health: { deathWindowMs: 1 } }), { code: 'E_QUORUM', message: /silent: 2/ }, 'refused, naming the silent slot');
  await t.rejects(openArray({ connector: cluster.connector(), dataKey: key, health: { deathWindowMs: 1 }, acceptLost: [3] }), { code: 'E_QUORUM' }, 'accepting another slot does not help');
  const opened = await openArray({ connector: cluster.connector(), dataKey: key, health: { deathWindowMs: 1 }, acceptLost: [2] });
  t.same(opened.state.liveSlots(), [0, 1], 'the accepted slot is marked dead');
  t.same(await opened.readSectors(0, 40), data, 'and the data reads back');
  await opened.close();
});
