// Writing through the journal (docs/JOURNAL.md). One entry makes a set of
// sector writes atomic, across rows and nodes, data and tables together:
//
//   1. seal the new sectors, update their table entries, and compute every
//      changed shard: the written data shards, the rewritten table sectors,
//      and the parity of each row touched (rows not fully overwritten are
//      read and verified first);
//   2. journal: each node gets its own pieces in its journal payload and a
//      header listing their homes and MACs, in one batch;
//   3. commit: the commit record (version, digest of each node's header) is
//      written to every live node;
//   4. apply: each participant copies its pieces home and erases its header,
//      under the apply lock, then the caches take the new rows and tables.
//
// A node that fails at any step is marked dead (a new membership version on
// all others) before the next step, so no later step or read relies on it.
// The caller acknowledges the writes only when this resolves.
import { sealSector } from './crypto/sector-crypto.ts';
import { encodeTable, entryAt, slotOf, tableIndexOf } from './crypto/table-sector.ts';
import { ArrayError, type ArrayState } from './array-state.ts';
import { commitSector, journalHeaderSector, journalPayloadStart, locate, rowSector, sectorBytes, slotOfShard, type Region } from './geometry.ts';
import { applyEntry, type SlotApply } from './journal-apply.ts';
import { encodeCommit, encodeHeader, headerDigest, pieceMac } from '../journal/journal-record.ts';
import { Op } from './node-client/frame-codec.ts';
import { loadRow, readTable } from './row-reader.ts';

/** One sector of an entry: new plaintext, or undefined to trim it (reads as zeros). */
export interface SectorWrite {
  index: number;
  data?: Uint8Array;
}

interface RowUpdate {
  region: Region;
  row: number;
  shards: Map<number, Buffer>;
}

/**
 * Counts the rows an entry touches as writes join it. Each row puts at most
 * one piece on each node, so the rows must stay within the journal payload.
 */
export class EntryBudget {
  private readonly rows = new Set<string>();

  constructor(
    private readonly k: number,
    private readonly limit: number,
  ) {}

  private keys(index: number): [string, string] {
    return [`d${Math.floor(index / this.k)}`, `t${Math.floor(tableIndexOf(index) / this.k)}`];
  }

  fits(indices: number[]): boolean {
    const added = new Set<string>();
    for (const i of indices) for (const key of this.keys(i)) if (!this.rows.has(key)) added.add(key);
    return this.rows.size + added.size <= this.limit;
  }

  add(indices: number[]): void {
    for (const i of indices) for (const key of this.keys(i)) this.rows.add(key);
  }
}

async function sealWrites(state: ArrayState, writes: Map<number, Uint8Array | undefined>) {
  const newTables = new Map<number, Buffer>();
  for (const index of writes.keys()) {
    const t = tableIndexOf(index);
    if (!newTables.has(t)) newTables.set(t, Buffer.from(await readTable(state, t)));
  }
  const rows = new Map<string, RowUpdate>();
  const update = (region: Region, index: number, shard: Buffer) => {
    const { row, shard: j } = locate(state.geometry, index);
    const key = state.rowKey(region, row);
    if (!rows.has(key)) rows.set(key, { region, row, shards: new Map() });
    rows.get(key)!.shards.set(j, shard);
  };
  for (const [index, data] of writes) {
    const ciphertext = Buffer.alloc(sectorBytes);
    const entry = entryAt(newTables.get(tableIndexOf(index))!, slotOf(index));
    if (data) sealSector(state.keys, index, data, ciphertext, entry);
    else entry.fill(0);
    update('data', index, ciphertext);
  }
  for (const [t, table] of newTables) {
    encodeTable(state.keys, t, table);
    update('table', t, table);
  }
  return { newTables, rows: [...rows.values()] };
}

/** Completes each touched row: all n shards with the updates in place and parity recomputed. */
async function completeRows(state: ArrayState, rows: RowUpdate[]) {
  const { k, m } = state.geometry;
  const done: { update: RowUpdate; shards: Buffer[] }[] = [];
  for (const update of rows) {
    let shards: Buffer[];
    if (update.shards.size === k) {
      shards = Array.from({ length: k + m }, (_, j) => update.shards.get(j) ?? Buffer.alloc(sectorBytes));
    } else {
      const current = await loadRow(state, update.region, update.row);
      shards = current.map((s, j) => update.shards.get(j) ?? (j < k ? s : Buffer.alloc(sectorBytes)));
    }
    state.code.encode(shards.slice(0, k), shards.slice(k));
    done.push({ update, shards });
  }
  return done;
}

export async function commitEntry(state: ArrayState, writes: Map<number, Uint8Array | undefined>): Promise<void> {
  state.checkWritable();
  const g = state.geometry;
  const { newTables, rows } = await sealWrites(state, writes);
  if (rows.length > g.journalPieces) throw new ArrayError('E_TOO_LARGE', `entry touches ${rows.length} rows; the journal holds ${g.journalPieces}`);
  const completed = await completeRows(state, rows);

  // Pieces per slot: changed data shards and every parity shard of each row.
  const pieces = new Map<number, { home: number; data: Buffer }[]>();
  for (const { update, shards } of completed) {
    const home = rowSector(g, update.region, update.row);
    shards.forEach((shard, j) => {
      if (j < g.k && !update.shards.has(j)) return;
      const slot = slotOfShard(g, update.row, j);
      if (!state.isLive(slot)) return;
      if (!pieces.has(slot)) pieces.set(slot, []);
      pieces.get(slot)!.push({ home, data: shard });
    });
  }

  // 2. Journal.
  const version = state.journalVersion + 1n;
  const key = state.keys.journalMac;
  const participants = new Map<number, SlotApply>();
  for (const [slot, list] of pieces) {
    const homes = list.map((p) => p.home);
    const macs = list.map((p) => pieceMac(key, state.arrayId, version, slot, p.home, p.data));
    participants.set(slot, { header: encodeHeader(key, state.arrayId, { version, slot, homes, macs }), homes });
  }
  const journalled = await state.eachSlot([...pieces.keys()], async (slot) => {
    const payload = Buffer.concat(pieces.get(slot)!.map((p) => p.data));
    state.counters.bytesSentToNodes += payload.length + sectorBytes;
    await state.handles[slot].batch([
      { op: Op.write, sector: journalPayloadStart, count: payload.length / sectorBytes, data: payload },
      { op: Op.write, sector: journalHeaderSector, count: 1, data: participants.get(slot)!.header },
    ]);
  });
  state.checkWritable();

  // 3. Commit.
  const headerDigests = Array.from({ length: state.n }, (_, slot) =>
    journalled.has(slot) ? headerDigest(participants.get(slot)!.header) : undefined,
  );
  const commit = encodeCommit(key, state.arrayId, { version, headerDigests });
  await state.eachSlot(state.liveSlots(), async (slot) => {
    state.counters.bytesSentToNodes += sectorBytes;
    await state.handles[slot].batch([{ op: Op.write, sector: commitSector, count: 1, data: commit }]);
  });
  state.checkWritable();
  state.journalVersion = version;
  state.counters.journalEntries++;

  // 4. Apply, then let readers see the new rows and tables.
  await state.lock.write(async () => {
    await applyEntry(state, participants);
    for (const { update, shards } of completed) state.rows.set(state.rowKey(update.region, update.row), shards);
    for (const [t, table] of newTables) state.tables.set(t, table);
  });
}
