// Writing through the journal (docs/JOURNAL.md). One entry makes a set of
// sector writes atomic, across rows and nodes, data and tables together:
//
//   1. prepare: seal the new sectors, update their table entries, and compute
//      every changed shard: the written data shards, the rewritten table
//      sectors, and the parity of each row touched (rows not fully
//      overwritten are read and verified first);
//   2. journal: each node gets its own pieces in its journal payload and a
//      header listing their homes and MACs, in one batch;
//   3. commit: the commit record (version, digest of each node's header) is
//      written to every live node;
//   4. apply: each participant copies its pieces home and erases its header,
//      then the caches take the new rows and tables.
//
// Writes are acknowledged once committed: from then on recovery applies them
// whatever happens. Readers see a committed entry before it is applied: its
// rows and tables are published (under the apply lock, so no read straddles
// the switch) and served from memory until the apply lands.
//
// Entries are pipelined: the apply of entry N rides in the same node batch
// as the journal of entry N+1 (a node runs a batch whole or not at all, so
// a node holding N+1's header has applied N), and N+1 is prepared from the
// writer's own view of N's rows while N commits. Entry N+1 commits only after
// N is applied everywhere, so recovery never has more than the highest
// committed entry to apply.
//
// A node that fails at any step is marked dead (a new membership version on
// all others) before the next step, so no later step or read relies on it.
import { entryBytes } from './crypto/crypto-constants.ts';
import { encodeTable, entryAt, slotOf, tableIndexOf } from './crypto/table-sector.ts';
import { ArrayError, type ArrayState } from './array-state.ts';
import { commitSector, journalHeaderSector, journalPayloadStart, locate, rowSector, sectorBytes, slotOfShard, tableSectorsFor, type Region } from './geometry.ts';
import { applyCommands, applyEntry, type SlotApply } from './journal-apply.ts';
import { encodeCommit, encodeHeader, headerDigest, payloadDigest } from '../journal/journal-record.ts';
import { Op, type OutgoingCommand } from './node-client/frame-codec.ts';
import { loadRows, readNodeSectors, readTableSet } from './row-reader.ts';
import { sealWrites } from './sector-batch.ts';

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

/** Rows of `region` in which `indices` rewrite fewer than all k data shards (padding beyond `end` counts as rewritten). */
function partialRows(region: Region, indices: number[], k: number, end = Infinity): { region: Region; row: number }[] {
  const counts = new Map<number, number>();
  for (const i of indices) counts.set(Math.floor(i / k), (counts.get(Math.floor(i / k)) ?? 0) + 1);
  return [...counts]
    .filter(([row, n]) => n < Math.min(k, end - row * k))
    .map(([row]) => ({ region, row }));
}

const zeroSector = Buffer.alloc(sectorBytes);

/**
 * Which shards of a row are known to be all zeros, so that they travel as a
 * home to trim rather than as a payload: in a data row with a shard trimmed
 * by this entry, the trimmed shards and untouched shards that read as zero,
 * and the parity too when every data shard is zero. Rows without a trim hold
 * ciphertext or tables, never zeros, and are not scanned.
 */
function zeroShards(k: number, u: RowUpdate, shards: Buffer[], trimmed: Set<number>): boolean[] {
  const zero = new Array<boolean>(shards.length).fill(false);
  if (u.region !== 'data' || ![...u.shards.keys()].some((j) => trimmed.has(u.row * k + j))) return zero;
  for (let j = 0; j < k; j++) zero[j] = u.shards.has(j) ? trimmed.has(u.row * k + j) : shards[j].equals(zeroSector);
  if (zero.slice(0, k).every(Boolean)) zero.fill(true, k);
  return zero;
}

/** An entry prepared and, once committed, waiting to be applied. */
export interface PreparedEntry {
  version: bigint;
  rows: { key: string; shards: Buffer[] }[];
  tables: Map<number, Buffer>;
  pieces: Map<number, { home: number; data: Buffer }[]>;
  /** Per slot, the SHA-256 of its pieces in order: its header carries it, and its journal write's batch digest reuses it. */
  digests: Map<number, Buffer>;
  participants: Map<number, SlotApply>;
}

export class JournalWriter {
  private nextVersion: bigint;
  /** Rows and tables as entries prepared but not yet applied leave them: the writer's own view. */
  private readonly overlayRows = new Map<string, { version: bigint; shards: Buffer[] }>();
  private readonly overlayTables = new Map<number, { version: bigint; table: Buffer }>();
  /** Committed, not yet applied. */
  private pending: PreparedEntry | undefined;
  /**
   * An entry whose commit round failed part way (nodes unreachable, more
   * than m of them): its commit record may be on some nodes, so recovery
   * may apply it, and no later entry may reuse the journal area until it is
   * committed everywhere and applied. Its writes were answered with an
   * error: their outcome is unknown to the client.
   */
  private uncommitted: PreparedEntry | undefined;
  private readying: Promise<void> | undefined;

  constructor(private readonly state: ArrayState) {
    this.nextVersion = state.journalVersion + 1n;
  }

  get hasPending(): boolean {
    return this.pending !== undefined || this.uncommitted !== undefined;
  }

  /**
   * Before anything else is journaled: finishes the commit of an entry whose
   * commit round failed (it becomes the pending entry, applied by the next
   * round), and any membership update that stopped part way.
   */
  ready(): Promise<void> {
    // One attempt at a time: readers and the committer may ask together.
    this.readying ??= (async () => {
      await this.state.ready();
      const entry = this.uncommitted;
      if (!entry) return;
      await this.commit(entry);
      this.uncommitted = undefined;
    })().finally(() => (this.readying = undefined));
    return this.readying;
  }

  /** True while an entry's commit may be on some nodes only: reads must wait for ready(), or they could see its rows old and later new. */
  get inDoubt(): boolean {
    return this.uncommitted !== undefined;
  }

  /**
   * Forgets the writer's view of entries not committed, after a failure; the
   * next entry starts from what is committed (a committed entry's rows are
   * published, and the readers' path serves them). A committed entry still
   * waiting for its apply is kept: the next journal round must carry it, or
   * the journal slot would be overwritten before its pieces reach home.
   * Versions are never reused: a failed commit round may have left its
   * record on some nodes, and two records with one version would make
   * recovery refuse the array.
   */
  reset(): void {
    this.overlayRows.clear();
    this.overlayTables.clear();
  }

  /** Copies of the current table sectors, the writer's view first; the rest in one batch per node. */
  private async tables(ids: number[]): Promise<Map<number, Buffer>> {
    const out = new Map<number, Buffer>();
    const rest: number[] = [];
    for (const t of new Set(ids)) {
      const mine = this.overlayTables.get(t);
      if (mine) out.set(t, Buffer.from(mine.table));
      else rest.push(t);
    }
    for (const [t, table] of await readTableSet(this.state, rest)) out.set(t, Buffer.from(table));
    return out;
  }

  /** Current shards of rows being partly rewritten, by row key: the writer's view first, the rest loaded together. */
  private async rows(updates: { region: Region; row: number }[]): Promise<Map<string, Buffer[]>> {
    const out = new Map<string, Buffer[]>();
    const rest: Record<Region, number[]> = { data: [], table: [] };
    for (const u of updates) {
      const key = this.state.rowKey(u.region, u.row);
      const mine = this.overlayRows.get(key);
      if (mine) out.set(key, mine.shards);
      else rest[u.region].push(u.row);
    }
    // Both regions in one round: the coalescer then asks each node for its table and data shards in one batch.
    const loaded = await Promise.all((['table', 'data'] as const).map(async (region) => [region, await loadRows(this.state, region, rest[region])] as const));
    for (const [region, rows] of loaded) for (const [row, shards] of rows) out.set(this.state.rowKey(region, row), shards);
    return out;
  }

  /** Step 1: seals, encodes and lays out an entry; CPU and reads only, nothing is written. */
  async prepare(writes: Map<number, Uint8Array | undefined>): Promise<PreparedEntry> {
    const state = this.state;
    await this.ready();
    const g = state.geometry;
    const version = this.nextVersion++;
    // Which rows change, and which of them only in part (those must be read first), follows from the
    // indices alone, so the table sectors and the partly rewritten rows are fetched in one round.
    const tableIds = [...new Set([...writes.keys()].map((i) => tableIndexOf(i)))];
    const partial = [
      ...partialRows('data', [...writes.keys()], g.k),
      ...partialRows('table', tableIds, g.k, tableSectorsFor(g.dataRows, g.k)),
    ];
    const [tables, currents] = await Promise.all([this.tables(tableIds), this.rows(partial)]);
    const updates = new Map<string, RowUpdate>();
    const update = (region: Region, index: number, shard: Buffer) => {
      const { row, shard: j } = locate(g, index);
      const key = state.rowKey(region, row);
      if (!updates.has(key)) updates.set(key, { region, row, shards: new Map() });
      updates.get(key)!.shards.set(j, shard);
    };
    const ciphertexts = await sealWrites(state.keys, state.pool, writes);
    let at = 0;
    for (const [index, data] of writes) {
      const entry = entryAt(tables.get(tableIndexOf(index))!, slotOf(index));
      if (data) ciphertexts.entries.copy(entry, 0, at * entryBytes, (at + 1) * entryBytes);
      else entry.fill(0);
      update('data', index, ciphertexts.sectors.subarray(at * sectorBytes, (at + 1) * sectorBytes));
      at++;
    }
    for (const [t, table] of tables) {
      encodeTable(state.keys, t, table);
      update('table', t, table);
    }
    if (updates.size > g.journalPieces) throw new ArrayError('E_TOO_LARGE', `entry touches ${updates.size} rows; the journal holds ${g.journalPieces}`);

    const rows: PreparedEntry['rows'] = [];
    const pieces = new Map<number, { home: number; data: Buffer }[]>();
    const zeroHomes = new Map<number, number[]>();
    const trimmed = new Set([...writes].filter(([, data]) => !data).map(([index]) => index));
    // One allocation for every shard the entry computes (parity, and zero padding of rows not read), not one per shard.
    let computed = 0;
    for (const [key, u] of updates) computed += g.m + (currents.has(key) ? 0 : g.k - u.shards.size);
    const arena = Buffer.alloc(computed * sectorBytes);
    let used = 0;
    const fresh = () => arena.subarray(used, (used += sectorBytes));
    for (const [key, u] of updates) {
      const current = currents.get(key);
      const shards = Array.from({ length: g.k + g.m }, (_, j) => u.shards.get(j) ?? (j < g.k && current ? current[j] : fresh()));
      const zero = zeroShards(g.k, u, shards, trimmed);
      // The parity of an all-zero row is zero, as its fresh parity shards already are.
      if (!zero.every(Boolean)) state.code.encode(shards.slice(0, g.k), shards.slice(g.k));
      rows.push({ key, shards });
      const home = rowSector(g, u.region, u.row);
      shards.forEach((shard, j) => {
        const slot = slotOfShard(g, u.row, j);
        if ((j < g.k && !u.shards.has(j)) || !state.isMember(slot)) return;
        if (zero[j]) {
          if (!zeroHomes.has(slot)) zeroHomes.set(slot, []);
          zeroHomes.get(slot)!.push(home);
          return;
        }
        if (!pieces.has(slot)) pieces.set(slot, []);
        pieces.get(slot)!.push({ home, data: shard });
      });
    }
    const key = state.keys.journalMac;
    const participants = new Map<number, SlotApply>();
    const digests = new Map<number, Buffer>();
    for (const slot of new Set([...pieces.keys(), ...zeroHomes.keys()])) {
      const list = pieces.get(slot) ?? [];
      const homes = list.map((p) => p.home);
      const zeros = zeroHomes.get(slot) ?? [];
      const digest = payloadDigest(list.map((p) => p.data));
      digests.set(slot, digest);
      const header = encodeHeader(key, state.arrayId, { version, slot, homes, zeroHomes: zeros, payloadDigest: digest });
      participants.set(slot, { header, homes, zeroHomes: zeros });
    }
    for (const r of rows) this.overlayRows.set(r.key, { version, shards: r.shards });
    for (const [t, table] of tables) this.overlayTables.set(t, { version, table });
    return { version, rows, tables, pieces, digests, participants };
  }

  /**
   * Step 2, with step 4 of the pending entry: each node gets, in one batch,
   * the apply of the pending entry (if it took part) and its pieces of
   * `entry`.
   */
  async journal(entry: PreparedEntry): Promise<void> {
    const state = this.state;
    const prev = this.pending;
    const slots = new Set([...entry.participants.keys(), ...(prev ? [...prev.participants.keys()] : [])]);
    const round = () =>
      state.eachSlot([...slots].filter((s) => state.isMember(s)), async (slot) => {
        const before = prev?.participants.get(slot);
        const commands: OutgoingCommand[] = before ? applyCommands(state, before) : [];
        const mine = entry.participants.get(slot);
        if (mine) {
          const list = entry.pieces.get(slot) ?? [];
          state.counters.bytesSentToNodes += (list.length + 1) * sectorBytes;
          if (list.length) commands.push({ op: Op.write, sector: journalPayloadStart, count: list.length, pieces: list.map((p) => p.data), digest: entry.digests.get(slot) });
          commands.push({ op: Op.write, sector: journalHeaderSector, count: 1, data: mine.header });
        }
        // After a broken session: if the node no longer holds the pending entry's header, the batch ran.
        await state.handles[slot].batch(commands, async () => {
          if (!before) return undefined;
          const [current] = await readNodeSectors(state, slot, [journalHeaderSector]);
          return current.equals(before.header) ? undefined : [];
        });
        // Applied here: a retry of this round after a failure elsewhere must not apply it again (applyEntry says why).
        prev?.participants.delete(slot);
      });
    const journalled = await round();
    if (prev) this.install(prev);
    for (const slot of entry.participants.keys()) if (!journalled.has(slot)) entry.participants.delete(slot);
    this.pending = undefined;
    state.checkWritable();
  }

  /** Step 3: writes the commit record to every live node; the entry then awaits its apply. */
  async commit(entry: PreparedEntry): Promise<void> {
    const state = this.state;
    const headerDigests = Array.from({ length: state.n }, (_, slot) => {
      const p = entry.participants.get(slot);
      return p ? headerDigest(p.header) : undefined;
    });
    const commit = encodeCommit(state.keys.journalMac, state.arrayId, { version: entry.version, headerDigests });
    try {
      await state.eachSlot(state.memberSlots(), async (slot) => {
        state.counters.bytesSentToNodes += sectorBytes;
        await state.handles[slot].batch([{ op: Op.write, sector: commitSector, count: 1, data: commit }]);
      });
      state.checkWritable();
    } catch (err) {
      this.uncommitted = entry;
      throw err;
    }
    state.journalVersion = entry.version;
    state.counters.journalEntries++;
    this.pending = entry;
    await state.lock.write(async () => {
      state.published = { rows: new Map(entry.rows.map((r) => [r.key, r.shards])), tables: entry.tables };
    });
  }

  /** Step 4 alone, when no next entry is coming to carry it. */
  async applyPending(): Promise<void> {
    await this.ready();
    const entry = this.pending;
    if (!entry) return;
    await applyEntry(this.state, entry.participants);
    this.install(entry);
    this.pending = undefined;
  }

  /** Once applied, an entry's rows and tables move from the published set to the caches; the writer's view lets go of them. */
  private install(entry: PreparedEntry): void {
    const state = this.state;
    for (const r of entry.rows) {
      state.rows.set(r.key, r.shards);
      if (this.overlayRows.get(r.key)?.version === entry.version) this.overlayRows.delete(r.key);
    }
    for (const [t, table] of entry.tables) {
      state.tables.set(t, table);
      if (this.overlayTables.get(t)?.version === entry.version) this.overlayTables.delete(t);
    }
    if (state.published.tables === entry.tables) state.published = { rows: new Map(), tables: new Map() };
    state.counters.journalApplies++;
  }
}
