// Reading the array: table sectors, user sectors and whole rows, each checked
// before use. A user sector is trusted only if its MAC verifies against its
// table entry; a table sector only if its self-MAC verifies; a never-written
// sector only if it is all zeros. Anything else (a dead node, a failed
// session, a MAC failure) sends the row through erasure reconstruction from
// the other live nodes, and a repaired shard is written back to its node.
import { SectorAuthError } from './crypto/crypto-errors.ts';
import { openSector } from './crypto/sector-crypto.ts';
import { decodeTable, entryAt, slotOf, tableIndexOf } from './crypto/table-sector.ts';
import { ArrayError, type ArrayState } from './array-state.ts';
import { locate, rowSector, sectorBytes, shardOfSlot, slotOfShard, tableSectorsFor, type Region } from './geometry.ts';
import { Op } from './node-client/frame-codec.ts';
import { fetchSectors } from './read-coalescer.ts';
import { OpenBatch } from './sector-batch.ts';

/** Zeros to compare shards and entries (a sector at most) with: a native compare, where `every` with a callback took about 70 us a sector. */
const zeros = Buffer.alloc(sectorBytes);
const isZero = (b: Uint8Array): boolean => b.length <= sectorBytes && zeros.subarray(0, b.length).equals(b);

/**
 * Reads node sectors from one slot (coalesced with other reads of it); one
 * buffer per sector. It does not wait for a node that does not answer: the
 * first transport fault fails it, and readers rebuild from the other shards.
 */
export function readNodeSectors(state: ArrayState, slot: number, sectors: number[]): Promise<Buffer[]> {
  return state.reads.read(slot, sectors);
}

/** True when a data shard of `region` checks out (tables: self-MAC; data: MAC against its entry). */
function shardValid(state: ArrayState, region: Region, index: number, shard: Buffer, table?: Buffer): boolean {
  if (region === 'table') {
    if (index >= tableSectorsFor(state.geometry.dataRows, state.geometry.k)) return isZero(shard);
    try {
      decodeTable(state.keys, index, shard);
      return true;
    } catch {
      return false;
    }
  }
  const entry = entryAt(table!, slotOf(index));
  if (isZero(entry)) return isZero(shard);
  try {
    openSector(state.keys, index, shard, entry, scratch);
    return true;
  } catch (err) {
    if (err instanceof SectorAuthError) return false;
    throw err;
  }
}
const scratch = Buffer.alloc(sectorBytes);

/** Every way to leave out `drop` of `items`, smallest first; bounded by `limit`. */
function* subsets(items: number[], drop: number, limit: number): Generator<number[]> {
  let produced = 0;
  const pick = function* (from: number, chosen: number[]): Generator<number[]> {
    if (chosen.length === drop) {
      produced++;
      yield chosen;
      return;
    }
    for (let i = from; i < items.length && produced < limit; i++) yield* pick(i + 1, [...chosen, items[i]]);
  };
  yield* pick(0, []);
}

/** Reconstructions tried per row before a row with corrupt parity is declared unrecoverable. */
const reconstructAttemptsMax = 64;

/**
 * Rebuilds the missing data shards from the present ones. Parity cannot be
 * verified on its own, so when a rebuild does not verify, it is tried again
 * leaving out parity shards, fewest first, until one verifies.
 */
function reconstructData(state: ArrayState, shards: Buffer[], present: boolean[], valid: (j: number) => boolean): boolean {
  const { k } = state.geometry;
  const parity = present.map((p, j) => (p && j >= k ? j : -1)).filter((j) => j >= 0);
  const missing = present.map((p, j) => (!p && j < k ? j : -1)).filter((j) => j >= 0);
  const spare = present.filter(Boolean).length - k;
  // reconstruct() rewrites every shard it is told is missing, parity left out included: keep what was read.
  const readParity = new Map(parity.map((j) => [j, Buffer.from(shards[j])]));
  for (let drop = 0; drop <= spare; drop++) {
    for (const left of subsets(parity, drop, reconstructAttemptsMax)) {
      for (const [j, original] of readParity) original.copy(shards[j]);
      const use = present.map((p, j) => p && !left.includes(j));
      state.code.reconstruct(shards, use);
      state.counters.reconstructions++;
      if (missing.every(valid)) {
        // The parity left out was rewritten as it should be: put back what was read, so the caller sees it was wrong and repairs it.
        for (const [j, original] of readParity) original.copy(shards[j]);
        return true;
      }
    }
  }
  return false;
}

/** How a rebuild or a scrub loads rows, unlike a reader. */
export interface RowLoadOptions {
  /**
   * Check what every serving node holds (a scrub): read the nodes even for
   * rows the cache holds, and wait for a node silent at once (reconnecting,
   * up to its death window) rather than complete the rows without it. Rows
   * of an entry not yet applied still come from memory: their homes are
   * about to change (the scrub applies such an entry first).
   */
  fresh?: boolean;
  /** Keep the rows in the cache (default); a walk over the whole array would only evict the rows readers use. */
  cache?: boolean;
  /** Told of each shard written back because its node held it wrongly. */
  onRepair?: (slot: number, region: Region, row: number) => void;
}

/**
 * Returns all n shards of each row: data shards verified (missing or corrupt
 * ones reconstructed from the rest), parity recomputed from them. Any shard a
 * node that serves the row holds wrongly, data or parity, is written back.
 * Rows not cached are fetched with one batch per node, whatever their number.
 */
export async function loadRows(state: ArrayState, region: Region, rows: number[], opts: RowLoadOptions = {}): Promise<Map<number, Buffer[]>> {
  const out = new Map<number, Buffer[]>();
  const missing: number[] = [];
  for (const row of new Set(rows)) {
    const key = state.rowKey(region, row);
    const cached = state.published.rows.get(key) ?? (opts.fresh ? undefined : state.rows.get(key));
    if (cached) out.set(row, cached);
    else missing.push(row);
  }
  if (missing.length === 0) return out;
  const { k } = state.geometry;
  const sectors = missing.map((row) => rowSector(state.geometry, region, row));
  const from = state.servingSlots(region, missing);
  // The tables are read in the same round as the rows (the coalescer puts both in one batch per node): which
  // sectors to read does not depend on them, only the check does, and a node runs the batch's reads at one moment.
  const [tables, read] = await Promise.all([
    region === 'data' ? readTableSet(state, missing.flatMap((row) => Array.from({ length: k }, (_, j) => tableIndexOf(row * k + j)))) : undefined,
    state.eachSlot(from, (slot) => readNodeSectors(state, slot, sectors), true),
  ]);
  // Silent nodes are waited for at most once: now when every shard must be checked, else only when a row needs them.
  let waited = false;
  const waitForSilent = async () => {
    waited = true;
    const silent = from.filter((slot) => !read.has(slot));
    for (const [slot, data] of await state.eachSlot(silent, (slot) => fetchSectors(state, slot, sectors, true))) read.set(slot, data);
  };
  if (opts.fresh && !from.every((slot) => read.has(slot))) await waitForSilent();
  for (let i = 0; i < missing.length; i++) {
    const fetched = () => new Map([...read].map(([slot, data]) => [slot, data[i]] as const));
    try {
      out.set(missing[i], await verifyRow(state, region, missing[i], fetched(), tables, opts));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if ((code !== 'E_UNAVAILABLE' && code !== 'E_UNRECOVERABLE') || waited || from.every((slot) => read.has(slot))) throw err;
      // Too few good shards among those that answered at once (silent, or no rebuild verifies): wait for the
      // silent nodes (reconnecting, up to their death window) rather than fail, then try this row again.
      await waitForSilent();
      i--;
    }
  }
  return out;
}

/** Checks, completes and caches one row from what each live slot returned. */
async function verifyRow(state: ArrayState, region: Region, row: number, fetched: Map<number, Buffer>, tables: Map<number, Buffer> | undefined, opts: RowLoadOptions): Promise<Buffer[]> {
  const { k, m } = state.geometry;
  const n = k + m;
  // One allocation for the row (the one the cache keeps), not one per shard: fewer buffers for the collector to track.
  const arena = Buffer.alloc(n * sectorBytes);
  const shards = Array.from({ length: n }, (_, j) => arena.subarray(j * sectorBytes, (j + 1) * sectorBytes));
  const present = new Array<boolean>(n).fill(false);
  for (const [slot, data] of fetched) {
    if (!state.serves(slot, region, row)) continue;
    const shard = shardOfSlot(state.geometry, row, slot);
    data.copy(shards[shard]);
    present[shard] = true;
  }
  const valid = (j: number) => {
    const index = row * k + j;
    return shardValid(state, region, index, shards[j], region === 'data' ? tables?.get(tableIndexOf(index)) : undefined);
  };
  const wrong: number[] = [];
  for (let j = 0; j < k; j++) {
    if (present[j] && !valid(j)) {
      present[j] = false;
      wrong.push(j);
      state.noteMacFailure(slotOfShard(state.geometry, row, j));
    }
  }
  if (present.filter(Boolean).length < k) {
    state.checkWritable();
    // Shards of live slots that did not answer may come back: that is a wait, not a loss.
    const silent = state.memberSlots().filter((slot) => state.serves(slot, region, row) && !fetched.has(slot));
    if (silent.length > 0) throw new ArrayError('E_UNAVAILABLE', `${region} row ${row}: fewer than k = ${k} shards reachable (slots ${silent.join(', ')} do not answer); retry`);
    throw new ArrayError('E_UNRECOVERABLE', `${region} row ${row}: fewer than k = ${k} shards readable and valid`);
  }
  if (present.some((p, j) => !p && j < k) && !reconstructData(state, shards, present, valid)) {
    throw new ArrayError('E_UNRECOVERABLE', `${region} row ${row}: no reconstruction verifies`);
  }
  // The parity is recomputed into the row itself and checked against what the slots returned, still in `fetched`.
  state.code.encode(shards.slice(0, k), shards.slice(k));
  for (let j = k; j < n; j++) {
    if (present[j] && !shards[j].equals(fetched.get(slotOfShard(state.geometry, row, j))!)) wrong.push(j);
  }
  if (wrong.length) await repair(state, region, row, wrong, shards, opts.onRepair);
  if (opts.cache !== false) state.rows.set(state.rowKey(region, row), shards);
  return shards;
}

/** Writes the correct shards back to the serving slots whose copy was wrong. */
async function repair(state: ArrayState, region: Region, row: number, shardsToFix: number[], shards: Buffer[], onRepair?: RowLoadOptions['onRepair']): Promise<void> {
  const sector = rowSector(state.geometry, region, row);
  const targets = shardsToFix.map((j) => ({ j, slot: slotOfShard(state.geometry, row, j) })).filter((t) => state.serves(t.slot, region, row));
  await state.eachSlot(
    targets.map((t) => t.slot),
    async (slot) => {
      const j = targets.find((t) => t.slot === slot)!.j;
      await state.handles[slot].batch([{ op: Op.write, sector, count: 1, data: shards[j] }]);
      state.counters.repairs++;
      state.repairsBySlot.set(slot, (state.repairsBySlot.get(slot) ?? 0) + 1);
      onRepair?.(slot, region, row);
    },
  );
}

/**
 * Verified table sectors: from the published entry or the cache, else read
 * from their nodes with one batch per node; a table that is missing or fails
 * its self-MAC comes from its row's reconstruction.
 */
export async function readTableSet(state: ArrayState, ids: Iterable<number>): Promise<Map<number, Buffer>> {
  const g = state.geometry;
  const out = new Map<number, Buffer>();
  const bySlot = new Map<number, number[]>();
  const rebuild: number[] = [];
  for (const t of new Set(ids)) {
    const cached = state.published.tables.get(t) ?? state.tables.get(t);
    if (cached) {
      out.set(t, cached);
      continue;
    }
    const { row, shard } = locate(g, t);
    const slot = slotOfShard(g, row, shard);
    if (!state.serves(slot, 'table', row)) rebuild.push(t);
    else bySlot.set(slot, [...(bySlot.get(slot) ?? []), t]);
  }
  const read = await state.eachSlot(
    [...bySlot.keys()],
    (slot) => readNodeSectors(state, slot, bySlot.get(slot)!.map((t) => rowSector(g, 'table', locate(g, t).row))),
    true,
  );
  for (const [slot, list] of bySlot) {
    const data = read.get(slot);
    list.forEach((t, i) => {
      if (data && shardValid(state, 'table', t, data[i])) out.set(t, Buffer.from(data[i]));
      else {
        if (data) state.noteMacFailure(slot);
        rebuild.push(t);
      }
    });
  }
  if (rebuild.length) {
    const rows = await loadRows(state, 'table', rebuild.map((t) => locate(g, t).row));
    for (const t of rebuild) out.set(t, Buffer.from(rows.get(locate(g, t).row)![locate(g, t).shard]));
  }
  for (const [t, table] of out) if (!state.published.tables.has(t)) state.tables.set(t, table);
  return out;
}

export async function readTables(state: ArrayState, first: number, count: number): Promise<Map<number, Buffer>> {
  const firstTable = tableIndexOf(first);
  return readTableSet(state, Array.from({ length: tableIndexOf(first + count - 1) - firstTable + 1 }, (_, i) => firstTable + i));
}

/** True when every table covering [first, first + count) is in memory, so reading them costs no round trip. */
function tablesInMemory(state: ArrayState, first: number, count: number): boolean {
  for (let t = tableIndexOf(first); t <= tableIndexOf(first + count - 1); t++) {
    if (!state.published.tables.has(t) && !state.tables.has(t)) return false;
  }
  return true;
}

/**
 * Reads up to this many sectors in the same round as their tables. A larger
 * read fetches its tables first: its transfer dwarfs the extra round trip,
 * and in a never-written region it would read a lot of zeros for nothing.
 */
const speculativeSectorsMax = 32;

/**
 * Reads `count` user sectors from `first` into `out` (count * 4096 bytes).
 * Sectors whose fast-path read fails to verify go through loadRows.
 *
 * When the covering tables are in memory, never-written sectors are known
 * first and not read at all. Otherwise a small read asks for its data
 * sectors in the same round as its tables (the coalescer puts both in one
 * batch per node), so it costs one round trip, not two; a sector whose entry
 * turns out blank was then read for nothing.
 */
export async function readUserSectors(state: ArrayState, first: number, count: number, out: Buffer): Promise<void> {
  const g = state.geometry;
  const tablesFirst = count > speculativeSectorsMax || tablesInMemory(state, first, count);
  const known = tablesFirst ? await readTables(state, first, count) : undefined;
  const blankIn = (tables: Map<number, Buffer>, i: number) => isZero(entryAt(tables.get(tableIndexOf(i))!, slotOf(i)));
  // Plan: each sector not known to be blank comes from the row cache or from its slot.
  const wanted = new Map<number, { index: number; sector: number }[]>();
  const fromRows: number[] = [];
  for (let i = first; i < first + count; i++) {
    if (known && blankIn(known, i)) continue;
    const { row, shard } = locate(g, i);
    const slot = slotOfShard(g, row, shard);
    const key = state.rowKey('data', row);
    if (state.published.rows.has(key) || state.rows.has(key) || !state.serves(slot, 'data', row)) {
      fromRows.push(i);
      continue;
    }
    if (!wanted.has(slot)) wanted.set(slot, []);
    wanted.get(slot)!.push({ index: i, sector: rowSector(g, 'data', row) });
  }
  const [tables, fetched] = await Promise.all([
    known ?? readTables(state, first, count),
    state.eachSlot([...wanted.keys()], (slot) => readNodeSectors(state, slot, wanted.get(slot)!.map((w) => w.sector)), true),
  ]);
  const target = (i: number) => out.subarray((i - first) * sectorBytes, (i - first + 1) * sectorBytes);
  for (let i = first; i < first + count; i++) if (blankIn(tables, i)) target(i).fill(0);
  const entry = (i: number) => entryAt(tables.get(tableIndexOf(i))!, slotOf(i));
  const received = new OpenBatch(state.keys, state.pool);
  for (const [slot, list] of wanted) {
    const data = fetched.get(slot);
    list.forEach((w, j) => {
      if (blankIn(tables, w.index)) return;
      if (data) received.add(w.index, data[j], entry(w.index), target(w.index));
      else fromRows.push(w.index);
    });
  }
  for (const i of await received.open()) {
    const { row, shard } = locate(g, i);
    state.noteMacFailure(slotOfShard(g, row, shard));
    fromRows.push(i);
  }
  const fromRowsWritten = fromRows.filter((i) => !blankIn(tables, i));
  const rows = await loadRows(state, 'data', fromRowsWritten.map((i) => locate(g, i).row));
  const verified = new OpenBatch(state.keys, state.pool);
  for (const i of fromRowsWritten) {
    const { row, shard } = locate(g, i);
    verified.add(i, rows.get(row)![shard], entry(i), target(i));
  }
  const [bad] = await verified.open();
  if (bad !== undefined) throw new SectorAuthError(bad);
}
