// The state an open array shares between its reader, its journal writer and
// its public API: geometry, keys, the erasure code, the adopted membership,
// one handle per slot, the caches and the apply lock. It also owns the one
// way a slot dies: a new membership version written to every node still
// live and acknowledged by all of them before anything relies on it.
import { LRUCache } from 'lru-cache';
import { LatencyHistogram } from './latency-histogram.ts';
import { createErasureCode, type ErasureCode } from './erasure/erasure-code.ts';
import type { KeySet } from './crypto/key-set.ts';
import { slots, stripeOf, type Geometry, type Region } from './geometry.ts';
import { SlotState, deadCount, encodeMembership, isMemberState, withDead, withSlots, type Membership, type SlotRecord } from './membership.ts';
import { Op, type CommandResult, type OutgoingCommand } from './node-client/frame-codec.ts';
import { NodeFailure, transportFault, type Clock, type NodeHandle } from './node-handle.ts';
import { RwLock } from './rw-lock.ts';
import { ReadCoalescer } from './read-coalescer.ts';
import type { CryptoPool } from './crypto/crypto-pool.ts';

/** True when the node behind `node` (a handle, or one session) holds exactly `record` at `version`. */
async function holdsRecord(node: { batch(commands: OutgoingCommand[]): Promise<CommandResult[]> }, version: bigint, record: Buffer): Promise<boolean> {
  const [res] = await node.batch([{ op: Op.deathRead }]);
  return res.op === Op.deathRead && res.version === version && res.record.equals(record);
}

/** Lets go of what an array holds: its node sessions, its crypto pool's threads and its keys. */
export async function releaseArray(held: { handles: NodeHandle[]; pool?: CryptoPool; keys: KeySet }): Promise<void> {
  for (const h of held.handles) h.close();
  await held.pool?.close();
  held.keys.destroy();
}

export class ArrayError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface ArrayCounters {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  journalEntries: number;
  journalApplies: number;
  macFailures: number;
  reconstructions: number;
  repairs: number;
  nodeFailures: number;
  bytesSentToNodes: number;
  bytesReceivedFromNodes: number;
  cryptoWorkersLost: number;
}

/** Why a slot is to be marked dead, and which node it held then (when known). */
interface Death {
  reason: string;
  instance?: Buffer;
}

export interface CacheLimits {
  /** Rows whose shards (data and parity) the writer keeps to avoid re-reading them. */
  rowsMax: number;
  /** Verified table sectors kept in memory. */
  tablesMax: number;
}

export const cacheDefaults: CacheLimits = { rowsMax: 1024, tablesMax: 4096 };

/** Something an operator should hear about: a slot's state changing, a node in doubt or back, writes stopped. */
export interface ArrayEvent {
  /** ISO time. */
  at: string;
  kind: 'slot-dead' | 'slot-in-doubt' | 'slot-back' | 'unavailable' | 'slot-replaced' | 'rebuild-done' | 'rebuild-stalled' | 'scrub-done' | 'scrub-stalled' | 'crypto-worker-lost';
  slot?: number;
  reason: string;
}

/** Events kept for /status; older ones are dropped (the log has them all). */
const eventsMax = 256;

export class ArrayState {
  readonly code: ErasureCode;
  readonly lock = new RwLock();
  readonly reads = new ReadCoalescer(this);
  /** Shards of recently written or verified rows, keyed "region:row". */
  readonly rows: LRUCache<string, Buffer[]>;
  /** Verified table sectors by table index. */
  readonly tables: LRUCache<number, Buffer>;
  /**
   * Rows and tables of the entry committed but not yet applied to its home
   * sectors: readers take them from here, so a write is visible from the
   * moment it is acknowledged. Swapped only under the apply lock.
   */
  published: { rows: Map<string, Buffer[]>; tables: Map<number, Buffer> } = { rows: new Map(), tables: new Map() };
  readonly counters: ArrayCounters = {
    reads: 0,
    writes: 0,
    bytesRead: 0,
    bytesWritten: 0,
    journalEntries: 0,
    journalApplies: 0,
    macFailures: 0,
    reconstructions: 0,
    repairs: 0,
    nodeFailures: 0,
    bytesSentToNodes: 0,
    bytesReceivedFromNodes: 0,
    cryptoWorkersLost: 0,
  };
  readonly readLatency = new LatencyHistogram();
  readonly writeLatency = new LatencyHistogram();
  /** When the array last took a read or write from its users (performance.now()): background work slows down then. */
  lastForegroundAt: number | undefined;
  /** Version of the last journal entry committed. */
  journalVersion = 0n;
  /** The highest membership version any node may hold: the next update goes above it (docs/JOURNAL.md, membership). */
  membershipFloor = 0n;
  /** Set while a membership update has not reached every live node: no write may rely on it yet. */
  private membershipIncomplete = false;
  /** The last membership every member stored. */
  private stored: Membership;
  private membershipUpdate: Promise<void> = Promise.resolve();
  /** The latest events, oldest first. */
  readonly events: ArrayEvent[] = [];
  /** Why and when each slot this manager marked dead died. */
  readonly deaths = new Map<number, { reason: string; at: string }>();
  /** Shards that failed their MAC, per slot. */
  private readonly macFailuresBySlot = new Map<number, number>();
  /** Shards rewritten because the node held them wrongly, per slot (reads and scrub). */
  readonly repairsBySlot = new Map<number, number>();
  /**
   * How far each rebuilding slot has been rebuilt by this manager: ahead of
   * the cursor the membership record persists, which it only ever trails.
   */
  readonly rebuilt = new Map<number, number>();
  /** Called for every event (the CLI logs them). */
  onEvent: (event: ArrayEvent) => void = () => {};
  /** Also told of every event (the healer replaces dead slots with spares). */
  readonly listeners = new Set<(event: ArrayEvent) => void>();

  constructor(
    readonly geometry: Geometry,
    readonly keys: KeySet,
    public membership: Membership,
    readonly handles: NodeHandle[],
    caches: CacheLimits = cacheDefaults,
    /** Worker threads sealing and opening large requests (sector-batch.ts); none: all inline. Closed with the virtual disk. */
    readonly pool?: CryptoPool,
  ) {
    this.stored = membership;
    this.code = createErasureCode({ k: geometry.k, m: geometry.m, shardBytes: 4096 });
    // Bounded by count through maxSize (each entry sizes 1), not max: with max, lru-cache allocates its arrays
    // for every entry up front, about 1 ms per array opened, which the simulator pays at every manager it starts.
    this.rows = new LRUCache({ maxSize: caches.rowsMax, sizeCalculation: () => 1 });
    this.tables = new LRUCache({ maxSize: caches.tablesMax, sizeCalculation: () => 1 });
    for (const h of handles) {
      h.onHealth = (inDoubt, reason) => this.event({ kind: inDoubt ? 'slot-in-doubt' : 'slot-back', slot: h.slot, reason });
    }
    // No request fails with the worker (the pool redoes its share inline), so this count and event are how an operator hears of it.
    if (pool) {
      pool.onWorkerLost = ({ reason, replaced }) => {
        this.counters.cryptoWorkersLost++;
        this.event({ kind: 'crypto-worker-lost', reason: `${reason}; ${replaced ? 'replaced' : 'not replaced (too many losses): its share of each batch now runs on the manager thread'}` });
      };
    }
  }

  /** The health policy's clock, which every handle shares: real time, or the simulator's virtual time. */
  get clock(): Clock {
    return this.handles[0].health.clock;
  }

  event(e: Omit<ArrayEvent, 'at'>): void {
    const event = { at: new Date().toISOString(), ...e };
    this.events.push(event);
    if (this.events.length > eventsMax) this.events.shift();
    this.onEvent(event);
    for (const l of this.listeners) l(event);
  }

  get arrayId(): Buffer {
    return this.membership.arrayId;
  }

  get n(): number {
    return slots(this.geometry);
  }

  isLive(slot: number): boolean {
    return this.membership.slots[slot].state === SlotState.live;
  }

  liveSlots(): number[] {
    return this.membership.slots.map((_, i) => i).filter((i) => this.isLive(i));
  }

  /** Live and rebuilding slots: they hold the membership and the journal, and every write reaches them. */
  isMember(slot: number): boolean {
    return isMemberState(this.membership.slots[slot].state);
  }

  memberSlots(): number[] {
    return this.membership.slots.map((_, i) => i).filter((i) => this.isMember(i));
  }

  rebuildingSlots(): number[] {
    return this.membership.slots.map((_, i) => i).filter((i) => this.membership.slots[i].state === SlotState.rebuilding);
  }

  /** Stripes of a rebuilding slot that are current on its node (docs/REBUILD.md). */
  rebuildCursor(slot: number): number {
    return Math.max(this.rebuilt.get(slot) ?? 0, this.membership.slots[slot].cursor);
  }

  /** True when `slot`'s shard of `row` may be read: live, or rebuilding and past that row. */
  serves(slot: number, region: Region, row: number): boolean {
    const s = this.membership.slots[slot];
    if (s.state === SlotState.live) return true;
    return s.state === SlotState.rebuilding && stripeOf(this.geometry, region, row) < this.rebuildCursor(slot);
  }

  /** Slots that serve at least one of `rows` of `region`. */
  servingSlots(region: Region, rows: number[]): number[] {
    return this.memberSlots().filter((slot) => rows.some((row) => this.serves(slot, region, row)));
  }

  rowKey(region: Region, row: number): string {
    return `${region}:${row}`;
  }

  /** Throws unless the array can still take writes. */
  checkWritable(): void {
    const dead = deadCount(this.membership);
    if (dead > this.geometry.m) {
      throw new ArrayError('E_TOO_MANY_DEAD', `${dead} of ${this.n} nodes are dead; at most m = ${this.geometry.m} may be`);
    }
    if (this.membershipIncomplete && this.deathUnrecorded()) {
      throw new ArrayError('E_UNAVAILABLE', 'a membership update has not reached every live node yet; retrying');
    }
  }

  /**
   * True while a slot is dead here but not in the last record every member
   * stored: until it is, a new manager could adopt a record that still counts
   * the slot's stale shards, so no write may rely on its death. The other
   * changes (a replacement, a rebuild cursor, a rebuilt slot going live) are
   * safe to race: the record before each of them is just as true, only less
   * far along, so writes go on while they are written.
   */
  private deathUnrecorded(): boolean {
    return this.membership.slots.some((s, i) => s.state === SlotState.dead && isMemberState(this.stored.slots[i].state));
  }

  /** Before a write: finishes a membership update that stopped because too many nodes were unreachable, if they answer now. */
  async ready(): Promise<void> {
    if (this.membershipIncomplete) await this.updateMembership(new Map(), false);
    this.checkWritable();
  }

  /**
   * Marks `failed` slots dead: writes the next membership version to every
   * other live node and waits for all of them; nodes that fail that write
   * die too, in the same loop. Updates are serialised. A slot is only marked
   * dead for being unreachable while that keeps the dead within m: when more
   * nodes than that cannot be reached, the network or the manager's own host
   * is the likely culprit, so the update stops with E_UNAVAILABLE, the
   * membership stays as it is, and the next write retries (ready()).
   */
  markDead(failed: Iterable<number>, reason: string): Promise<void> {
    return this.updateMembership(new Map([...failed].map((slot) => [slot, { reason }])), false);
  }

  /** Writes the membership anew above every version a node may hold (after adopting a record below the highest seen). */
  restampMembership(): Promise<void> {
    return this.updateMembership(new Map(), true);
  }

  /**
   * A shard read from `slot` failed its MAC (it was rebuilt from the others).
   * Past the health policy's bound the node is proven wrong and its slot is
   * marked dead; the reader does not wait for that, nor fail with it.
   */
  noteMacFailure(slot: number): void {
    this.counters.macFailures++;
    const n = (this.macFailuresBySlot.get(slot) ?? 0) + 1;
    this.macFailuresBySlot.set(slot, n);
    if (n === this.handles[slot].health.macFailuresMax && this.isMember(slot)) {
      this.markDead([slot], `${n} shards failed their MAC`).catch(() => {});
    }
  }

  /** A new node took `slot`: what the old one did (MAC failures, its death) no longer counts against it. */
  slotReplaced(slot: number): void {
    this.macFailuresBySlot.delete(slot);
    this.deaths.delete(slot);
  }

  /** Slots live in the membership whose nodes have been unreachable for the whole death window. */
  unreachableSlots(): number[] {
    return this.memberSlots().filter((slot) => this.handles[slot].unreachable);
  }

  /**
   * Writes the next membership version with these slots' records replaced (a
   * replacement, a rebuild cursor, a rebuilt slot going live), under the same
   * rule as markDead: every member must store it before anything relies on it.
   */
  changeSlots(changes: Map<number, SlotRecord>): Promise<void> {
    return this.updateMembership(new Map(), false, changes);
  }

  /**
   * The one path that changes the membership. Each failed slot's death is
   * bound to the instance that failed (the one the slot was pinned to then,
   * else the one it holds now), because updates queue behind each other: by
   * the time this one runs, a replacement may have put another node in the
   * slot, and the old node's failure must not kill it.
   */
  private updateMembership(failed: Map<number, Death>, force: boolean, changes = new Map<number, SlotRecord>()): Promise<void> {
    const toKill = new Map<number, { reason: string; instance: Buffer }>();
    const condemn = (slot: number, reason: string, instance = this.membership.slots[slot].instanceId) => {
      if (this.isMember(slot)) toKill.set(slot, { reason, instance });
    };
    for (const [slot, { reason, instance }] of failed) condemn(slot, reason, instance);
    const run = async (): Promise<void> => {
      while (toKill.size > 0 || force || changes.size > 0 || this.membershipIncomplete) {
        if (toKill.size > 0 || force || changes.size > 0) {
          const floor = this.membershipFloor > this.membership.version ? this.membershipFloor : this.membership.version;
          // A cursor or live change to a slot that died meanwhile is void: its death stands.
          for (const [slot, record] of changes) if (!this.changeApplies(slot, record)) changes.delete(slot);
          // A death of a node the slot no longer holds is void: a replacement took the slot meanwhile.
          for (const [slot, { instance }] of toKill) if (!this.isMember(slot) || !this.membership.slots[slot].instanceId.equals(instance)) toKill.delete(slot);
          this.membership = withDead(withSlots(this.membership, changes, floor - 1n), toKill.keys(), floor);
          for (const [slot, record] of changes) if (record.state !== SlotState.rebuilding) this.rebuilt.delete(slot);
          changes.clear();
          this.counters.nodeFailures += toKill.size;
          for (const [slot, { reason }] of toKill) {
            this.handles[slot].close();
            this.rebuilt.delete(slot);
            this.deaths.set(slot, { reason, at: new Date().toISOString() });
            this.event({ kind: 'slot-dead', slot, reason });
          }
          toKill.clear();
          force = false;
        }
        const next = this.membership;
        if (deadCount(next) > this.geometry.m) return;
        this.membershipIncomplete = true;
        const record = encodeMembership(this.keys.membershipMac, next);
        const unreachable: number[] = [];
        await Promise.all(
          this.memberSlots().map(async (slot) => {
            try {
              // After a broken session, the write may have gone through: the node then holds exactly this record.
              const wentThrough = async () => ((await holdsRecord(await this.handles[slot].session(), next.version, record)) ? [{ op: Op.deathWrite } as const] : undefined);
              await this.handles[slot].batch([{ op: Op.deathWrite, version: next.version, record }], wentThrough);
            } catch (err) {
              // An update resumed after it stopped part way: a node that stored it already refuses it again.
              if ((err as { code?: string }).code === 'E_DEATH_VERSION' && (await holdsRecord(this.handles[slot], next.version, record).catch(() => false))) return;
              if (err instanceof NodeFailure && err.reason === 'unreachable') unreachable.push(slot);
              else if (err instanceof NodeFailure || (err as { code?: string }).code === 'E_DEATH_VERSION') condemn(slot, `membership update refused: ${(err as Error).message}`);
              else throw err;
            }
          }),
        );
        if (toKill.size > 0) continue;
        if (unreachable.length > 0) {
          this.refuseBeyondM(unreachable);
          unreachable.forEach((slot) => condemn(slot, `unreachable for the death window: ${this.handles[slot].lastFailure ?? ''}`));
          continue;
        }
        this.membershipIncomplete = false;
        this.stored = next;
      }
    };
    this.membershipUpdate = this.membershipUpdate.then(run, run);
    return this.membershipUpdate;
  }

  /** A replacement applies to a dead slot; any other change only to the member instance it names. */
  private changeApplies(slot: number, record: SlotRecord): boolean {
    const current = this.membership.slots[slot];
    if (current.state === SlotState.dead) return record.state === SlotState.rebuilding && record.cursor === 0;
    return current.instanceId.equals(record.instanceId) && record.state !== SlotState.dead;
  }

  /** True when `failure` is of an instance a replacement has since taken the slot from. */
  private replacedSince(failure: NodeFailure): boolean {
    return failure.instanceId !== undefined && !failure.instanceId.equals(this.membership.slots[failure.slot].instanceId);
  }

  /** Throws E_UNAVAILABLE when marking `unreachable` dead, with every other unreachable slot, would leave more than m dead. */
  private refuseBeyondM(unreachable: number[]): void {
    const down = new Set([...unreachable, ...this.unreachableSlots()]);
    if (deadCount(this.membership) + down.size > this.geometry.m) {
      this.event({ kind: 'unavailable', reason: `slots ${[...down].join(', ')} unreachable with ${deadCount(this.membership)} dead; writes wait for them` });
      throw new ArrayError(
        'E_UNAVAILABLE',
        `${down.size} nodes unreachable (slots ${[...down].join(', ')}) with ${deadCount(this.membership)} dead; at most m = ${this.geometry.m} may be dead: waiting for them to answer`,
      );
    }
  }


  /**
   * Runs `fn` for each slot in `slotsToUse` and returns the results of the
   * slots that answered. Slots whose node failed are marked dead (within the
   * rule of markDead); with `degraded`, for reads that other shards can
   * serve, a slot that fails or cannot be reached is only left out. Any
   * other error is thrown, but only once every slot's call has settled: the
   * caller must know what ran on each node before it does anything else (a
   * batch still in flight could otherwise land after a later one that
   * assumed it had not run).
   */
  async eachSlot<T>(slotsToUse: number[], fn: (slot: number) => Promise<T>, degraded = false): Promise<Map<number, T>> {
    const out = new Map<number, T>();
    const failed: NodeFailure[] = [];
    let unexpected: { error: unknown } | undefined;
    await Promise.all(
      slotsToUse.map(async (slot) => {
        try {
          out.set(slot, await fn(slot));
        } catch (err) {
          if (err instanceof NodeFailure) failed.push(err);
          else if (degraded && transportFault(err)) return;
          else unexpected ??= { error: err };
        }
      }),
    );
    // Judged once every call settled, as the membership now stands: a replacement may have taken a slot meanwhile.
    const current = failed.filter((f) => !this.replacedSince(f));
    if (current.length && !degraded) {
      const unreachable = current.filter((f) => f.reason === 'unreachable').map((f) => f.slot);
      if (unreachable.length) this.refuseBeyondM(unreachable);
      await this.updateMembership(new Map(current.map((f) => [f.slot, { reason: f.message, instance: f.instanceId }])), false);
    }
    // The node that failed is no longer the slot's (judged again: the update may have waited behind a
    // replacement, and then dropped the death): that says nothing of the new one, but this call missed it.
    if (!degraded && failed.some((f) => this.replacedSince(f))) unexpected ??= { error: new ArrayError('E_UNAVAILABLE', 'a slot was given a new node while this ran; retry') };
    if (unexpected) throw unexpected.error;
    return out;
  }
}
