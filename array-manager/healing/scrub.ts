// Scrub (docs/REBUILD.md, "Scrub"): walk every stripe and check what the
// nodes hold, not what the caches remember: every data shard against its
// MAC, every table shard against its self-MAC, the parity recomputed and
// compared. A wrong shard is rebuilt from the others and written back to its
// node (row-reader.ts does the checking and the repair; the scrub reads
// around the caches and counts). A stripe that cannot be rebuilt is reported
// with the user sectors it holds, and the walk goes on.
//
// Each batch is read and repaired under the shared side of the apply lock,
// like a rebuild batch, so no entry's apply changes a stripe between its
// read and its repair. A stripe of an entry committed but not yet applied
// would come from memory (its published rows), and the shards that entry
// leaves alone would go unchecked on their nodes: so the entry is applied
// first (a flush applies it), and a batch that keeps meeting new entries is
// left for a later try instead of being counted as checked.
import { ArrayError, type ArrayState } from '../array-state.ts';
import { tableEntriesMax } from '../crypto/crypto-constants.ts';
import { stripeRow, stripes, type Region } from '../geometry.ts';
import { loadRows } from '../row-reader.ts';
import { WindowRate } from './rate-meter.ts';

export interface ScrubOptions {
  stripesPerBatch: number;
}

export const scrubDefaults: ScrubOptions = { stripesPerBatch: 256 };

/** User sectors [first, first + count) that no longer read back. */
export interface LostRange {
  first: number;
  count: number;
  region: Region;
  row: number;
}

export interface ScrubResult {
  startedAt: string;
  finishedAt?: string;
  /** Stripes checked so far (the cursor). */
  rowsChecked: number;
  totalRows: number;
  /** Shards written back because the node held them wrongly, by slot. */
  repairedBySlot: Record<number, number>;
  unrecoverable: LostRange[];
}

/** Unrecoverable stripes kept in a result; more are counted, not listed. */
const lostRangesMax = 1024;
/** Flushes a batch may meet a newly committed entry among its stripes before it is left for later. */
const pendingTriesMax = 3;

export class Scrubber {
  /** The running or last pass. */
  result: ScrubResult | undefined;
  unrecoverableRows = 0;
  /** Since this manager started: bytes of data checked, and passes finished. */
  readonly totals = { bytes: 0, passes: 0 };
  readonly rate = new WindowRate();

  constructor(
    private readonly state: ArrayState,
    /** Resolves once every write queued before the call is committed and applied (VirtualDisk.flush). */
    private readonly flush: () => Promise<void>,
    readonly options: ScrubOptions = scrubDefaults,
  ) {}

  get running(): boolean {
    return this.result !== undefined && this.result.finishedAt === undefined;
  }

  /** Starts a pass, or resumes one from its checkpoint. */
  begin(resume?: ScrubResult): ScrubResult {
    const totalRows = stripes(this.state.geometry);
    this.result = resume
      ? { startedAt: resume.startedAt, rowsChecked: Math.min(resume.rowsChecked, totalRows), totalRows, repairedBySlot: { ...resume.repairedBySlot }, unrecoverable: [...resume.unrecoverable] }
      : { startedAt: new Date().toISOString(), rowsChecked: 0, totalRows, repairedBySlot: {}, unrecoverable: [] };
    this.unrecoverableRows = this.result.unrecoverable.length;
    return this.result;
  }

  /**
   * Checks the next batch of stripes; returns the bytes read (0 once the pass
   * is done). A batch that meets E_UNAVAILABLE (nodes silent for now, or
   * stripes that new entries keep changing) throws, and the caller retries it
   * later.
   */
  async step(): Promise<number> {
    const state = this.state;
    const g = state.geometry;
    const result = this.result ?? this.begin();
    const total = stripes(g);
    const first = result.rowsChecked;
    if (first >= total) {
      result.finishedAt ??= new Date().toISOString();
      return 0;
    }
    const { region, row } = stripeRow(g, first);
    const count = Math.min(this.options.stripesPerBatch, (region === 'table' ? g.tableRows : total) - first);
    const rows = Array.from({ length: count }, (_, i) => row + i);
    const onRepair = (slot: number) => (result.repairedBySlot[slot] = (result.repairedBySlot[slot] ?? 0) + 1);
    for (let tries = 0; !(await state.lock.read(() => this.check(region, rows, onRepair))); tries++) {
      if (tries === pendingTriesMax) throw new ArrayError('E_UNAVAILABLE', `scrub: stripes from ${region} row ${row} keep changing; checked later`);
      await this.flush();
    }
    result.rowsChecked = first + count;
    if (result.rowsChecked >= total) {
      result.finishedAt = new Date().toISOString();
      this.totals.passes++;
    }
    const bytes = count * g.k * 4096;
    this.totals.bytes += bytes;
    this.rate.add(bytes);
    return bytes;
  }

  /** Checks `rows` on their nodes, under the apply lock; false, checking nothing, while an entry not yet applied holds one of them. */
  private async check(region: Region, rows: number[], onRepair: (slot: number) => void): Promise<boolean> {
    const state = this.state;
    if (rows.some((r) => state.published.rows.has(state.rowKey(region, r)))) return false;
    try {
      await loadRows(state, region, rows, { fresh: true, cache: false, onRepair });
    } catch (err) {
      if ((err as { code?: string }).code !== 'E_UNRECOVERABLE') throw err;
      // Some stripe of the batch is lost: check them one by one to name each, and keep the rest.
      for (const r of rows) {
        await loadRows(state, region, [r], { fresh: true, cache: false, onRepair }).catch((e: unknown) => {
          if ((e as { code?: string }).code !== 'E_UNRECOVERABLE') throw e;
          this.lost(region, r);
        });
      }
    }
    return true;
  }

  /** Records stripe `row` of `region` as lost, with the user sectors whose data it held. */
  private lost(region: Region, row: number): void {
    const { k } = this.state.geometry;
    this.unrecoverableRows++;
    const result = this.result!;
    if (result.unrecoverable.length >= lostRangesMax) return;
    // A table stripe holds the MACs of k table sectors, each covering tableEntriesMax user sectors.
    const perShard = region === 'data' ? 1 : tableEntriesMax;
    const sectors = this.state.geometry.dataRows * k;
    const first = Math.min(row * k * perShard, sectors);
    result.unrecoverable.push({ region, row, first, count: Math.min(k * perShard, sectors - first) });
  }
}
