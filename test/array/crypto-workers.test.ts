// An array with crypto worker threads (cryptoWorkers) stores and returns the
// same bytes as one without, through writes with partial rows and trims in
// one journal entry, reopens and repairs; a tampered shard is caught and
// repaired as inline; a crypto worker killed mid-request costs no request and
// is counted; the pool is closed with the array, and by a create or open that
// fails; bad settings are refused before any node is contacted.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createArray } from '../../array-manager/array-create.ts';
import { openArray } from '../../array-manager/array-open.ts';
import { rowSector, slotOfShard } from '../../array-manager/geometry.ts';
import { CryptoPool } from '../../array-manager/crypto/crypto-pool.ts';
import { cryptoWorkersAuto } from '../../array-manager/sector-batch.ts';
import type { VirtualDisk } from '../../array-manager/virtual-disk.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';
import { killWorkerOnNextJob } from '../crypto/helpers.ts';

const S = 4096;

/** Counts the pool's batches large enough to reach its workers (the pool runs smaller ones inline). */
function countPoolBatches(disk: VirtualDisk): { seal: number; open: number } {
  const pool = disk.state.pool!;
  const counts = { seal: 0, open: 0 };
  const seal = pool.seal.bind(pool);
  const open = pool.open.bind(pool);
  pool.seal = (indices, ...rest) => {
    if (indices.length >= pool.inlineBelowSectors) counts.seal++;
    return seal(indices, ...rest);
  };
  pool.open = (indices, ...rest) => {
    if (indices.length >= pool.inlineBelowSectors) counts.open++;
    return open(indices, ...rest);
  };
  return counts;
}

t.test('with one worker the array reads back what it wrote, as inline does: partial rows, trims, reopen', async (t) => {
  t.setTimeout(120_000);
  const model = Buffer.alloc(200 * S);
  const a = randomBytes(40 * S);
  const b = randomBytes(48 * S);
  const c = randomBytes(36 * S);
  a.copy(model, 2 * S); // rows 0 and 10 written in part
  b.copy(model, 100 * S);
  model.fill(0, 110 * S, 118 * S);
  c.copy(model, 50 * S);
  const results: Buffer[] = [];
  for (const cryptoWorkers of [1, 0]) {
    const cluster = new SimCluster(6, 800);
    const key = dataKey();
    const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 64, cryptoWorkers });
    t.equal(disk.state.pool?.workerCount, cryptoWorkers || undefined, `cryptoWorkers ${cryptoWorkers}: ${cryptoWorkers ? 'a pool' : 'no pool'}`);
    const counts = cryptoWorkers ? countPoolBatches(disk) : undefined;
    await disk.writeSectors(2, a);
    // Queued together, so that they share a journal entry: a write, a trim inside it, another write.
    await Promise.all([disk.writeSectors(100, b), disk.trimSectors(110, 8), disk.writeSectors(50, c)]);
    const read = await disk.readSectors(0, 200);
    t.ok(read.equals(model), `cryptoWorkers ${cryptoWorkers}: read back`);
    if (counts) t.ok(counts.seal >= 2 && counts.open >= 1, `the pool sealed ${counts.seal} and opened ${counts.open} batches`);
    await disk.close();
    const again = await openArray({ connector: cluster.connector(), dataKey: key, cryptoWorkers });
    const reread = await again.readSectors(0, 200);
    t.ok(reread.equals(model), `cryptoWorkers ${cryptoWorkers}: reopened, read back from the nodes`);
    results.push(reread);
    await again.close();
  }
  t.ok(results[0].equals(results[1]), 'one worker and inline return the same bytes');
});

t.test('a tampered shard is caught and repaired through the pool as inline', async (t) => {
  t.setTimeout(120_000);
  const data = randomBytes(64 * S);
  const outcome: { macFailures: number; repairs: number }[] = [];
  for (const cryptoWorkers of [1, 0]) {
    const cluster = new SimCluster(6, 800);
    const key = dataKey();
    const created = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 64, cryptoWorkers });
    await created.writeSectors(0, data);
    await created.close();
    const disk = await openArray({ connector: cluster.connector(), dataKey: key, cryptoWorkers });
    const counts = cryptoWorkers ? countPoolBatches(disk) : undefined;
    const g = disk.state.geometry;
    const row = Math.floor(37 / g.k);
    const slot = slotOfShard(g, row, 37 % g.k);
    const stored = cluster.nodes[slot].store.view(rowSector(g, 'data', row), 1)[0];
    stored[100] ^= 0x01;
    const tampered = Buffer.from(stored);
    t.ok((await disk.readSectors(0, 64)).equals(data), `cryptoWorkers ${cryptoWorkers}: read verifies, reconstructs`);
    if (counts) t.ok(counts.open >= 1, 'the read went through the pool');
    t.notOk(cluster.nodes[slot].store.view(rowSector(g, 'data', row), 1)[0].equals(tampered), 'the shard was written back');
    outcome.push({ macFailures: disk.state.counters.macFailures, repairs: disk.state.counters.repairs });
    await disk.close();
  }
  t.same(outcome[0], outcome[1], 'the same MAC failures and repairs as inline');
  t.equal(outcome[0].repairs, 1, 'one shard repaired');
});

t.test('closing the array closes its pool', async (t) => {
  t.setTimeout(60_000);
  const cluster = new SimCluster(6, 600);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 4, m: 2, journalPieces: 32, cryptoWorkers: 2 });
  await disk.writeSectors(0, randomBytes(64 * S));
  const pool = disk.state.pool!;
  t.equal(pool.workerCount, 2);
  // close() terminates the threads and resolves once they are gone (test/crypto/crypto-pool.test.ts).
  let closed = false;
  const close = pool.close.bind(pool);
  pool.close = () => close().then(() => void (closed = true));
  await disk.close();
  t.ok(closed, 'the pool was closed before the array finished closing');
  await t.rejects(pool.open([0], Buffer.alloc(S), Buffer.alloc(28), Buffer.alloc(S)), { code: 'E_POOL_CLOSED' });
});

t.test('a crypto worker killed mid-write is counted and logged; every write and read still gives the right bytes', async (t) => {
  t.setTimeout(60_000);
  const cluster = new SimCluster(6, 600);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 64, cryptoWorkers: 1 });
  const model = randomBytes(128 * S);
  killWorkerOnNextJob(disk.state.pool!, 0);
  await disk.writeSectors(0, model.subarray(0, 64 * S));
  t.equal(disk.state.counters.cryptoWorkersLost, 1, 'the loss is counted');
  t.match(
    disk.state.events.filter((e) => e.kind === 'crypto-worker-lost'),
    [{ reason: /^crypto worker 0 exited with code \d+; replaced$/ }],
    'and reported as an event',
  );
  killWorkerOnNextJob(disk.state.pool!, 0);
  t.ok((await disk.readSectors(0, 64)).equals(model.subarray(0, 64 * S)), 'a read whose worker died returns what was written');
  await disk.writeSectors(64, model.subarray(64 * S));
  t.ok((await disk.readSectors(0, 128)).equals(model), 'the replacement seals and opens');
  t.equal(disk.state.counters.cryptoWorkersLost, 2);
  await disk.close();
  const again = await openArray({ connector: cluster.connector(), dataKey: key });
  t.ok((await again.readSectors(0, 128)).equals(model), 'reopened without a pool, the nodes hold what was written');
  await again.close();
});

t.test('a create or open that fails once the pool has started closes the pool', async (t) => {
  t.setTimeout(60_000);
  const closed: CryptoPool[] = [];
  const close = CryptoPool.prototype.close;
  CryptoPool.prototype.close = function (this: CryptoPool) {
    closed.push(this);
    return close.call(this);
  };
  t.teardown(() => void (CryptoPool.prototype.close = close));
  const cluster = new SimCluster(6, 600);
  const key = dataKey();
  // Every node answers the first frame of its session (the ATTEST that reads its membership record), then
  // three of six die: creation fails formatting, an open fails marking them dead, both after the pool started.
  const loseThreeAfterSessions = () => cluster.after(6, () => [0, 1, 2].forEach((slot) => cluster.kill(slot)));
  loseThreeAfterSessions();
  await t.rejects(createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 32, cryptoWorkers: 2 }), 'create fails');
  [0, 1, 2].forEach((slot) => cluster.restart(slot));
  await (await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 32 })).close();
  loseThreeAfterSessions();
  await t.rejects(openArray({ connector: cluster.connector(), dataKey: key, cryptoWorkers: 2 }), 'open fails');
  t.same(
    closed.map((pool) => pool.workerCount),
    [2, 2],
    'each failure closed its pool of two workers',
  );
  for (const pool of closed) await t.rejects(pool.seal([0], Buffer.alloc(S), Buffer.alloc(S), Buffer.alloc(28)), { code: 'E_POOL_CLOSED' });
});

t.test('cryptoWorkers out of bounds is E_CONFIG, before any node is contacted', async (t) => {
  const cluster = new SimCluster(6, 600);
  const connector = cluster.connector();
  let connects = 0;
  const counting = { ...connector, connect: (slot: number) => (connects++, connector.connect(slot)) };
  for (const cryptoWorkers of [-1, 1.5, 17, Number.NaN, 'many' as unknown as number]) {
    const message = /cryptoWorkers must be an integer in 0\.\.16 or 'auto'/;
    await t.rejects(createArray({ connector: counting, dataKey: dataKey(), k: 4, m: 2, cryptoWorkers }), { code: 'E_CONFIG', message }, `create: ${cryptoWorkers}`);
    await t.rejects(openArray({ connector: counting, dataKey: dataKey(), cryptoWorkers }), { code: 'E_CONFIG', message }, `open: ${cryptoWorkers}`);
  }
  t.equal(connects, 0, 'no node contacted');
});

t.test("'auto': no workers below 4 cores, then all cores but two, at most 4", async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 16, 64].map((cores) => cryptoWorkersAuto(cores)), [0, 0, 0, 2, 3, 4, 4, 4]);
});
