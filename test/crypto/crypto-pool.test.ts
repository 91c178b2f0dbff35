// The worker pool gives the same results as inline sealing and opening, for
// every way a batch can be cut into shares, reports tampering with the right
// index, bounds its queue, survives workers that die mid-batch (replacing
// them a bounded number of times), and shuts down without leaving threads
// behind.
import tap, { type Test } from 'tap';
import { entryBytes, sectorBytes } from '../../array-manager/crypto/crypto-constants.ts';
import { CryptoPool, type WorkerLoss } from '../../array-manager/crypto/crypto-pool.ts';
import { openSectors, sealSectors } from '../../array-manager/crypto/sector-crypto.ts';
import { killWorkerOnNextJob, testKeys } from './helpers.ts';

const keys = testKeys();

function batch(n: number, seed: number): { indices: number[]; plain: Buffer } {
  const indices = Array.from({ length: n }, (_, i) => seed * 100_000 + i * 7);
  const plain = Buffer.from(Uint8Array.from({ length: n * sectorBytes }, (_, i) => i * 13 + seed));
  return { indices, plain };
}

tap.test('pool results equal inline results for batch sizes around every share boundary', async (t) => {
  t.setTimeout(30_000);
  const pool = new CryptoPool(keys, { workers: 2, inlineBelowSectors: 2 });
  t.teardown(() => pool.close());
  for (const n of [1, 2, 3, 4, 5, 7, 64, 301]) {
    const { indices, plain } = batch(n, n);
    const sealed = Buffer.alloc(n * sectorBytes);
    const entries = Buffer.alloc(n * entryBytes);
    await pool.seal(indices, plain, sealed, entries);
    const inlineOpened = Buffer.alloc(n * sectorBytes);
    openSectors(keys, indices, sealed, entries, inlineOpened);
    t.ok(inlineOpened.equals(plain), `${n} sectors: pool seal, inline open`);

    const inlineSealed = Buffer.alloc(n * sectorBytes);
    sealSectors(keys, indices, plain, inlineSealed, entries);
    entries.fill(0, 0, entryBytes); // sector 0 blank
    const poolOpened = Buffer.alloc(n * sectorBytes, 0xee);
    t.equal(await pool.open(indices, inlineSealed, entries, poolOpened), 1, `${n} sectors: one blank`);
    t.ok(poolOpened.subarray(0, sectorBytes).every((b) => b === 0), 'blank sector is zeros');
    t.ok(poolOpened.subarray(sectorBytes).equals(plain.subarray(sectorBytes)), `${n} sectors: inline seal, pool open`);
  }
});

tap.test('tampering in any share is E_SECTOR_AUTH naming the first bad index; out is zeroed', async (t) => {
  t.setTimeout(30_000);
  const pool = new CryptoPool(keys, { workers: 1, inlineBelowSectors: 4 });
  t.teardown(() => pool.close());
  const n = 10; // shares: sectors 0-4 on the calling thread, 5-9 on the worker
  const { indices, plain } = batch(n, 3);
  const sealed = Buffer.alloc(n * sectorBytes);
  const entries = Buffer.alloc(n * entryBytes);
  await pool.seal(indices, plain, sealed, entries);
  for (const bad of [[1], [8], [2, 6], [0, 9]]) {
    const tampered = Buffer.from(sealed);
    for (const i of bad) tampered[i * sectorBytes + 11] ^= 0x80;
    const out = Buffer.alloc(n * sectorBytes, 0xee);
    await t.rejects(pool.open(indices, tampered, entries, out), { code: 'E_SECTOR_AUTH', index: indices[bad[0]] }, `bad ${bad}`);
    t.ok(out.every((b) => b === 0), 'no plaintext left in out');
  }
  const out = Buffer.alloc(n * sectorBytes);
  await pool.open(indices, sealed, entries, out);
  t.ok(out.equals(plain), 'the pool still works after failures');
});

tap.test('concurrent batches queue up to the bound; bad shapes are typed errors', async (t) => {
  t.setTimeout(30_000);
  const pool = new CryptoPool(keys, { workers: 1, inlineBelowSectors: 2, queuedBatchesMax: 3 });
  t.teardown(() => pool.close());
  const jobs = [1, 2, 3].map((seed) => {
    const { indices, plain } = batch(8, seed);
    const entries = Buffer.alloc(8 * entryBytes);
    return { indices, plain, entries, done: pool.seal(indices, plain, plain, entries) };
  });
  const { indices, plain } = batch(8, 9);
  await t.rejects(pool.seal(indices, plain, plain, Buffer.alloc(8 * entryBytes)), { code: 'E_POOL_BUSY' });
  await Promise.all(jobs.map((j) => j.done));
  for (const [i, j] of jobs.entries()) {
    const out = Buffer.alloc(8 * sectorBytes);
    openSectors(keys, j.indices, j.plain, j.entries, out);
    t.ok(out.equals(batch(8, i + 1).plain), `queued batch ${i} sealed correctly in place`);
  }
  await t.rejects(pool.seal([0, 1], Buffer.alloc(sectorBytes), Buffer.alloc(8192), Buffer.alloc(56)), { code: 'E_CRYPTO_LENGTH' });
  await t.rejects(pool.open([0, -1], Buffer.alloc(8192), Buffer.alloc(56), Buffer.alloc(8192)), { code: 'E_CRYPTO_INDEX' });
});

/** Seals `n` sectors through the pool and opens them again through it; both checked against inline crypto. */
async function roundTrip(t: Test, pool: CryptoPool, n: number, seed: number, what: string): Promise<void> {
  const { indices, plain } = batch(n, seed);
  const sealed = Buffer.alloc(n * sectorBytes);
  const entries = Buffer.alloc(n * entryBytes);
  await pool.seal(indices, plain, sealed, entries);
  const inlineOpened = Buffer.alloc(n * sectorBytes);
  openSectors(keys, indices, sealed, entries, inlineOpened);
  t.ok(inlineOpened.equals(plain), `${what}: sealed right`);
  const opened = Buffer.alloc(n * sectorBytes);
  await pool.open(indices, sealed, entries, opened);
  t.ok(opened.equals(plain), `${what}: opened right`);
}

tap.test('a worker killed mid-batch fails nothing: its share is redone here, and it is replaced', async (t) => {
  t.setTimeout(30_000);
  const pool = new CryptoPool(keys, { workers: 2, inlineBelowSectors: 1 });
  t.teardown(() => pool.close());
  const losses: WorkerLoss[] = [];
  pool.onWorkerLost = (loss) => losses.push(loss);
  killWorkerOnNextJob(pool, 1);
  await roundTrip(t, pool, 300, 5, 'the batch its worker died in');
  t.match(losses, [{ worker: 1, reason: /^crypto worker 1 exited with code \d+$/, replaced: true }], 'the loss is reported, the worker replaced');
  for (let i = 0; i < 3; i++) await roundTrip(t, pool, 301, 6 + i, `batch ${i} after`);
  t.equal(losses.length, 1, 'the replacement works: no more losses');
  t.equal(pool.workerCount, 2);
});

tap.test('workers that crash on every job are replaced respawnsMax times, then their shares run here', async (t) => {
  t.setTimeout(30_000);
  const workerUrl = new URL('./fixtures/crashing-crypto-worker.ts', import.meta.url);
  const pool = new CryptoPool(keys, { workers: 2, inlineBelowSectors: 1, respawnsMax: 3, workerUrl });
  t.teardown(() => pool.close());
  const losses: WorkerLoss[] = [];
  pool.onWorkerLost = (loss) => losses.push(loss);
  for (let i = 0; i < 4; i++) await roundTrip(t, pool, 90, 20 + i, `batch ${i}`);
  t.same(
    losses.map((l) => l.replaced),
    [true, true, true, false, false],
    'both workers lost on each job: three replaced, then both retired',
  );
  t.ok(
    losses.every((l) => /^crypto worker [01] crashed: .*crashing-crypto-worker fixture/.test(l.reason)),
    'each loss names its worker and the crash',
  );
});

tap.test('close() stops the workers; later work is E_POOL_CLOSED', async (t) => {
  t.setTimeout(30_000);
  const workersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Worker' || r === 'MessagePort').length;
  const pool = new CryptoPool(keys, { workers: 2, inlineBelowSectors: 1 });
  t.equal(pool.workerCount, 2);
  const { indices, plain } = batch(6, 4);
  const pending = pool.seal(indices, plain, Buffer.alloc(plain.length), Buffer.alloc(6 * entryBytes));
  const closing = pool.close();
  await pending;
  t.pass('a batch in flight completes before close() returns');
  await closing;
  await pool.close();
  t.pass('close() is idempotent');
  await t.rejects(pool.seal(indices, plain, plain, Buffer.alloc(6 * entryBytes)), { code: 'E_POOL_CLOSED' });
  const workersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Worker' || r === 'MessagePort').length;
  t.equal(workersAfter, workersBefore, 'no worker handles remain');
});
