// Sector-crypto throughput: seal and open of 4 KiB sectors, in batches of 1,
// 16 and 256, three ways measured in the same run: the @noble baseline (the
// pure-JS implementation the tests cross-check against), inline node:crypto
// on the calling thread (sealSectors/openSectors), and the worker pool
// (CryptoPool with its inline fallback disabled, so every batch really goes
// through the workers). Figures are MB/s of plaintext; ratios compare against
// @noble and against inline.
//
// `--sweep yes` also times pool against inline at every power of two from 1
// to 512 sectors and reports the smallest batch from which the pool wins:
// that is what sets CryptoPool's inline threshold.
import { chacha20 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomFillSync, timingSafeEqual } from 'node:crypto';
import { entryBytes, sectorBytes } from '../array-manager/crypto/crypto-constants.ts';
import { CryptoPool } from '../array-manager/crypto/crypto-pool.ts';
import { deriveKeySet, type KeySet } from '../array-manager/crypto/key-set.ts';
import { openSectors, sealSectors } from '../array-manager/crypto/sector-crypto.ts';
import { median, throughput, type BenchOptions, type BenchResult, type BenchRow } from './report.ts';

const batchSizes = [1, 16, 256];
const sweepSizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const sectorLabel = new TextEncoder().encode('teearray:sect:v1');

interface Batch {
  n: number;
  indices: number[];
  plain: Buffer;
  sealed: Buffer;
  entries: Buffer;
  out: Buffer;
}

function makeBatch(keys: KeySet, n: number): Batch {
  const indices = Array.from({ length: n }, (_, i) => 1_000_000 + i);
  const plain = randomFillSync(Buffer.alloc(n * sectorBytes));
  const sealed = Buffer.alloc(n * sectorBytes);
  const entries = Buffer.alloc(n * entryBytes);
  sealSectors(keys, indices, plain, sealed, entries);
  return { n, indices, plain, sealed, entries, out: Buffer.alloc(n * sectorBytes) };
}

/** The same format computed with @noble: ChaCha20, then streamed HMAC-SHA-256 truncated to 16 bytes. */
function nobleTag(keys: KeySet, index: number, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const header = new Uint8Array(36);
  header.set(sectorLabel, 0);
  const view = new DataView(header.buffer);
  view.setUint32(16, Math.floor(index / 2 ** 32));
  view.setUint32(20, index >>> 0);
  header.set(iv, 24);
  return hmac.create(sha256, keys.sectorMac).update(header).update(ciphertext).digest().subarray(0, 16);
}

function nobleSeal(keys: KeySet, b: Batch): void {
  for (let i = 0; i < b.n; i++) {
    const entry = b.entries.subarray(i * entryBytes, (i + 1) * entryBytes);
    randomFillSync(entry, 0, 12);
    const out = b.out.subarray(i * sectorBytes, (i + 1) * sectorBytes);
    chacha20(keys.sectorEncryption, entry.subarray(0, 12), b.plain.subarray(i * sectorBytes, (i + 1) * sectorBytes), out);
    entry.set(nobleTag(keys, b.indices[i], entry.subarray(0, 12), out), 12);
  }
}

function nobleOpen(keys: KeySet, b: Batch): void {
  for (let i = 0; i < b.n; i++) {
    const entry = b.entries.subarray(i * entryBytes, (i + 1) * entryBytes);
    const ct = b.sealed.subarray(i * sectorBytes, (i + 1) * sectorBytes);
    if (!timingSafeEqual(nobleTag(keys, b.indices[i], entry.subarray(0, 12), ct), entry.subarray(12))) {
      throw new Error('noble baseline: MAC mismatch');
    }
    chacha20(keys.sectorEncryption, entry.subarray(0, 12), ct, b.out.subarray(i * sectorBytes, (i + 1) * sectorBytes));
  }
}

type Impl = 'noble' | 'inline' | 'pool';
type Op = 'seal' | 'open';

function runner(keys: KeySet, pool: CryptoPool, impl: Impl, op: Op, b: Batch): () => unknown {
  // Sealing writes fresh entries into a copy so the open rows keep valid ones.
  const entries = Buffer.from(b.entries);
  if (impl === 'noble') return op === 'seal' ? () => nobleSeal(keys, { ...b, entries }) : () => nobleOpen(keys, b);
  if (impl === 'inline') {
    return op === 'seal'
      ? () => sealSectors(keys, b.indices, b.plain, b.out, entries)
      : () => openSectors(keys, b.indices, b.sealed, b.entries, b.out);
  }
  return op === 'seal'
    ? () => pool.seal(b.indices, b.plain, b.out, entries)
    : () => pool.open(b.indices, b.sealed, b.entries, b.out);
}

/**
 * Median MB/s of each implementation, timed in interleaved rounds so that a
 * load change on this shared machine hits every implementation alike.
 */
async function compare(fns: Record<string, () => unknown>, bytes: number, rounds: number, seconds: number): Promise<Record<string, number>> {
  const rates: Record<string, number[]> = {};
  for (const [name, fn] of Object.entries(fns)) {
    await fn(); // warm-up: JIT, worker start
    rates[name] = [];
  }
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(fns)) rates[name].push((await throughput(fn, bytes, { samples: 1, seconds })) / 1e6);
  }
  return Object.fromEntries(Object.entries(rates).map(([name, values]) => [name, median(values)]));
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const [rounds, seconds] = opts.quick ? [3, 0.03] : [9, 0.2];
  const keys = deriveKeySet(randomFillSync(Buffer.alloc(32)), randomFillSync(Buffer.alloc(16)));
  const pool = new CryptoPool(keys, { inlineBelowSectors: 1 });
  const rows: BenchRow[] = [];
  const notes = [
    `pool: ${pool.workerCount} worker thread(s) plus the calling thread, inline fallback off; MB/s of plaintext`,
    `medians of ${rounds} interleaved rounds of ${seconds} s per implementation`,
  ];
  try {
    for (const op of ['seal', 'open'] as const) {
      for (const n of batchSizes) {
        const b = makeBatch(keys, n);
        const impls = ['noble', 'inline', 'pool'] as const;
        const fns = Object.fromEntries(impls.map((impl) => [impl, runner(keys, pool, impl, op, b)]));
        const r = await compare(fns, n * sectorBytes, rounds, seconds);
        const name = `${op} ${n} x 4KiB`;
        rows.push({ name: `${name} @noble`, value: r.noble, unit: 'MB/s' });
        rows.push({ name: `${name} inline`, value: r.inline, unit: 'MB/s', ratios: { 'vs noble': r.inline / r.noble } });
        rows.push({
          name: `${name} pool`,
          value: r.pool,
          unit: 'MB/s',
          ratios: { 'vs noble': r.pool / r.noble, 'vs inline': r.pool / r.inline },
        });
      }
    }
    if (opts.params.get('sweep') === 'yes') notes.push(await sweep(keys, pool, rows, rounds, seconds));
  } finally {
    await pool.close();
    keys.destroy();
  }
  const sweepArg = opts.params.get('sweep') === 'yes' ? ' --sweep yes' : '';
  return { bench: 'crypto', command: `npm run bench -- crypto${opts.quick ? ' --quick' : ''}${sweepArg}`, rows, notes };
}

/** Pool against inline seal for every sweep size; returns a note naming the crossover. */
async function sweep(keys: KeySet, pool: CryptoPool, rows: BenchRow[], rounds: number, seconds: number): Promise<string> {
  let crossover: number | null = null;
  for (const n of sweepSizes) {
    const b = makeBatch(keys, n);
    const fns = { inline: runner(keys, pool, 'inline', 'seal', b), pool: runner(keys, pool, 'pool', 'seal', b) };
    const r = await compare(fns, n * sectorBytes, rounds, seconds);
    rows.push({ name: `sweep seal ${n} x 4KiB pool`, value: r.pool, unit: 'MB/s', ratios: { 'vs inline': r.pool / r.inline } });
    if (r.pool / r.inline <= 1.05) crossover = null;
    else crossover ??= n;
  }
  return crossover === null
    ? 'sweep: the pool never beat inline by 5%'
    : `sweep: the pool beats inline by >5% from ${crossover} sectors on`;
}
