// One share of a crypto-pool batch: the shared-memory layout and messages
// between crypto-pool.ts and crypto-worker.ts, and runShare(), which both the
// workers and the pool's own thread use to process a share. One arena per
// worker, sized for its largest share:
//
//     [ data: share * 4096 ][ entries: share * 28 ][ pad to 8 ][ indices: share * f64 ]
//
// Sectors are processed in place in `data`; each batch costs one message
// each way per worker, never one per sector.
import { entryBytes, keyBytes, sectorBytes } from './crypto-constants.ts';
import { SectorAuthError } from './crypto-errors.ts';
import type { SectorKeys } from './key-set.ts';
import { openSectors, sealSectors } from './sector-crypto.ts';

export interface WorkerSetup {
  /** URL of the worker module (crypto-worker.ts, or its bundled equivalent). */
  entry: string;
  /** URL of a module whose register() installs a TypeScript loader, for a .ts entry. */
  loader: string | undefined;
  /** 64 bytes: sector-encryption key then sector-MAC key. Secret. */
  keys: SharedArrayBuffer;
  arena: SharedArrayBuffer;
  shareSectorsMax: number;
}

export interface PoolJob {
  op: 'seal' | 'open';
  count: number;
}

export type PoolReply = { ok: true; blank: number } | { ok: false; authIndex: number } | { ok: false; message: string };

export interface ArenaSlice {
  data: Uint8Array;
  entries: Uint8Array;
  indices: Float64Array;
}

/** Sector keys as views of the pool's shared key buffer (see WorkerSetup.keys). */
export function sharedSectorKeys(keys: SharedArrayBuffer): SectorKeys {
  return {
    sectorEncryption: Buffer.from(keys, 0, keyBytes),
    sectorMac: Buffer.from(keys, keyBytes, keyBytes),
  };
}

function indicesOffset(shareSectorsMax: number): number {
  return Math.ceil((shareSectorsMax * (sectorBytes + entryBytes)) / 8) * 8;
}

export function arenaBytes(shareSectorsMax: number): number {
  return indicesOffset(shareSectorsMax) + shareSectorsMax * 8;
}

/** Views over an arena; slice(n) gives the first n sectors' worth of each region. */
export function arenaViews(arena: SharedArrayBuffer, shareSectorsMax: number): { slice(count: number): ArenaSlice } {
  const data = new Uint8Array(arena, 0, shareSectorsMax * sectorBytes);
  const entries = new Uint8Array(arena, shareSectorsMax * sectorBytes, shareSectorsMax * entryBytes);
  const indices = new Float64Array(arena, indicesOffset(shareSectorsMax), shareSectorsMax);
  return {
    slice: (count) => ({
      data: data.subarray(0, count * sectorBytes),
      entries: entries.subarray(0, count * entryBytes),
      indices: indices.subarray(0, count),
    }),
  };
}

/**
 * Seals or opens one share; a sector that fails authentication becomes an
 * `authIndex` reply, so every share reports in the same shape.
 */
export function runShare(
  keys: SectorKeys,
  op: PoolJob['op'],
  indices: ArrayLike<number>,
  input: Uint8Array,
  entries: Uint8Array,
  out: Uint8Array,
): PoolReply {
  try {
    if (op === 'seal') {
      sealSectors(keys, indices, input, out, entries);
      return { ok: true, blank: 0 };
    }
    return { ok: true, blank: openSectors(keys, indices, input, entries, out) };
  } catch (err) {
    return err instanceof SectorAuthError ? { ok: false, authIndex: err.index } : { ok: false, message: String(err) };
  }
}
