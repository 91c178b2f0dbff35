// What a scenario did to each slot, and which of it is a real fault. Marking
// a slot dead spends one of the array's m losses, so the model excuses a
// death (and a refusal beyond m) only by a real fault: the node was killed or
// restarted, its memory was corrupted, or it was partitioned for at least the
// manager's death window, measured in the cluster's virtual time. Resets,
// corrupted, duplicated, withheld, delayed and reordered frames, and
// partitions shorter than the window, are faults of the network: they may
// cost time and retryable refusals, never a slot.
import { healthDefaults, type Clock } from '../../array-manager/node-handle.ts';

interface Partition {
  slot: number;
  from: number;
  /** Virtual time it healed; unset while it lasts. */
  to?: number;
  /** Whether the manager has heard from the node since it healed. */
  heard?: boolean;
}

export class FaultLedger {
  /** Slots killed, restarted or corrupted: lost for good, whenever it happened. */
  private readonly lost = new Set<number>();
  private readonly partitions: Partition[] = [];
  /** Virtual time at which each slot was first seen marked dead (in a record a node holds, or in the running manager). */
  private readonly deaths = new Map<number, number>();

  constructor(
    private readonly clock: Clock,
    readonly windowMs = healthDefaults.deathWindowMs,
  ) {}

  lose(slot: number): void {
    this.lost.add(slot);
  }

  isLost(slot: number): boolean {
    return this.lost.has(slot);
  }

  /**
   * A partition that starts before the manager has heard from the node since
   * the last one healed continues that one: the manager, which only sees its
   * own attempts fail, cannot tell the two apart, and neither does the death
   * rule.
   */
  partitionStarted(slot: number): void {
    const last = this.partitions.filter((p) => p.slot === slot).at(-1);
    if (last && !last.heard) last.to = undefined;
    else this.partitions.push({ slot, from: this.clock.now() });
  }

  /** The manager got a reply from the node. */
  heard(slot: number): void {
    for (const p of this.partitions) if (p.slot === slot && p.to !== undefined) p.heard = true;
  }

  partitionHealed(slot: number): void {
    for (const p of this.partitions) if (p.slot === slot && p.to === undefined) p.to = this.clock.now();
  }

  /** The longest time `slot` had been partitioned without a break, as of virtual time `at`. */
  longestPartition(slot: number, at: number): number {
    let longest = 0;
    for (const p of this.partitions) if (p.slot === slot && p.from <= at) longest = Math.max(longest, Math.min(p.to ?? at, at) - p.from);
    return longest;
  }

  /** True when a real fault explains losing `slot` at virtual time `at`. */
  excuses(slot: number, at: number): boolean {
    return this.lost.has(slot) || this.longestPartition(slot, at) >= this.windowMs;
  }

  /** How many slots a real fault explains at `at`: a refusal beyond m is correct only when they are more than m. */
  realFaults(slots: number, at: number): number {
    let count = 0;
    for (let s = 0; s < slots; s++) if (this.excuses(s, at)) count++;
    return count;
  }

  /** Notes slots seen marked dead now (the first sighting keeps its time). */
  sawDead(slots: Iterable<number>): void {
    for (const s of slots) if (!this.deaths.has(s)) this.deaths.set(s, this.clock.now());
  }

  get deadSlots(): number[] {
    return [...this.deaths.keys()];
  }

  /** A violation for each slot marked dead with no real fault to explain it at the time. */
  unexcusedDeaths(): string[] {
    return [...this.deaths]
      .filter(([slot, at]) => !this.excuses(slot, at))
      .map(
        ([slot, at]) =>
          `slot ${slot} marked dead at ${at} ms (virtual) with no real fault: network faults only, its longest partition by then ${this.longestPartition(slot, at)} ms of the ${this.windowMs} ms death window`,
      );
  }
}
