// Runs one simulated scenario: a real array manager over in-process disk
// nodes, with manager crashes, node losses and restarts, memory corruption
// and a hostile network injected where the scenario says, and the model
// checked after every group of operations and after every recovery.
import { createArray } from '../../array-manager/array-create.ts';
import { openArray } from '../../array-manager/array-open.ts';
import { tableStart } from '../../array-manager/geometry.ts';
import type { VirtualDisk } from '../../array-manager/virtual-disk.ts';
import { DiskModel } from './model.ts';
import { prng, sectorValue } from './prng.ts';
import type { Scenario, SimOp } from './scenario.ts';
import { faultKinds, sectorSpan } from './scenario.ts';
import { SeededDelivery } from './delivery-scheduler.ts';
import { SimCluster, dataKey, type FaultPolicy } from './sim-cluster.ts';
import { slotsMarkedDead } from './marked-dead.ts';
import { FaultLedger } from './fault-ledger.ts';
import type { Clock } from '../../array-manager/node-handle.ts';

export interface SimStats {
  scenarios: number;
  steps: number;
  crashes: number;
  nodeLosses: number;
  corruptions: number;
  networkFaults: number;
  partitions: number;
  lateFrames: number;
  failedArrays: number;
  /** Requests refused with the retryable E_UNAVAILABLE. */
  retryableRefusals: number;
  /** Scenarios whose only faults were network faults (no crash, no node loss, no corruption, no partition as long as the death window). */
  networkOnly: number;
  /** Of those, the ones that ended with every slot live (any other is a violation). */
  networkOnlyAllLive: number;
}

export function emptyStats(): SimStats {
  return { scenarios: 0, steps: 0, crashes: 0, nodeLosses: 0, corruptions: 0, networkFaults: 0, partitions: 0, lateFrames: 0, failedArrays: 0, retryableRefusals: 0, networkOnly: 0, networkOnlyAllLive: 0 };
}

/** The counters as `name=value` pairs, in a fixed order, for one summary line. */
export function statsLine(stats: SimStats): string {
  return (Object.keys(emptyStats()) as (keyof SimStats)[]).map((key) => `${key}=${stats[key]}`).join(' ');
}

/** Codes that are a clear, correct refusal once more than m nodes are really faulty. */
const beyondMCodes = new Set(['E_TOO_MANY_DEAD', 'E_QUORUM', 'E_UNRECOVERABLE', 'E_NO_ARRAY']);
/** A refusal the client may retry: correct whenever nodes are in doubt, whatever the cause. */
const retryableCode = 'E_UNAVAILABLE';
/** Real time a group may take before the run is declared hung. */
const groupTimeoutMs = 20_000;
const nodeSectors = 150;

interface Outcome {
  op: SimOp;
  status: 'ok' | 'error' | 'unknown';
  error?: Error & { code?: string };
  /** Virtual time it settled at. */
  at?: number;
  read?: Buffer;
}

function writesOf(op: SimOp, sectors: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  const wrap = (s: number) => s % Math.min(sectors, sectorSpan);
  if (op.kind === 'write') for (let i = 0; i < op.count; i++) out.set(wrap(op.sector) + i, sectorValue(op.seed, wrap(op.sector) + i));
  if (op.kind === 'trim') for (let i = 0; i < op.count; i++) out.set(wrap(op.sector) + i, Buffer.alloc(4096));
  if (op.kind === 'txn') for (const s of op.sectors) out.set(wrap(s), sectorValue(op.seed, wrap(s)));
  return out;
}

function start(disk: VirtualDisk, op: SimOp, clock: Clock): Promise<Outcome> {
  const wrap = (s: number) => s % Math.min(disk.sectors, sectorSpan);
  let p: Promise<Buffer | void>;
  if (op.kind === 'write') p = disk.writeSectors(wrap(op.sector), Buffer.concat([...writesOf(op, disk.sectors).values()]));
  else if (op.kind === 'trim') p = disk.trimSectors(wrap(op.sector), op.count);
  else if (op.kind === 'txn') p = disk.transaction([...writesOf(op, disk.sectors)].map(([sector, data]) => ({ sector, data })));
  else if (op.kind === 'read') p = disk.readSectors(wrap(op.sector), op.count);
  else if (op.kind === 'flush') p = disk.flush();
  else throw new Error(`not an I/O op: ${op.kind}`);
  return p.then(
    (v) => ({ op, status: 'ok' as const, read: v || undefined }),
    (error) => ({ op, status: 'error' as const, error, at: clock.now() }),
  );
}

export class ScenarioRun {
  readonly violations: string[] = [];
  private readonly cluster: SimCluster;
  private readonly model = new DiskModel();
  private readonly ledger: FaultLedger;
  /** The death version each node held when last looked at. */
  private readonly deathVersions: bigint[] = [];
  private readonly key = dataKey();
  private arrayId: Buffer | undefined;
  private disk: VirtualDisk | undefined;
  private nextUnknown = 0;
  /** Groups run so far in this scenario: seeds what a group's faults draw, so a scenario replays alone as it ran in a stream. */
  private step = 0;
  /** Actions waiting for the n-th manager crash from when they were armed. */
  private crashHooks: { crashesLeft: number; run: () => void }[] = [];
  /** Frames delivered by each group's I/O (up to its crash) and by each opening after a crash: the exhaustive sweep counts on them. */
  readonly frames = { io: [] as number[], recoveries: [] as number[] };
  /** Fault policies of this group's ops, asked in turn; the first that does not deliver decides. */
  private sendFaults: NonNullable<FaultPolicy['onSend']>[] = [];

  constructor(
    private readonly sc: Scenario,
    private readonly stats: SimStats,
  ) {
    this.cluster = new SimCluster(sc.k + sc.m, nodeSectors);
    if (sc.delivery) this.cluster.scheduler = new SeededDelivery(sc.delivery);
    this.ledger = new FaultLedger(this.cluster.clock);
    this.cluster.onAnswered = (slot) => this.watchDeathRecord(slot);
    this.cluster.onHeard = (slot) => this.ledger.heard(slot);
  }

  private get n(): number {
    return this.sc.k + this.sc.m;
  }

  /** Slots really faulty at virtual time `at` (fault-ledger.ts): network faults do not count. */
  private faults(at = this.cluster.clock.now()): number {
    return this.ledger.realFaults(this.n, at);
  }

  /** Runs `run` after `frames` more delivered frames, or at the (-frames)-th manager crash from now when negative. */
  private afterFramesOrCrash(frames: number, run: () => void): void {
    if (frames >= 0) this.cluster.after(frames, run);
    else this.crashHooks.push({ crashesLeft: -frames, run });
  }

  /** The manager just crashed: what was waiting for this crash happens now, before the next manager starts. */
  private crashed(): void {
    this.stats.crashes++;
    const now = this.crashHooks.filter((h) => --h.crashesLeft <= 0);
    this.crashHooks = this.crashHooks.filter((h) => h.crashesLeft > 0);
    for (const h of now) h.run();
  }

  /** After a node handled a frame: a new death record there is a decision some manager made now. */
  private watchDeathRecord(slot: number): void {
    const version = this.cluster.nodes[slot].store.deathVersion;
    if (version === this.deathVersions[slot]) return;
    this.deathVersions[slot] = version;
    if (this.arrayId) this.ledger.sawDead(slotsMarkedDead([this.cluster.nodes[slot]], this.key, this.arrayId));
  }

  /**
   * Notes the slots the current manager marked dead (perhaps in no record
   * yet) and checks that a real fault explains every slot marked dead so far,
   * by any manager: a crash discards the manager, not what it decided.
   */
  private checkDeaths(): void {
    if (this.disk) this.ledger.sawDead(this.disk.state.membership.slots.map((_, s) => s).filter((s) => !this.disk!.state.isLive(s)));
    for (const v of this.ledger.unexcusedDeaths()) if (!this.violations.includes(v)) this.violations.push(v);
  }

  /** An error is correct when retryable, or a clear refusal with more than m slots really faulty when it came. */
  private checkError(where: string, err: Error & { code?: string }, at = this.cluster.clock.now()): void {
    if (err.code === retryableCode) {
      this.stats.retryableRefusals++;
      return;
    }
    if (err.code && beyondMCodes.has(err.code) && this.faults(at) > this.sc.m) return;
    if (this.staleViewPossible(err)) return;
    this.violations.push(`${where}: ${err.code ?? 'untyped'} ${err.code ? err.message : err.stack} with ${this.faults(at)} really faulty of m=${this.sc.m}`);
  }

  /**
   * k <= m: an open that fewer than m+1 nodes holding a record can answer,
   * with a live slot silent, must refuse (docs/JOURNAL.md, membership): the
   * answers also fit a newer complete update, stored only on the silent
   * nodes, that killed the answering ones, and serving them would be a
   * silent rollback. No manager can tell the two apart, so this refusal is
   * the specification, not a failure; any other refusal is still checked.
   */
  private staleViewPossible(err: Error & { code?: string }): boolean {
    if (err.code !== 'E_QUORUM' || this.sc.k > this.sc.m || !/to rule out a stale view/.test(err.message)) return false;
    const c = this.cluster;
    const holding = c.nodes.filter((node, slot) => !c.isDead(slot) && !c.isPartitioned(slot) && node.store.deathVersion > 0n).length;
    return holding < this.sc.m + 1;
  }

  async run(): Promise<void> {
    this.stats.scenarios++;
    const before = { ...this.stats };
    this.disk = await createArray({
      connector: this.cluster.connector(),
      dataKey: this.key,
      k: this.sc.k,
      m: this.sc.m,
      journalPieces: this.sc.journalPieces,
      keyErasure: this.sc.keyErasure,
    });
    this.arrayId = Buffer.from(this.disk.state.arrayId);
    for (const group of this.sc.groups) {
      if (!this.disk || this.violations.length) break;
      await this.runGroup(group);
      if (this.disk && !this.violations.length) await this.verify('after group');
      this.checkDeaths();
    }
    this.checkDeaths();
    this.cluster.freezeAll();
    this.stats.lateFrames += this.cluster.lateDeliveries;
    this.countNetworkOnly(before);
  }

  /** Counts the scenario if network faults were all it met, and whether it ended with every slot live. */
  private countNetworkOnly(before: SimStats): void {
    const delta = (key: keyof SimStats) => this.stats[key] - before[key];
    const network = delta('networkFaults') + delta('partitions') + delta('lateFrames') > 0 || this.sc.delivery !== undefined;
    const real = delta('crashes') + delta('nodeLosses') + delta('corruptions') + this.faults();
    if (!network || real > 0) return;
    this.stats.networkOnly++;
    if (this.ledger.deadSlots.length === 0) this.stats.networkOnlyAllLive++;
  }

  private arm(op: SimOp): void {
    const c = this.cluster;
    if (op.kind === 'crash') c.crashAt = c.delivered + op.afterFrames;
    if (op.kind === 'kill') {
      const slot = op.slot % this.n;
      this.afterFramesOrCrash(op.afterFrames, () => {
        if (c.isDead(slot) || this.ledger.isLost(slot)) return;
        this.ledger.lose(slot);
        this.stats.nodeLosses++;
        c.kill(slot);
        if (op.restart) c.restart(slot);
      });
    }
    if (op.kind === 'corrupt') this.corrupt(op);
    if (op.kind === 'network') {
      const next = prng(op.perMille * 7919 + this.step);
      const fates = ['reset', 'corrupt', 'duplicate'] as const;
      this.sendFaults.push(() => {
        if (next() * 1000 >= op.perMille) return 'deliver';
        this.stats.networkFaults++;
        return fates[Math.floor(next() * fates.length)];
      });
    }
    if (op.kind === 'partition') this.armPartition(op);
    if (op.kind === 'withhold') {
      const slot = op.slot % this.n;
      let sent = 0;
      this.sendFaults.push((to) => {
        if (to !== slot || sent++ !== op.nth) return 'deliver';
        this.stats.networkFaults++;
        return { releaseAfterFrames: op.releaseAfterFrames };
      });
    }
  }

  private armPartition(op: Extract<SimOp, { kind: 'partition' }>): void {
    const slot = op.slot % this.n;
    const c = this.cluster;
    this.afterFramesOrCrash(op.afterFrames, () => {
      if (c.isPartitioned(slot)) return;
      this.stats.partitions++;
      c.partition(slot);
      this.ledger.partitionStarted(slot);
      const heal = () => {
        c.heal(slot);
        this.ledger.partitionHealed(slot);
      };
      if (op.healAfterMs >= 0) c.afterMs(op.healAfterMs, heal);
      else this.crashHooks.push({ crashesLeft: -op.healAfterMs, run: heal });
    });
  }

  /** Flips one byte of a data or table row on a node, if that keeps the faults within m. */
  private corrupt(op: Extract<SimOp, { kind: 'corrupt' }>): void {
    const slot = op.slot % this.n;
    if (!this.disk || this.cluster.isDead(slot)) return;
    if (!this.ledger.isLost(slot) && this.faults() >= this.sc.m) return;
    const g = this.disk.state.geometry;
    const rows = g.tableRows + Math.min(g.dataRows, 80);
    const sector = tableStart(g) + (op.row % rows);
    this.cluster.nodes[slot].store.view(sector, 1)[0][op.byte] ^= 0x5a;
    this.ledger.lose(slot);
    this.stats.corruptions++;
  }

  private async runGroup(group: SimOp[]): Promise<void> {
    const disk = this.disk!;
    this.stats.steps++;
    this.step++;
    const io = group.filter((op) => !faultKinds.has(op.kind));
    for (const op of group) if (!io.includes(op)) this.arm(op);
    const policies = this.sendFaults;
    this.cluster.faults = {
      onSend: (slot, frame) => {
        for (const p of policies) {
          const fate = p(slot, frame);
          if (fate !== 'deliver') return fate;
        }
        return 'deliver';
      },
    };
    const before = new Map<number, Buffer[]>();
    for (const op of io) if (op.kind === 'read') for (let i = 0; i < op.count; i++) {
      const s = (op.sector % Math.min(disk.sectors, sectorSpan)) + i;
      before.set(s, [...this.model.allowed(s), ...io.flatMap((w) => writesOf(w, disk.sectors).get(s) ?? [])]);
    }
    const outcomes: (Outcome | undefined)[] = new Array(io.length);
    const started = this.cluster.delivered;
    const all = Promise.all(io.map((op, i) => start(disk, op, this.cluster.clock).then((o) => (outcomes[i] = o))));
    const result = await this.race(all);
    this.frames.io.push(this.cluster.delivered - started);
    // Faults armed for this group end with it; a crash point not reached is not carried into the checks.
    this.cluster.faults = {};
    this.sendFaults = [];
    this.cluster.crashAt = undefined;
    for (let i = 0; i < io.length; i++) {
      const o = outcomes[i] ?? { op: io[i], status: 'unknown' as const };
      const writes = writesOf(o.op, disk.sectors);
      if (o.status === 'ok' && o.op.kind === 'read') this.checkRead(o, before);
      else if (o.status === 'ok') this.model.ack(writes);
      else if (writes.size) this.model.addUnknown({ id: this.nextUnknown++, values: writes, atomic: o.op.kind === 'txn' });
      if (o.status === 'error') this.checkError(`${o.op.kind}`, o.error!, o.at);
    }
    if (result === 'frozen') await this.recover(group);
  }

  private checkRead(o: Outcome, before: Map<number, Buffer[]>): void {
    const op = o.op as Extract<SimOp, { kind: 'read' }>;
    const first = op.sector % Math.min(this.disk!.sectors, sectorSpan);
    for (let i = 0; i < op.count; i++) {
      const got = o.read!.subarray(i * 4096, (i + 1) * 4096);
      if (!before.get(first + i)!.some((v) => v.equals(got))) this.violations.push(`read of sector ${first + i} returned a value no write put there`);
    }
  }

  private async race<T>(p: Promise<T>): Promise<T | 'frozen' | 'hung'> {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), groupTimeoutMs)));
    const result = await Promise.race([p, this.cluster.whenFrozen(), hung]);
    clearTimeout(timer);
    if (result === 'hung') this.violations.push('operations hung with no crash');
    return result;
  }

  private async recover(group: SimOp[]): Promise<void> {
    this.crashed();
    const crash = group.find((op) => op.kind === 'crash') as Extract<SimOp, { kind: 'crash' }> | undefined;
    let crashDuringRecovery = crash && crash.duringRecovery >= 0 ? crash.duringRecovery : -1;
    this.checkDeaths();
    this.disk = undefined;
    for (;;) {
      if (crashDuringRecovery >= 0) this.cluster.crashAt = this.cluster.delivered + crashDuringRecovery;
      crashDuringRecovery = -1;
      const started = this.cluster.delivered;
      const opening = openArray({ connector: this.cluster.connector(), dataKey: this.key }).then(
        (disk) => ({ disk }),
        (error) => ({ error: error as Error & { code?: string } }),
      );
      const result = await this.race(opening);
      this.frames.recoveries.push(this.cluster.delivered - started);
      if (result === 'hung') return;
      if (result === 'frozen') {
        this.crashed();
        continue;
      }
      this.cluster.crashAt = undefined;
      if ('error' in result) {
        this.checkError('open after crash', result.error);
        this.stats.failedArrays++;
        return;
      }
      this.disk = result.disk;
      await this.verify('after recovery');
      return;
    }
  }

  /** Reads every sector ever touched and checks it against the model. */
  private async verify(where: string): Promise<void> {
    const disk = this.disk!;
    const sectors = [...this.model.touched].sort((a, b) => a - b);
    const observed = new Map<number, Buffer>();
    try {
      // Consecutive touched sectors are read together: fewer batches, same check.
      for (let i = 0; i < sectors.length; ) {
        let j = i + 1;
        while (j < sectors.length && sectors[j] === sectors[j - 1] + 1) j++;
        const data = await disk.readSectors(sectors[i], j - i);
        for (let x = i; x < j; x++) observed.set(sectors[x], data.subarray((x - i) * 4096, (x - i + 1) * 4096));
        i = j;
      }
    } catch (err) {
      this.checkError(`verify ${where}`, err as Error);
      this.stats.failedArrays++;
      this.disk = undefined;
      return;
    }
    for (const v of this.model.settle(observed)) this.violations.push(`${where}: ${v}`);
  }
}

export async function runScenario(sc: Scenario, stats: SimStats): Promise<string[]> {
  const run = new ScenarioRun(sc, stats);
  await run.run();
  return run.violations;
}
