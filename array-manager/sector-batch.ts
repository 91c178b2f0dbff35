// The array's sector crypto by the request, not by the sector: the journal
// writer seals an entry's written sectors in one batch and a reader opens a
// request's sectors in one batch, so that with worker threads
// (CreateOptions/OpenOptions.cryptoWorkers) a large request is spread over
// them (crypto-pool.ts). Without a pool, or when its queue is full, the
// calling thread does the work itself: a busy pool slows a request down
// rather than failing it.
import { availableParallelism } from 'node:os';
import { entryBytes, sectorBytes } from './crypto/crypto-constants.ts';
import { SectorAuthError, type CryptoError } from './crypto/crypto-errors.ts';
import { CryptoPool, poolWorkersMax } from './crypto/crypto-pool.ts';
import type { SectorKeys } from './crypto/key-set.ts';
import { openSector, sealSectors } from './crypto/sector-crypto.ts';
import { ArrayError } from './array-state.ts';

/** Worker threads for the array's sector crypto: a count, 0 = none (all inline), or 'auto' (cryptoWorkersAuto). */
export type CryptoWorkers = number | 'auto';

/** Most workers 'auto' gives: as many as docs/PERFORMANCE.md measured; past them each would save the calling thread at most 1/30 of a batch. */
export const cryptoWorkersAutoMax = 4;

/**
 * The 'auto' rule: none below 4 cores, else all cores but two, at most
 * cryptoWorkersAutoMax. Measured (docs/PERFORMANCE.md, "Crypto workers"):
 * on 2 cores the workers gain nothing, as the manager's thread and its nodes
 * or transport keep both busy. The two cores left out are the manager's
 * thread (transport, tables, journal, coding), the bottleneck the workers
 * relieve, and the garbage collector's and the sockets' helpers.
 */
export function cryptoWorkersAuto(cores = availableParallelism()): number {
  return cores >= 4 ? Math.min(cryptoWorkersAutoMax, cores - 2) : 0;
}

/** Checks a cryptoWorkers setting (default 0) and resolves 'auto'; a bad one is E_CONFIG naming the bounds. */
export function cryptoWorkerCount(setting: CryptoWorkers = 0): number {
  if (setting === 'auto') return cryptoWorkersAuto();
  if (!Number.isInteger(setting) || setting < 0 || setting > poolWorkersMax) {
    throw new ArrayError('E_CONFIG', `cryptoWorkers must be an integer in 0..${poolWorkersMax} or 'auto', got ${String(setting)}`);
  }
  return setting;
}

/** The pool for `workers` threads, or none for 0. */
export function startCryptoPool(keys: SectorKeys, workers: number): CryptoPool | undefined {
  return workers > 0 ? new CryptoPool(keys, { workers }) : undefined;
}

/** Runs `pooled` on the pool, or `inline` when there is none or its queue is full. */
async function onPool<T>(pool: CryptoPool | undefined, pooled: (p: CryptoPool) => Promise<T>, inline: () => T): Promise<T> {
  if (pool) {
    try {
      return await pooled(pool);
    } catch (err) {
      if ((err as CryptoError).code !== 'E_POOL_BUSY') throw err;
    }
  }
  return inline();
}

/** `views` as one view when each starts where the previous ends in the same memory (a request's sectors usually do), else undefined. */
function contiguous(views: Uint8Array[]): Uint8Array | undefined {
  const first = views[0];
  let end = first.byteOffset + first.length;
  for (let i = 1; i < views.length; i++) {
    if (views[i].buffer !== first.buffer || views[i].byteOffset !== end) return undefined;
    end += views[i].length;
  }
  return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
}

/** Copies `views` one after the other into `into`; returns it. */
function gather(views: Uint8Array[], into: Buffer): Buffer {
  views.forEach((v, i) => into.set(v, i * sectorBytes));
  return into;
}

/**
 * Seals an entry's written sectors in one batch: ciphertext i and entry i
 * are those of the i-th write in `writes` order; a trim (undefined) takes
 * zeros in both and no part in the batch.
 */
export async function sealWrites(
  keys: SectorKeys,
  pool: CryptoPool | undefined,
  writes: Map<number, Uint8Array | undefined>,
): Promise<{ sectors: Buffer; entries: Buffer }> {
  const indices: number[] = [];
  const plaintexts: Uint8Array[] = [];
  for (const [index, data] of writes) {
    if (!data) continue;
    indices.push(index);
    plaintexts.push(data);
  }
  const sectors = Buffer.alloc(writes.size * sectorBytes);
  const entries = Buffer.alloc(writes.size * entryBytes);
  if (indices.length === 0) return { sectors, entries };
  const trims = indices.length < writes.size;
  // The batch's output: in place when nothing is trimmed, else packed apart and spread below.
  const out = trims ? Buffer.alloc(indices.length * sectorBytes) : sectors;
  const outEntries = trims ? Buffer.alloc(indices.length * entryBytes) : entries;
  const input = contiguous(plaintexts) ?? gather(plaintexts, out);
  await onPool(pool, (p) => p.seal(indices, input, out, outEntries), () => sealSectors(keys, indices, input, out, outEntries));
  if (trims) {
    let from = 0;
    let to = 0;
    for (const data of writes.values()) {
      if (data) {
        out.copy(sectors, to * sectorBytes, from * sectorBytes, (from + 1) * sectorBytes);
        outEntries.copy(entries, to * entryBytes, from * entryBytes, (from + 1) * entryBytes);
        from++;
      }
      to++;
    }
  }
  return { sectors, entries };
}

/**
 * Sectors a read opens together: added one by one (array index, ciphertext,
 * table entry, where the plaintext goes), opened by open() in one batch.
 */
export class OpenBatch {
  private readonly indices: number[] = [];
  private readonly ciphertexts: Uint8Array[] = [];
  private readonly entries: Uint8Array[] = [];
  private readonly targets: Uint8Array[] = [];

  constructor(
    private readonly keys: SectorKeys,
    private readonly pool: CryptoPool | undefined,
  ) {}

  add(index: number, ciphertext: Uint8Array, entry: Uint8Array, target: Uint8Array): void {
    this.indices.push(index);
    this.ciphertexts.push(ciphertext);
    this.entries.push(entry);
    this.targets.push(target);
  }

  /**
   * Opens every sector added (a blank entry gives zeros) and returns the
   * indices whose MAC did not verify, in the order added; their targets get
   * no plaintext.
   */
  async open(): Promise<number[]> {
    // A batch fails whole on its first bad sector: then each is opened alone to find every bad one, as without a pool.
    const opened = await onPool(this.pool, (p) => this.pooled(p), () => false);
    return opened ? [] : this.oneByOne();
  }

  /** True when the whole batch verified and its plaintext is in the targets. */
  private async pooled(pool: CryptoPool): Promise<boolean> {
    const n = this.indices.length;
    // Below this the pool would run inline anyway: opening in place skips the copies.
    if (n < pool.inlineBelowSectors) return false;
    const input = Buffer.allocUnsafe(n * sectorBytes);
    const entries = Buffer.allocUnsafe(n * entryBytes);
    for (let i = 0; i < n; i++) {
      input.set(this.ciphertexts[i], i * sectorBytes);
      entries.set(this.entries[i], i * entryBytes);
    }
    try {
      await pool.open(this.indices, input, entries, input);
    } catch (err) {
      if (err instanceof SectorAuthError) return false;
      throw err;
    }
    for (let i = 0; i < n; i++) this.targets[i].set(input.subarray(i * sectorBytes, (i + 1) * sectorBytes));
    return true;
  }

  private oneByOne(): number[] {
    const failed: number[] = [];
    for (let i = 0; i < this.indices.length; i++) {
      try {
        openSector(this.keys, this.indices[i], this.ciphertexts[i], this.entries[i], this.targets[i]);
      } catch (err) {
        if (!(err instanceof SectorAuthError)) throw err;
        failed.push(this.indices[i]);
      }
    }
    return failed;
  }
}
