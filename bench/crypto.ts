// Sector-crypto throughput: seal and open of 4 KiB sectors, in batches of 1,
// 16 and 256, three ways measured in the same run: the @noble baseline (the
// pure-JS implementation the tests cross-check against), inline on the
// calling thread (sealSectors/openSectors: the WebAssembly ChaCha20 kernel
// and node:crypto's HMAC), and the worker pool
// (CryptoPool with its inline fallback disabled, so every batch really goes
// through the workers). Figures are MB/s of plaintext; ratios compare against
// @noble and against inline.
//
// Wall-clock ratios only show what the pool gains when a core is free, which
// on a shared machine it often is not. So every row also carries the CPU time
// of the whole process per sector: the pool's CPU overhead over inline, and
// from it `freeCoreBound`, the speed-up the pool could reach with a free core
// per share. `--sweep yes` times pool against inline at every power of two
// from 1 to 512 sectors and names the smallest batch from which each figure
// wins: that is what sets CryptoPool's inline threshold. Last, ChaCha20
// alone per sector: the WebAssembly kernel against node:crypto.
import { chacha20 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { createCipheriv, randomFillSync, timingSafeEqual } from 'node:crypto';
import { chacha20Sector } from '../array-manager/crypto/chacha20-wasm.ts';
import { entryBytes, sectorBytes } from '../array-manager/crypto/crypto-constants.ts';
import { CryptoPool } from '../array-manager/crypto/crypto-pool.ts';
import { deriveKeySet, type KeySet } from '../array-manager/crypto/key-set.ts';
import { openSectors, sealSectors } from '../array-manager/crypto/sector-crypto.ts';
import { median, secondsSince, type BenchOptions, type BenchResult, type BenchRow } from './report.ts';

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

interface Measure {
  /** MB/s of plaintext, wall clock. */
  mbps: number;
  /** CPU time of the whole process (every thread) per sector, in microseconds. */
  cpuUsPerSector: number;
}

/** Runs fn for about `seconds`; returns wall and process CPU time per sector. */
async function timed(fn: () => unknown, sectors: number, seconds: number): Promise<Measure> {
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let iterations = 0;
  let wall = 0;
  while (wall < seconds) {
    await fn();
    iterations++;
    wall = secondsSince(start);
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    mbps: (iterations * sectors * sectorBytes) / wall / 1e6,
    cpuUsPerSector: (cpu.user + cpu.system) / (iterations * sectors),
  };
}

/**
 * Median figures of each implementation, timed in interleaved rounds so that
 * a load change on this shared machine hits every implementation alike.
 */
async function compare(fns: Record<string, () => unknown>, sectors: number, rounds: number, seconds: number): Promise<Record<string, Measure>> {
  const runs: Record<string, Measure[]> = {};
  for (const [name, fn] of Object.entries(fns)) {
    await fn(); // warm-up: JIT, worker start
    runs[name] = [];
  }
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(fns)) runs[name].push(await timed(fn, sectors, seconds));
  }
  const medians = ([name, ms]: [string, Measure[]]): [string, Measure] => [
    name,
    { mbps: median(ms.map((m) => m.mbps)), cpuUsPerSector: median(ms.map((m) => m.cpuUsPerSector)) },
  ];
  return Object.fromEntries(Object.entries(runs).map(medians));
}

/**
 * The pool's row: measured MB/s and ratios, its CPU cost per sector against
 * inline, and the speed-up it could reach with a free core for every share:
 * min(shares, n) * inline CPU / pool CPU (wake-up latency not counted).
 */
function poolRow(name: string, n: number, shares: number, pool: Measure, inline: Measure, noble?: Measure): BenchRow {
  const ratios: Record<string, number> = { 'vs inline': pool.mbps / inline.mbps };
  if (noble) ratios['vs noble'] = pool.mbps / noble.mbps;
  return {
    name,
    value: pool.mbps,
    unit: 'MB/s',
    ratios,
    extra: {
      cpuUsPerSector: pool.cpuUsPerSector,
      cpuVsInline: pool.cpuUsPerSector / inline.cpuUsPerSector,
      freeCoreBound: (Math.min(shares, n) * inline.cpuUsPerSector) / pool.cpuUsPerSector,
    },
  };
}

/**
 * ChaCha20 alone, sector by sector: the WebAssembly kernel sector-crypto.ts
 * uses against node:crypto, which needs a new cipher object and result
 * buffer per sector (a sector has its own nonce).
 */
async function chachaRows(keys: KeySet, rounds: number, seconds: number): Promise<BenchRow[]> {
  const n = 256;
  const plain = randomFillSync(Buffer.alloc(n * sectorBytes));
  const out = Buffer.alloc(n * sectorBytes);
  const nonce = randomFillSync(Buffer.alloc(12));
  const iv = Buffer.concat([Buffer.alloc(4), nonce]);
  const sector = (buf: Buffer, i: number) => buf.subarray(i * sectorBytes, (i + 1) * sectorBytes);
  const r = await compare(
    {
      node: () => {
        for (let i = 0; i < n; i++) sector(out, i).set(createCipheriv('chacha20', keys.sectorEncryption, iv).update(sector(plain, i)));
      },
      wasm: () => {
        for (let i = 0; i < n; i++) chacha20Sector(keys.sectorEncryption, nonce, sector(plain, i), sector(out, i));
      },
    },
    n,
    rounds,
    seconds,
  );
  return [
    { name: 'chacha20 per sector node:crypto', value: r.node.mbps, unit: 'MB/s', extra: { cpuUsPerSector: r.node.cpuUsPerSector } },
    {
      name: 'chacha20 per sector wasm kernel',
      value: r.wasm.mbps,
      unit: 'MB/s',
      ratios: { 'vs node:crypto': r.wasm.mbps / r.node.mbps },
      extra: { cpuUsPerSector: r.wasm.cpuUsPerSector },
    },
  ];
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const [rounds, seconds] = opts.quick ? [3, 0.03] : [9, 0.2];
  const keys = deriveKeySet(randomFillSync(Buffer.alloc(32)), randomFillSync(Buffer.alloc(16)));
  const pool = new CryptoPool(keys, { inlineBelowSectors: 1 });
  const shares = pool.workerCount + 1;
  const rows: BenchRow[] = [];
  const notes = [
    `pool: ${pool.workerCount} worker thread(s) plus the calling thread, inline fallback off; MB/s of plaintext`,
    `medians of ${rounds} interleaved rounds of ${seconds} s per implementation`,
    'freeCoreBound = what the pool could reach with a free core per share, from CPU time per sector',
  ];
  try {
    for (const op of ['seal', 'open'] as const) {
      for (const n of batchSizes) {
        const b = makeBatch(keys, n);
        const impls = ['noble', 'inline', 'pool'] as const;
        const fns = Object.fromEntries(impls.map((impl) => [impl, runner(keys, pool, impl, op, b)]));
        const r = await compare(fns, n, rounds, seconds);
        const name = `${op} ${n} x 4KiB`;
        rows.push({ name: `${name} @noble`, value: r.noble.mbps, unit: 'MB/s' });
        rows.push({
          name: `${name} inline`,
          value: r.inline.mbps,
          unit: 'MB/s',
          ratios: { 'vs noble': r.inline.mbps / r.noble.mbps },
          extra: { cpuUsPerSector: r.inline.cpuUsPerSector },
        });
        rows.push(poolRow(`${name} pool`, n, shares, r.pool, r.inline, r.noble));
      }
    }
    rows.push(...(await chachaRows(keys, rounds, seconds)));
    if (opts.params.get('sweep') === 'yes') notes.push(...(await sweep(keys, pool, rows, rounds, seconds)));
  } finally {
    await pool.close();
    keys.destroy();
  }
  const sweepArg = opts.params.get('sweep') === 'yes' ? ' --sweep yes' : '';
  return { bench: 'crypto', command: `npm run bench -- crypto${opts.quick ? ' --quick' : ''}${sweepArg}`, rows, notes };
}

/** The smallest size from which every later value passes `ok`, or null. */
function from(sizes: number[], values: number[], ok: (v: number) => boolean): number | null {
  let first: number | null = null;
  values.forEach((v, i) => {
    if (!ok(v)) first = null;
    else first ??= sizes[i];
  });
  return first;
}

/** Pool against inline seal for every sweep size; returns notes naming the crossovers. */
async function sweep(keys: KeySet, pool: CryptoPool, rows: BenchRow[], rounds: number, seconds: number): Promise<string[]> {
  const measured: number[] = [];
  const bounds: number[] = [];
  for (const n of sweepSizes) {
    const b = makeBatch(keys, n);
    const fns = { inline: runner(keys, pool, 'inline', 'seal', b), pool: runner(keys, pool, 'pool', 'seal', b) };
    const r = await compare(fns, n, rounds, seconds);
    const row = poolRow(`sweep seal ${n} x 4KiB pool`, n, pool.workerCount + 1, r.pool, r.inline);
    rows.push(row);
    measured.push(r.pool.mbps / r.inline.mbps);
    bounds.push(row.extra?.freeCoreBound as number);
  }
  const measuredFrom = from(sweepSizes, measured, (v) => v > 1.05);
  const boundFrom = from(sweepSizes, bounds, (v) => v > 1.5);
  return [
    `sweep: measured, the pool beats inline by >5% ${measuredFrom === null ? 'at no size' : `from ${measuredFrom} sectors on`}`,
    `sweep: with free cores it could beat inline by >1.5x ${boundFrom === null ? 'at no size' : `from ${boundFrom} sectors on`}`,
  ];
}
