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
import { Op, type Command } from './node-client/frame-codec.ts';
import { NodeFailure } from './node-handle.ts';

/** Most sectors asked of one node in one batch (the reply must fit a frame). */
const readBatchSectorsMax = 960;

const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

/** Reads node sectors from one slot: `sectors` are node sector numbers; returns one buffer per sector. */
export async function readNodeSectors(state: ArrayState, slot: number, sectors: number[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < sectors.length; i += readBatchSectorsMax) {
    const part = sectors.slice(i, i + readBatchSectorsMax);
    const commands: Command[] = [];
    for (const s of part) {
      const last = commands[commands.length - 1];
      if (last && last.op === Op.read && last.sector + last.count === s) last.count++;
      else commands.push({ op: Op.read, sector: s, count: 1 });
    }
    const results = await state.handles[slot].batch(commands);
    for (const r of results) {
      if (r.op !== Op.read) throw new ArrayError('E_FRAME', 'READ answered with another result');
      state.counters.bytesReceivedFromNodes += r.data.length;
      for (let at = 0; at < r.data.length; at += sectorBytes) out.push(r.data.subarray(at, at + sectorBytes));
    }
  }
  return out;
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
  for (let drop = 0; drop <= spare; drop++) {
    for (const left of subsets(parity, drop, reconstructAttemptsMax)) {
      const use = present.map((p, j) => p && !left.includes(j));
      state.code.reconstruct(shards, use);
      state.counters.reconstructions++;
      if (missing.every(valid)) return true;
    }
  }
  return false;
}

/**
 * Returns all n shards of a row: data shards verified (missing or corrupt
 * ones reconstructed from the live rest), parity recomputed from them. Any
 * shard a live node holds wrongly, data or parity, is written back.
 */
export async function loadRow(state: ArrayState, region: Region, row: number): Promise<Buffer[]> {
  const key = state.rowKey(region, row);
  const cached = state.published.rows.get(key) ?? state.rows.get(key);
  if (cached) return cached;
  const { k, m } = state.geometry;
  const tables = region === 'data' ? await readTables(state, row * k, k) : undefined;
  const n = k + m;
  const sector = rowSector(state.geometry, region, row);
  const shards = Array.from({ length: n }, () => Buffer.alloc(sectorBytes));
  const present = new Array<boolean>(n).fill(false);
  const read = await state.eachSlot(state.liveSlots(), async (slot) => (await readNodeSectors(state, slot, [sector]))[0]);
  for (const [slot, data] of read) {
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
      state.counters.macFailures++;
    }
  }
  if (present.filter(Boolean).length < k) {
    state.checkWritable();
    throw new ArrayError('E_UNRECOVERABLE', `${region} row ${row}: fewer than k = ${k} shards readable and valid`);
  }
  if (present.some((p, j) => !p && j < k) && !reconstructData(state, shards, present, valid)) {
    throw new ArrayError('E_UNRECOVERABLE', `${region} row ${row}: no reconstruction verifies`);
  }
  const parity = Array.from({ length: m }, () => Buffer.alloc(sectorBytes));
  state.code.encode(shards.slice(0, k), parity);
  parity.forEach((p, i) => {
    if (present[k + i] && !p.equals(shards[k + i])) wrong.push(k + i);
    shards[k + i] = p;
  });
  if (wrong.length) await repair(state, region, row, wrong, shards);
  state.rows.set(key, shards);
  return shards;
}

/** Writes the correct shards back to live slots whose copy was wrong. */
async function repair(state: ArrayState, region: Region, row: number, shardsToFix: number[], shards: Buffer[]): Promise<void> {
  const sector = rowSector(state.geometry, region, row);
  const targets = shardsToFix.map((j) => ({ j, slot: slotOfShard(state.geometry, row, j) })).filter((t) => state.isLive(t.slot));
  await state.eachSlot(
    targets.map((t) => t.slot),
    async (slot) => {
      const j = targets.find((t) => t.slot === slot)!.j;
      await state.handles[slot].batch([{ op: Op.write, sector, count: 1, data: shards[j] }]);
      state.counters.repairs++;
    },
  );
}

/** A verified table sector: from the cache, its node, or reconstruction. */
export async function readTable(state: ArrayState, t: number): Promise<Buffer> {
  const cached = state.published.tables.get(t) ?? state.tables.get(t);
  if (cached) return cached;
  const { row, shard } = locate(state.geometry, t);
  const slot = slotOfShard(state.geometry, row, shard);
  let table: Buffer | undefined;
  if (state.isLive(slot)) {
    try {
      const [data] = await readNodeSectors(state, slot, [rowSector(state.geometry, 'table', row)]);
      if (shardValid(state, 'table', t, data)) table = Buffer.from(data);
      else state.counters.macFailures++;
    } catch (err) {
      if (!(err instanceof NodeFailure)) throw err;
      await state.markDead([slot]);
    }
  }
  table ??= Buffer.from((await loadRow(state, 'table', row))[shard]);
  state.tables.set(t, table);
  return table;
}

export async function readTables(state: ArrayState, first: number, count: number): Promise<Map<number, Buffer>> {
  const tables = new Map<number, Buffer>();
  const last = tableIndexOf(first + count - 1);
  await Promise.all(
    Array.from({ length: last - tableIndexOf(first) + 1 }, async (_, i) => {
      const t = tableIndexOf(first) + i;
      tables.set(t, await readTable(state, t));
    }),
  );
  return tables;
}

/**
 * Reads `count` user sectors from `first` into `out` (count * 4096 bytes).
 * Sectors whose fast-path read fails to verify go through loadRow.
 */
export async function readUserSectors(state: ArrayState, first: number, count: number, out: Buffer): Promise<void> {
  const g = state.geometry;
  const tables = await readTables(state, first, count);
  const entry = (i: number) => entryAt(tables.get(tableIndexOf(i))!, slotOf(i));
  // Plan: each written sector comes from the row cache or from its slot.
  const wanted = new Map<number, { index: number; sector: number }[]>();
  const fromRows: number[] = [];
  for (let i = first; i < first + count; i++) {
    const target = out.subarray((i - first) * sectorBytes, (i - first + 1) * sectorBytes);
    if (isZero(entry(i))) {
      target.fill(0);
      continue;
    }
    const { row, shard } = locate(g, i);
    const slot = slotOfShard(g, row, shard);
    const key = state.rowKey('data', row);
    if (state.published.rows.has(key) || state.rows.has(key) || !state.isLive(slot)) {
      fromRows.push(i);
      continue;
    }
    if (!wanted.has(slot)) wanted.set(slot, []);
    wanted.get(slot)!.push({ index: i, sector: rowSector(g, 'data', row) });
  }
  const fetched = await state.eachSlot([...wanted.keys()], (slot) => readNodeSectors(state, slot, wanted.get(slot)!.map((w) => w.sector)));
  for (const [slot, list] of wanted) {
    const data = fetched.get(slot);
    list.forEach((w, j) => {
      const target = out.subarray((w.index - first) * sectorBytes, (w.index - first + 1) * sectorBytes);
      try {
        if (!data) throw new SectorAuthError(w.index);
        openSector(state.keys, w.index, data[j], entry(w.index), target);
      } catch (err) {
        if (!(err instanceof SectorAuthError)) throw err;
        if (data) state.counters.macFailures++;
        fromRows.push(w.index);
      }
    });
  }
  for (const i of fromRows) {
    const { row, shard } = locate(g, i);
    const shards = await loadRow(state, 'data', row);
    openSector(state.keys, i, shards[shard], entry(i), out.subarray((i - first) * sectorBytes, (i - first + 1) * sectorBytes));
  }
}
