// Live rebuild (docs/REBUILD.md): the shards of a rebuilding slot are
// reconstructed from the k other, verified shards of each stripe and written
// to its node, a batch of stripes at a time, while the array serves I/O.
//
// Stripes below a slot's cursor are current on its node: every journal entry
// since the replacement wrote its pieces there too, and each batch is read
// and written under the shared side of the apply lock, so no entry can
// publish (and then apply) a new version of a stripe between the read of
// the batch and its write to the new node. An entry committed before the
// batch is read is taken from the published set, not the nodes, so the
// batch carries its version whether its apply lands before or after. The
// cursor advances only once the batch is written; it is persisted in the
// membership every checkpoint interval, so a manager that crashes resumes
// from the last persisted cursor, never from zero. Slots replaced at
// different times advance together from the lowest cursor: a slot whose
// cursor is ahead waits until the others reach it, so no stripe is read twice.
import type { ArrayState } from '../array-state.ts';
import { sectorBytes, shardOfSlot, stripeRow, stripes, tableStart } from '../geometry.ts';
import { SlotState } from '../membership.ts';
import { Op } from '../node-client/frame-codec.ts';
import { loadRows } from '../row-reader.ts';
import { WindowRate } from './rate-meter.ts';

export interface RebuildOptions {
  /** Stripes rebuilt per batch (one read of k shards and one write per slot each). */
  stripesPerBatch: number;
  /** How often the cursor is persisted in the membership record. */
  checkpointMs: number;
}

export const rebuildDefaults: RebuildOptions = { stripesPerBatch: 256, checkpointMs: 2000 };

export interface RebuildProgress {
  /** Stripes rebuilt, summed over the rebuilding slots. */
  doneRows: number;
  totalRows: number;
  /** Shard bytes written to rebuilding nodes per second, over the last batches. */
  bytesPerSecond: number;
  /** Seconds left at that rate, if known. */
  secondsLeft?: number;
  slots: { slot: number; cursor: number; persisted: number }[];
}

/** What one batch did: the bytes written to rebuilding nodes (0 when nothing is left to rebuild). */
export interface BatchResult {
  bytes: number;
  done: boolean;
}

export class Rebuilder {
  private readonly meter = new WindowRate();
  /** Since this manager started: shard bytes written to rebuilding nodes, and batches. */
  readonly totals = { bytes: 0, batches: 0 };
  private lastCheckpoint: number;
  /** Instances whose replacement the writer has been flushed past (see step()). */
  private readonly flushedFor = new Set<string>();

  constructor(
    private readonly state: ArrayState,
    /** Resolves once every write queued before the call is committed (VirtualDisk.flush). */
    private readonly flush: () => Promise<void>,
    readonly options: RebuildOptions = rebuildDefaults,
  ) {
    this.lastCheckpoint = this.now();
  }

  /** The handles' clock: virtual in the simulator, so checkpoints fall at the same points in every replay. */
  private now(): number {
    return this.state.handles[0].health.clock.now();
  }

  get active(): boolean {
    return this.state.rebuildingSlots().length > 0;
  }

  progress(): RebuildProgress {
    const state = this.state;
    const total = stripes(state.geometry);
    const slots = state.rebuildingSlots().map((slot) => ({ slot, cursor: state.rebuildCursor(slot), persisted: state.membership.slots[slot].cursor }));
    const doneRows = slots.reduce((sum, s) => sum + s.cursor, 0);
    const totalRows = slots.length * total;
    const bytesPerSecond = this.meter.perSecond();
    const secondsLeft = bytesPerSecond > 0 ? ((totalRows - doneRows) * sectorBytes) / bytesPerSecond : undefined;
    return { doneRows, totalRows, bytesPerSecond, ...(secondsLeft !== undefined && { secondsLeft }), slots };
  }

  /**
   * Rebuilds the next batch of stripes for the slots at the lowest cursor,
   * or finishes the slots that are done. Throws E_UNAVAILABLE when too few
   * nodes answer for now, E_UNRECOVERABLE when more than m slots are lost.
   */
  async step(): Promise<BatchResult> {
    const state = this.state;
    const g = state.geometry;
    const total = stripes(g);
    const rebuilding = state.rebuildingSlots();
    if (rebuilding.length === 0) return { bytes: 0, done: true };
    // An entry prepared before a slot became rebuilding sends it no pieces: it must be committed (and so
    // published, where a batch reads it) before any stripe is rebuilt for that slot.
    const fresh = rebuilding.filter((slot) => !this.flushedFor.has(this.key(slot)));
    if (fresh.length) {
      await this.flush();
      fresh.forEach((slot) => this.flushedFor.add(this.key(slot)));
    }
    const finished = rebuilding.filter((slot) => state.rebuildCursor(slot) >= total);
    if (finished.length) {
      await this.persist(finished, true);
      return { bytes: 0, done: !this.active };
    }
    const first = Math.min(...rebuilding.map((slot) => state.rebuildCursor(slot)));
    const targets = rebuilding.filter((slot) => state.rebuildCursor(slot) === first);
    const instances = new Map(targets.map((slot) => [slot, state.membership.slots[slot].instanceId]));
    const { region, row } = stripeRow(g, first);
    // A batch stays in one region: stripes of the two are loaded differently.
    const count = Math.min(this.options.stripesPerBatch, (region === 'table' ? g.tableRows : total) - first);
    const rows = Array.from({ length: count }, (_, i) => row + i);
    let bytes = 0;
    await state.lock.read(async () => {
      const loaded = await loadRows(state, region, rows, { cache: false });
      await state.eachSlot(targets, async (slot) => {
        const data = Buffer.allocUnsafe(count * sectorBytes);
        rows.forEach((r, i) => loaded.get(r)![shardOfSlot(g, r, slot)].copy(data, i * sectorBytes));
        await state.handles[slot].batch([{ op: Op.write, sector: tableStart(g) + first, count, data }]);
        bytes += data.length;
      });
    });
    for (const [slot, instanceId] of instances) {
      const s = state.membership.slots[slot];
      // The slot may have died, or been replaced again, while the batch ran: its progress is then void.
      if (s.state === SlotState.rebuilding && s.instanceId.equals(instanceId)) state.rebuilt.set(slot, first + count);
    }
    this.meter.add(bytes);
    this.totals.bytes += bytes;
    this.totals.batches++;
    const complete = targets.filter((slot) => state.rebuildCursor(slot) >= total);
    if (complete.length) await this.persist(complete, true);
    else if (this.now() - this.lastCheckpoint >= this.options.checkpointMs) await this.persist(state.rebuildingSlots(), false);
    return { bytes, done: !this.active };
  }

  /** Persists the cursors of `slots` in the membership; `finished` slots go live. */
  private async persist(slots: number[], finished: boolean): Promise<void> {
    const state = this.state;
    const changes = new Map(
      slots.map((slot) => {
        const { instanceId } = state.membership.slots[slot];
        const record = finished ? { state: SlotState.live, instanceId, cursor: 0 } : { state: SlotState.rebuilding, instanceId, cursor: state.rebuildCursor(slot) };
        return [slot, record] as const;
      }),
    );
    this.lastCheckpoint = this.now();
    await state.changeSlots(changes);
    if (finished) for (const slot of slots) if (state.isLive(slot)) state.event({ kind: 'rebuild-done', slot, reason: `all ${stripes(state.geometry)} stripes rebuilt` });
  }

  private key(slot: number): string {
    return `${slot}:${this.state.membership.slots[slot].instanceId.toString('hex')}`;
  }

  /** Rebuilds until no slot is rebuilding; for tests and tools that want it done now. */
  async run(): Promise<void> {
    for (;;) {
      const { done } = await this.step();
      if (done) return;
    }
  }
}

