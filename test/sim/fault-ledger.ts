// What a scenario did to each slot, and which of it is a real fault. Marking
// a slot dead spends one of the array's m losses, so the model excuses a
// death (and a refusal beyond m) only by a real fault: the node was killed or
// restarted, its memory was corrupted, it was partitioned for at least the
// manager's death window, measured in the cluster's virtual time, or the
// operator forced it out with a replacement. Resets, corrupted, duplicated,
// withheld, delayed and reordered frames, and partitions shorter than the
// window, are faults of the network: they may cost time and retryable
// refusals, never a slot.
//
// A slot has incarnations: the node the array was created with, then each
// node a replacement put there. Faults belong to the incarnation that held
// the slot when they happened, and a death is judged against the incarnation
// it names (the instance id in the membership record). A replacement's
// incarnation counts as unavailable for the refusal rule until the rebuild
// is seen finished (the slot live again under its instance); from then on it
// is as healthy as any node, and a later loss of it is a new fault.
import { healthDefaults, type Clock } from '../../array-manager/node-handle.ts';

interface Partition {
  from: number;
  /** Virtual time it healed; unset while it lasts. */
  to?: number;
  /** Whether the manager has heard from the node since it healed. */
  heard?: boolean;
}

/**
 * Incarnations begin and end, and rebuilds finish, at ledger events, which
 * are ordered by a sequence number (`FaultLedger.seq`), not by virtual time:
 * virtual time moves only while a manager sleeps, so in a scenario without
 * partitions a whole replacement and rebuild happen at one virtual instant.
 * An error or a death is judged with the sequence number current when it
 * came: after every event numbered up to it, before every later one.
 */
interface Incarnation {
  /** Instance id the membership pins for it (hex). */
  instance?: string;
  /** Event it took the slot at, and the event the next one did. */
  from: number;
  until?: number;
  /** Killed, restarted or corrupted: lost for good, whenever it happened. */
  lost: boolean;
  /** The operator forced it out (a replacement with force) at this event. */
  forcedAt?: number;
  /** A replacement's node: unavailable until its rebuild is seen finished. */
  replacement: boolean;
  /** Whether its rebuild was finished, as observed at events (in order). */
  finished: { seq: number; done: boolean }[];
  partitions: Partition[];
}

/** When something happened: virtual time (for partitions) and the ledger's event number (for incarnations). */
export interface Moment {
  at: number;
  seq: number;
}

export class FaultLedger {
  private readonly slots: Incarnation[][] = [];
  /** Each death seen, by slot and instance: first sighting time (in a record a node holds, or in the running manager). */
  private readonly deaths = new Map<string, { slot: number; instance: string; when: Moment }>();
  /** The number of the last ledger event. */
  seq = 0;

  constructor(
    private readonly clock: Clock,
    readonly windowMs = healthDefaults.deathWindowMs,
  ) {}

  private incarnations(slot: number): Incarnation[] {
    return (this.slots[slot] ??= [{ from: 0, lost: false, replacement: false, finished: [], partitions: [] }]);
  }

  private current(slot: number): Incarnation {
    return this.incarnations(slot).at(-1)!;
  }

  /** The instance the array was created with at `slot`. */
  setOriginal(slot: number, instance: string): void {
    this.incarnations(slot)[0].instance = instance;
  }

  lose(slot: number): void {
    this.current(slot).lost = true;
  }

  /** Whether the node now at the slot (its current incarnation) is lost. */
  isLost(slot: number): boolean {
    return this.current(slot).lost;
  }

  /** Now, as errors and deaths are judged. */
  now(): Moment {
    return { at: this.clock.now(), seq: this.seq };
  }

  /** The operator forces the current node out (replace --force); `undo` when the replacement was refused before it did so. */
  forced(slot: number): () => void {
    const inc = this.current(slot);
    const before = inc.forcedAt;
    inc.forcedAt ??= ++this.seq;
    return () => void (inc.forcedAt = before);
  }

  /** A replacement put a new node, `instance`, into `slot` now: a new incarnation, unavailable until rebuilt. */
  replaced(slot: number, instance: string): void {
    const seq = ++this.seq;
    const old = this.current(slot);
    old.until = seq;
    for (const p of old.partitions) p.to ??= this.clock.now();
    this.incarnations(slot).push({ instance, from: seq, lost: false, replacement: true, finished: [{ seq, done: false }], partitions: [] });
  }

  /** The rebuild of `instance` at `slot` was seen finished (the slot live under it) or not. */
  observeRebuild(slot: number, instance: string, done: boolean): void {
    const inc = this.incarnations(slot).find((i) => i.instance === instance && i.replacement);
    if (!inc || inc.finished.at(-1)!.done === done) return;
    inc.finished.push({ seq: ++this.seq, done });
  }

  /** Whether a replacement's incarnation was seen finished at any time. */
  everFinished(slot: number): boolean {
    const inc = this.current(slot);
    return inc.replacement && inc.finished.some((f) => f.done);
  }

  /**
   * A partition that starts before the manager has heard from the node since
   * the last one healed continues that one: the manager, which only sees its
   * own attempts fail, cannot tell the two apart, and neither does the death
   * rule.
   */
  partitionStarted(slot: number): void {
    const inc = this.current(slot);
    const last = inc.partitions.at(-1);
    if (last && !last.heard) last.to = undefined;
    else inc.partitions.push({ from: this.clock.now() });
  }

  /** The manager got a reply from the node. */
  heard(slot: number): void {
    for (const p of this.current(slot).partitions) if (p.to !== undefined) p.heard = true;
  }

  partitionHealed(slot: number): void {
    for (const p of this.current(slot).partitions) if (p.to === undefined) p.to = this.clock.now();
  }

  /** The longest time `slot` (any incarnation holding it by then) had been partitioned without a break, as of virtual time `at`. */
  longestPartition(slot: number, at: number, only?: Incarnation): number {
    let longest = 0;
    for (const inc of only ? [only] : this.incarnations(slot))
      for (const p of inc.partitions) if (p.from <= at) longest = Math.max(longest, Math.min(p.to ?? at, at) - p.from);
    return longest;
  }

  /** A real fault of this incarnation as of `when`: what may cost it its slot. */
  private faulty(slot: number, inc: Incarnation, when: Moment): boolean {
    return inc.lost || (inc.forcedAt !== undefined && inc.forcedAt <= when.seq) || this.longestPartition(slot, when.at, inc) >= this.windowMs;
  }

  /** Whether a replacement's rebuild was unfinished as of event `seq`. */
  private unfinished(inc: Incarnation, seq: number): boolean {
    return inc.replacement && !inc.finished.filter((f) => f.seq <= seq).at(-1)!.done;
  }

  /** The incarnation that held the slot as of event `seq`. */
  private holding(slot: number, seq: number): Incarnation {
    return this.incarnations(slot).find((i) => i.from <= seq && (i.until === undefined || i.until > seq))!;
  }

  /** The incarnation a death names: the replacement pinned to `instance`, else the original node. */
  private named(slot: number, instance: string): Incarnation {
    const all = this.incarnations(slot);
    return all.find((i) => i.instance === instance) ?? all[0];
  }

  /** True when the slot was unavailable at `when`: its node really faulty, or a replacement not yet rebuilt. */
  unavailable(slot: number, when: Moment = this.now()): boolean {
    const inc = this.holding(slot, when.seq);
    return this.faulty(slot, inc, when) || this.unfinished(inc, when.seq);
  }

  /** How many slots are unavailable at `when`: a refusal beyond m is correct only when they are more than m. */
  realFaults(slots: number, when: Moment = this.now()): number {
    let count = 0;
    for (let s = 0; s < slots; s++) if (this.unavailable(s, when)) count++;
    return count;
  }

  /** Notes deaths seen now (the first sighting of a slot's instance keeps its moment). */
  sawDead(dead: Iterable<{ slot: number; instance: string }>): void {
    for (const { slot, instance } of dead) {
      const key = `${slot}:${instance}`;
      if (!this.deaths.has(key)) this.deaths.set(key, { slot, instance, when: this.now() });
    }
  }

  get deathCount(): number {
    return this.deaths.size;
  }

  /** A violation for each death with no real fault of the incarnation it names to explain it at the time. */
  unexcusedDeaths(): string[] {
    return [...this.deaths.values()]
      .filter(({ slot, instance, when }) => !this.faulty(slot, this.named(slot, instance), when))
      .map(({ slot, instance, when: { at } }) => {
        const inc = this.named(slot, instance);
        const which = inc.replacement ? ` (the node a replacement put there, instance ${instance.slice(0, 8)})` : '';
        return `slot ${slot} marked dead at ${at} ms (virtual) with no real fault: network faults only, its longest partition by then ${this.longestPartition(slot, at, inc)} ms of the ${this.windowMs} ms death window${which}`;
      });
  }
}
