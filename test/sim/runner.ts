// Runs one simulated scenario: a real array manager over in-process disk
// nodes, with manager crashes, node losses and restarts, memory corruption
// and a hostile network injected where the scenario says, and the model
// checked after every group of operations and after every recovery.
import { createArray } from '../../array-manager/array-create.ts';
import { deriveKeySet, type KeySet } from '../../array-manager/crypto/key-set.ts';
import { openArray } from '../../array-manager/array-open.ts';
import { randomBytes } from 'node:crypto';
import { stripeRow, stripes, tableStart } from '../../array-manager/geometry.ts';
import type { VirtualDisk } from '../../array-manager/virtual-disk.ts';
import { Rebuilder, type RebuildOptions } from '../../array-manager/healing/rebuild.ts';
import { Scrubber, type ScrubOptions } from '../../array-manager/healing/scrub.ts';
import { replaceSlot } from '../../array-manager/healing/replace.ts';
import { SlotState, deadCount, encodeMembership } from '../../array-manager/membership.ts';
import type { DiskNodeCore } from '../../disk-node/node-core.ts';
import { DiskModel } from './model.ts';
import { prng, sectorValue } from './prng.ts';
import type { Scenario, SimOp } from './scenario.ts';
import { faultKinds, healingKinds, sectorSpan } from './scenario.ts';
import { SeededDelivery } from './delivery-scheduler.ts';
import { SimCluster, dataKey, type FaultPolicy } from './sim-cluster.ts';
import { slotsMarkedDead } from './marked-dead.ts';
import { watchForHang } from './hang-watch.ts';
import { FaultLedger, type Moment } from './fault-ledger.ts';
import type { FrameTally, Phase } from './frame-tally.ts';

export interface SimStats {
  scenarios: number;
  steps: number;
  /** Request frames that reached a node (each authenticated by the manager; a node it convinces checks it and MACs its reply). */
  frames: number;
  /** Sessions nodes opened (each a signed open frame and a key agreement, if the manager got that far). */
  sessions: number;
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
  /** Slots given a new node (replaceSlot succeeded). */
  replacements: number;
  /** Replacements refused as they must be (a spare too small, in use, unreachable, or a live slot without force), nothing changed. */
  replaceRefusals: number;
  /** Rebuild batches (Rebuilder.step) that completed. */
  rebuildBatches: number;
  /** Replaced slots seen live again, their rebuild finished. */
  rebuildsFinished: number;
  /** Scrub passes completed. */
  scrubs: number;
  /** Shards those passes wrote back (ScrubResult.repairedBySlot). */
  repairedShards: number;
}

export function emptyStats(): SimStats {
  return {
    scenarios: 0,
    steps: 0,
    frames: 0,
    sessions: 0,
    crashes: 0,
    nodeLosses: 0,
    corruptions: 0,
    networkFaults: 0,
    partitions: 0,
    lateFrames: 0,
    failedArrays: 0,
    retryableRefusals: 0,
    networkOnly: 0,
    networkOnlyAllLive: 0,
    replacements: 0,
    replaceRefusals: 0,
    rebuildBatches: 0,
    rebuildsFinished: 0,
    scrubs: 0,
    repairedShards: 0,
  };
}

/** The counters as `name=value` pairs, in a fixed order, for one summary line. */
export function statsLine(stats: SimStats): string {
  return (Object.keys(emptyStats()) as (keyof SimStats)[]).map((key) => `${key}=${stats[key]}`).join(' ');
}

/** Codes that are a clear, correct refusal once more than m nodes are really faulty. */
const beyondMCodes = new Set(['E_TOO_MANY_DEAD', 'E_QUORUM', 'E_UNRECOVERABLE', 'E_NO_ARRAY']);
/** A refusal the client may retry: correct whenever nodes are in doubt, whatever the cause. */
const retryableCode = 'E_UNAVAILABLE';
/** Real time a group may wait, its process not starved, before the run is declared hung (hang-watch.ts). */
const groupTimeoutMs = 20_000;
const nodeSectors = 150;

interface Outcome {
  op: SimOp;
  status: 'ok' | 'error' | 'unknown';
  error?: Error & { code?: string };
  /** When it settled (virtual time and the fault ledger's event number). */
  when?: Moment;
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

function start(disk: VirtualDisk, op: SimOp, now: () => Moment): Promise<Outcome> {
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
    (error) => ({ op, status: 'error' as const, error, when: now() }),
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
  /** The array's keys, for reading the membership records the nodes hold (derived once: HKDF is not free). */
  private keys: KeySet | undefined;
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
  /** Counts managers: a healing op of a manager that crashed must not act on the model. */
  private generation = 0;
  /** The healing machinery of the running manager (one rebuilder and one scrubber per manager, like the healer's). */
  private healing: Healing | undefined;
  /**
   * Per replacement instance (hex): the highest cursor any manager had
   * rebuilt for it, the highest every member is known to have stored, and
   * whether a record every member stored made it live.
   */
  private readonly rebuildLog = new Map<string, { rebuilt: number; persisted: number; live: boolean }>();
  /** Bytes flipped in node memory, kept until seen gone (a scrub pass must remove the ones m allows). */
  private corruptions: { slot: number; core: DiskNodeCore; sector: number; stripe: number; bytes: Buffer }[] = [];
  /** Set when a scrub pass began and ended within the running group. */
  private scrubPassInGroup = false;
  /** Whether the running group has `network` faults (they may cost a replacement its attested session). */
  private groupNetwork = false;
  /** An operator forced a node out: the scenario is no longer one of network faults only. */
  private forcedOut = false;

  constructor(
    private readonly sc: Scenario,
    private readonly stats: SimStats,
    private readonly tally?: FrameTally,
  ) {
    this.cluster = new SimCluster(sc.k + sc.m, nodeSectors);
    if (tally) {
      tally.phase = 'create';
      tally.geometry = undefined;
      this.cluster.onDelivered = (frame) => tally.count(frame);
    }
    if (sc.delivery) this.cluster.scheduler = new SeededDelivery(sc.delivery);
    this.ledger = new FaultLedger(this.cluster.clock);
    this.cluster.onAnswered = (slot) => this.watchDeathRecord(slot);
    this.cluster.onHeard = (slot) => this.ledger.heard(slot);
    this.cluster.onAssigned = (slot, core) => {
      const instance = core.instanceId.toString('hex');
      this.ledger.replaced(slot, instance);
      this.rebuildLog.set(instance, { rebuilt: 0, persisted: 0, live: false });
    };
  }

  private get n(): number {
    return this.sc.k + this.sc.m;
  }

  /** Slots really faulty at virtual time `at` (fault-ledger.ts): network faults do not count. */
  private faults(when = this.ledger.now()): number {
    return this.ledger.realFaults(this.n, when);
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
    if (this.arrayId && this.keys) this.ledger.sawDead(slotsMarkedDead([this.cluster.nodes[slot]], this.keys, this.arrayId));
  }

  /**
   * Notes the slots the current manager marked dead (perhaps in no record
   * yet) and checks that a real fault explains every slot marked dead so far,
   * by any manager: a crash discards the manager, not what it decided.
   */
  private checkDeaths(): void {
    if (this.disk) this.ledger.sawDead(this.disk.state.membership.slots.flatMap((s, slot) => (s.state === SlotState.dead ? [{ slot, instance: hex(s.instanceId) }] : [])));
    for (const v of this.ledger.unexcusedDeaths()) if (!this.violations.includes(v)) this.violations.push(v);
  }

  /** An error is correct when retryable, or a clear refusal with more than m slots really faulty when it came. */
  private checkError(where: string, err: Error & { code?: string }, when = this.ledger.now()): void {
    if (err.code === retryableCode) {
      this.stats.retryableRefusals++;
      return;
    }
    if (err.code && beyondMCodes.has(err.code) && this.faults(when) > this.sc.m) return;
    if (this.staleViewPossible(err)) return;
    this.violations.push(`${where}: ${err.code ?? 'untyped'} ${err.code ? err.message : err.stack} with ${this.faults(when)} really faulty of m=${this.sc.m}`);
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
      ...(this.sc.caches && { caches: this.sc.caches }),
    });
    this.arrayId = Buffer.from(this.disk.state.arrayId);
    if (this.tally) this.tally.geometry = this.disk.state.geometry;
    this.keys = deriveKeySet(this.key, this.arrayId);
    this.disk.state.membership.slots.forEach((s, slot) => this.ledger.setOriginal(slot, hex(s.instanceId)));
    for (const group of this.sc.groups) {
      if (!this.disk || this.violations.length) break;
      await this.runGroup(group);
      if (this.disk && !this.violations.length) await this.verify('after group');
      this.checkDeaths();
    }
    await this.degradedCheck();
    this.checkDeaths();
    this.cluster.freezeAll();
    this.keys?.destroy();
    this.keys = undefined;
    this.stats.frames += this.cluster.delivered;
    this.stats.sessions += this.cluster.sessionsOpened;
    this.stats.lateFrames += this.cluster.lateDeliveries;
    this.countNetworkOnly(before);
  }

  private setPhase(phase: Phase): void {
    if (this.tally) this.tally.phase = phase;
  }

  /** Counts the scenario if network faults were all it met, and whether it ended with every slot live. */
  private countNetworkOnly(before: SimStats): void {
    const delta = (key: keyof SimStats) => this.stats[key] - before[key];
    const network = delta('networkFaults') + delta('partitions') + delta('lateFrames') > 0 || this.sc.delivery !== undefined;
    const real = delta('crashes') + delta('nodeLosses') + delta('corruptions') + delta('replacements') + (this.forcedOut ? 1 : 0) + this.faults();
    if (!network || real > 0) return;
    this.stats.networkOnly++;
    if (this.ledger.deathCount === 0) this.stats.networkOnlyAllLive++;
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
    const stripe = op.row % rows;
    const sector = tableStart(g) + stripe;
    const core = this.cluster.nodes[slot];
    const bytes = core.store.view(sector, 1)[0];
    bytes[op.byte] ^= 0x5a;
    this.corruptions.push({ slot, core, sector, stripe, bytes: Buffer.from(bytes) });
    this.ledger.lose(slot);
    this.stats.corruptions++;
  }

  private async runGroup(group: SimOp[]): Promise<void> {
    const disk = this.disk!;
    this.stats.steps++;
    this.step++;
    const io = group.filter((op) => !faultKinds.has(op.kind));
    this.setPhase('io');
    this.groupNetwork = group.some((op) => op.kind === 'network');
    this.scrubPassInGroup = false;
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
    // What each op writes, drawn once for the group (the manager gets its own copy from start()).
    const groupWrites = io.map((op) => writesOf(op, disk.sectors));
    const before = new Map<number, Buffer[]>();
    for (const op of io) if (op.kind === 'read') for (let i = 0; i < op.count; i++) {
      const s = (op.sector % Math.min(disk.sectors, sectorSpan)) + i;
      before.set(s, [...this.model.allowed(s), ...groupWrites.flatMap((w) => w.get(s) ?? [])]);
    }
    const outcomes: (Outcome | undefined)[] = new Array(io.length);
    const started = this.cluster.delivered;
    const gen = this.generation;
    const begin = (op: SimOp): Promise<Outcome> =>
      healingKinds.has(op.kind) ? this.heal(op, disk, gen).then(() => ({ op, status: 'ok' as const })) : start(disk, op, () => this.ledger.now());
    const all = Promise.all(io.map((op, i) => begin(op).then((o) => (outcomes[i] = o))));
    const result = await this.race(all);
    this.frames.io.push(this.cluster.delivered - started);
    // Faults armed for this group end with it; a crash point not reached is not carried into the checks.
    this.cluster.faults = {};
    this.sendFaults = [];
    this.cluster.crashAt = undefined;
    for (let i = 0; i < io.length; i++) {
      const o = outcomes[i] ?? { op: io[i], status: 'unknown' as const };
      const writes = groupWrites[i];
      if (o.status === 'ok' && o.op.kind === 'read') this.checkRead(o, before);
      else if (o.status === 'ok') this.model.ack(writes);
      else if (writes.size) this.model.addUnknown({ id: this.nextUnknown++, values: writes, atomic: o.op.kind === 'txn' });
      if (o.status === 'error') this.checkError(`${o.op.kind}`, o.error!, o.when);
    }
    if (result === 'frozen') await this.recover(group);
    else if (this.scrubPassInGroup && group.every((op) => !faultKinds.has(op.kind))) await this.checkScrubbed();
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
    const watch = watchForHang(groupTimeoutMs);
    const result = await Promise.race([p, this.cluster.whenFrozen(), watch.hung]);
    watch.stop();
    if (result === 'hung') this.violations.push('operations hung with no crash');
    return result;
  }

  private async recover(group: SimOp[]): Promise<void> {
    this.generation++;
    this.noteRebuilt(this.disk);
    this.crashed();
    const crash = group.find((op) => op.kind === 'crash') as Extract<SimOp, { kind: 'crash' }> | undefined;
    let crashDuringRecovery = crash && crash.duringRecovery >= 0 ? crash.duringRecovery : -1;
    this.checkDeaths();
    this.disk = undefined;
    this.setPhase('open');
    for (;;) {
      if (crashDuringRecovery >= 0) this.cluster.crashAt = this.cluster.delivered + crashDuringRecovery;
      crashDuringRecovery = -1;
      const started = this.cluster.delivered;
      const opening = openArray({ connector: this.cluster.connector(), dataKey: this.key, ...(this.sc.caches && { caches: this.sc.caches }) }).then(
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
      this.checkResumed(result.disk);
      await this.verify('after recovery');
      return;
    }
  }

  /** Reads every sector ever touched and checks it against the model. */
  private async verify(where: string): Promise<void> {
    const disk = this.disk!;
    this.setPhase('verify');
    const sectors = [...this.model.touched].sort((a, b) => a - b);
    const observed = new Map<number, Buffer>();
    // Consecutive touched sectors are read together, and the runs all at once: the manager's read coalescer
    // then asks each node once for all of them (fewer frames, same check). Every read settles before the verdict.
    const reads: Promise<void>[] = [];
    for (let i = 0; i < sectors.length; ) {
      let j = i + 1;
      while (j < sectors.length && sectors[j] === sectors[j - 1] + 1) j++;
      const [from, to] = [i, j];
      reads.push(disk.readSectors(sectors[from], to - from).then((data) => {
        for (let x = from; x < to; x++) observed.set(sectors[x], data.subarray((x - from) * 4096, (x - from + 1) * 4096));
      }));
      i = j;
    }
    const failed = (await Promise.allSettled(reads)).find((r) => r.status === 'rejected');
    if (failed) {
      this.checkError(`verify ${where}`, failed.reason as Error);
      this.stats.failedArrays++;
      this.disk = undefined;
      return;
    }
    for (const v of this.model.settle(observed)) this.violations.push(`${where}: ${v}`);
  }

  /** Healing ops of the group: each kind runs its steps in turn, next to the group's I/O. */
  private heal(op: SimOp, disk: VirtualDisk, gen: number): Promise<void> {
    const h = this.healingFor(disk);
    const chain = op.kind === 'replace' ? 'replaces' : op.kind === 'rebuild' ? 'rebuilds' : 'scrubs';
    const run = async () => {
      if (gen !== this.generation) return;
      if (op.kind === 'replace') await this.replace(op, disk, gen);
      if (op.kind === 'rebuild') await this.rebuild(op, disk, h, gen);
      if (op.kind === 'scrub') await this.scrub(op, disk, h, gen);
    };
    if (op.kind === 'replace') h.replacing++;
    const p = h[chain].then(run, run).finally(() => op.kind === 'replace' && h.replacing--);
    h[chain] = p.catch(() => {});
    return p;
  }

  private healingFor(disk: VirtualDisk): Healing {
    if (this.healing?.disk === disk) return this.healing;
    this.watchRebuilt(disk);
    const rebuildOptions: RebuildOptions = { stripesPerBatch: 8, checkpointMs: 0 };
    const scrubOptions: ScrubOptions = { stripesPerBatch: 16 };
    this.healing = {
      disk,
      rebuildOptions,
      rebuilder: new Rebuilder(disk.state, () => disk.flush(), rebuildOptions),
      batches: 0,
      scrubOptions,
      scrubber: new Scrubber(disk.state, () => disk.flush(), scrubOptions),
      passBegan: -1,
      replacing: 0,
      replaces: Promise.resolve(),
      rebuilds: Promise.resolve(),
      scrubs: Promise.resolve(),
    };
    return this.healing;
  }

  /**
   * Notes each stripe count the manager's rebuilder reaches for an instance
   * (it sets `rebuilt` once the batch's writes are done), as it happens: a
   * slot forced out right after its cursor was persisted is dead by the time
   * the rebuild op looks, yet a record carrying that cursor may be adopted.
   */
  private watchRebuilt(disk: VirtualDisk): void {
    const state = disk.state;
    const set = state.rebuilt.set.bind(state.rebuilt);
    state.rebuilt.set = (slot, cursor) => {
      const log = this.rebuildLog.get(hex(state.membership.slots[slot].instanceId));
      if (log) log.rebuilt = Math.max(log.rebuilt, cursor);
      return set(slot, cursor);
    };
  }

  /**
   * A replacement as the operator or the healer asks for it. A spare that
   * must be refused is refused with its E_REPLACE_* code and nothing changes:
   * not the slot's record, not its node, not the spare.
   */
  private async replace(op: Extract<SimOp, { kind: 'replace' }>, disk: VirtualDisk, gen: number): Promise<void> {
    const state = disk.state;
    const c = this.cluster;
    const slots = state.membership.slots;
    const from = op.slot % this.n;
    const order = Array.from({ length: this.n }, (_, i) => (from + i) % this.n);
    const dead = order.find((s) => slots[s].state === SlotState.dead);
    const lostMember = order.find((s) => state.isMember(s) && this.ledger.isLost(s));
    let slot = from;
    let force = op.force;
    if (dead !== undefined) slot = dead;
    else if (lostMember !== undefined) [slot, force] = [lostMember, true];
    else if (force && this.faults() >= this.sc.m) force = false;
    const g = state.geometry;
    let endpoint: string;
    let expect: string | undefined;
    if (op.spare === 'fresh') endpoint = c.addSpare();
    else if (op.spare === 'small') [endpoint, expect] = [c.addSpare(g.nodeSectors - 1), 'E_REPLACE_TOO_SMALL'];
    else if (op.spare === 'foreign') [endpoint, expect] = [this.foreignSpare(disk), 'E_REPLACE_IN_USE'];
    else if (op.spare === 'member') {
      // A member's node as the membership pins it: a node restarted empty at a member's slot is no member, and may be taken.
      const member = order.find((s) => s !== slot && state.isMember(s) && !c.isDead(s) && !c.isPartitioned(s) && c.nodes[s].instanceId.equals(slots[s].instanceId));
      if (member === undefined) return;
      endpoint = `sim:member:${member}:${this.step}`;
      c.spares.set(endpoint, c.nodes[member]);
      expect = 'E_REPLACE_IN_USE';
    } else [endpoint, expect] = ['sim:spare:none', 'E_REPLACE_UNREACHABLE'];
    if (slots[slot].state !== SlotState.dead && !force) expect = 'E_REPLACE_LIVE';
    const spare = c.spares.get(endpoint);
    const before = { state: slots[slot].state, instance: hex(slots[slot].instanceId), spare: spare && op.spare !== 'member' ? spareImage(spare, tableStart(g)) : undefined };
    const forcedHealthy = force && expect === undefined && state.isMember(slot);
    const undo = forcedHealthy ? this.ledger.forced(slot) : undefined;
    let error: (Error & { code?: string }) | undefined;
    try {
      await replaceSlot(state, { slot, endpoint, force });
    } catch (err) {
      error = err as Error & { code?: string };
    } finally {
      if (op.spare === 'member') c.spares.delete(endpoint);
    }
    if (gen !== this.generation) return;
    const now = state.membership.slots[slot];
    const unchanged = () => {
      const changes: string[] = [];
      if (hex(now.instanceId) !== before.instance || (now.state === SlotState.rebuilding && before.state !== SlotState.rebuilding)) changes.push('its record');
      if (spare && c.nodes[slot] === spare) changes.push('its node (now the spare)');
      if (op.spare !== 'member' && spare && !c.spares.has(endpoint)) changes.push('the spare was assigned');
      if (before.spare && !spareImage(spare!, tableStart(g)).equals(before.spare)) changes.push("the spare's record or journal area");
      return changes;
    };
    if (!error) {
      if (expect) this.violations.push(`replace slot ${slot} with a ${op.spare} spare${force ? ' (force)' : ''}: accepted; expected ${expect}`);
      else {
        this.stats.replacements++;
        if (forcedHealthy) this.forcedOut = true;
        // (The slot's node may have changed since: a node loss armed in the group can kill and restart the new node.)
        if (c.spares.has(endpoint)) this.violations.push(`replace slot ${slot}: succeeded but the spare was never made the slot's node`);
        if (now.state !== SlotState.dead && !(now.state === SlotState.rebuilding && now.instanceId.equals(spare!.instanceId)) && !this.rebuildLog.get(hex(now.instanceId))?.live) {
          this.violations.push(`replace slot ${slot}: succeeded but the slot is ${now.state} under ${hex(now.instanceId)}, not rebuilding under the spare`);
        }
      }
      return;
    }
    const code = error.code ?? '';
    // (A network fault on a spare's frames closes its session: E_REPLACE_UNREACHABLE below, never a verdict on it.)
    if (expect !== undefined && code === expect) {
      const changes = unchanged();
      if (changes.length) this.violations.push(`replace slot ${slot} with a ${op.spare} spare: refused with ${code} but changed ${changes.join(', ')}`);
      this.stats.replaceRefusals++;
      undo?.();
      return;
    }
    if (code === 'E_REPLACE_UNREACHABLE' && this.groupNetwork) {
      // A network fault closed the spare's session: retryable, and refused before anything changed. (Without one, a
      // member offered as a spare is refused E_REPLACE_IN_USE: the check's session is an observer's until it passes,
      // so the array's own session to that node cannot fence it.)
      const changes = unchanged();
      if (changes.length) this.violations.push(`replace slot ${slot} with a ${op.spare} spare: ${code} but changed ${changes.join(', ')}`);
      this.stats.retryableRefusals++;
      undo?.();
      return;
    }
    if (code === retryableCode) {
      // Retryable: it may have stopped part way (the slot forced dead, the spare assigned); a spare that must be refused still changed nothing.
      if (expect && op.spare !== 'member' && unchanged().length) this.violations.push(`replace slot ${slot} with a ${op.spare} spare: E_UNAVAILABLE but changed ${unchanged().join(', ')}`);
      this.stats.retryableRefusals++;
      if (state.isMember(slot) && hex(now.instanceId) === before.instance) undo?.();
      else if (forcedHealthy) this.forcedOut = true;
      return;
    }
    if (state.isMember(slot) && hex(now.instanceId) === before.instance) undo?.();
    if (code.startsWith('E_REPLACE_')) {
      this.violations.push(`replace slot ${slot} with a ${op.spare} spare${force ? ' (force)' : ''}: ${error.message}; expected ${expect ?? 'success'}`);
      return;
    }
    this.checkError(`replace slot ${slot}`, error);
  }

  /** A fresh spare that holds another array's membership record, and something in its journal area. */
  private foreignSpare(disk: VirtualDisk): string {
    const endpoint = this.cluster.addSpare();
    const core = this.cluster.spares.get(endpoint)!;
    const g = disk.state.geometry;
    const other = {
      version: 3n,
      arrayId: randomBytes(16),
      geometry: g,
      keyErasure: false,
      slots: Array.from({ length: g.k + g.m }, () => ({ state: SlotState.live, instanceId: randomBytes(16), cursor: 0 })),
    };
    core.store.deathVersion = other.version;
    core.store.deathRecord = encodeMembership(randomBytes(32), other);
    core.store.write(0, randomBytes(tableStart(g) * 4096));
    return endpoint;
  }

  /**
   * Runs up to `batches` rebuild batches. Each must leave every rebuilding
   * slot's cursor where it was or further; the cursors a persisted checkpoint
   * stored on every member, and the slots a finished rebuild made live, are
   * noted for the next manager (checkResumed).
   */
  private async rebuild(op: Extract<SimOp, { kind: 'rebuild' }>, disk: VirtualDisk, h: Healing, gen: number): Promise<void> {
    const state = disk.state;
    const total = stripes(state.geometry);
    for (let b = 0; b < op.batches; b++) {
      let rebuilding = state.rebuildingSlots();
      // Nothing to rebuild yet: a replacement of this group may be on its way.
      while (rebuilding.length === 0 && h.replacing > 0 && gen === this.generation) {
        await h.replaces;
        rebuilding = state.rebuildingSlots();
      }
      if (rebuilding.length === 0 || gen !== this.generation) return;
      h.batches++;
      const checkpoint = op.checkpointEvery > 0 && h.batches % op.checkpointEvery === 0;
      h.rebuildOptions.stripesPerBatch = op.stripesPerBatch;
      // The rebuilder persists when this much real time has passed since the last checkpoint: 0 is every batch, the other never.
      h.rebuildOptions.checkpointMs = checkpoint ? 0 : Number.MAX_SAFE_INTEGER;
      const before = new Map(rebuilding.map((s) => [s, { instance: hex(state.membership.slots[s].instanceId), cursor: state.rebuildCursor(s) }]));
      try {
        await h.rebuilder.step();
      } catch (err) {
        if (gen === this.generation) this.checkError('rebuild', err as Error);
        return;
      }
      if (gen !== this.generation) return;
      this.stats.rebuildBatches++;
      const complete = deadCount(state.membership) <= this.sc.m;
      const wentLive = [...before].some(([s, b]) => state.isLive(s) && hex(state.membership.slots[s].instanceId) === b.instance);
      for (const [s, b] of before) {
        const now = state.membership.slots[s];
        if (hex(now.instanceId) !== b.instance || now.state === SlotState.dead) continue;
        const log = this.rebuildLog.get(b.instance)!;
        if (now.state === SlotState.rebuilding) {
          const cursor = state.rebuildCursor(s);
          if (cursor < b.cursor) this.violations.push(`rebuild: slot ${s}'s cursor went back from ${b.cursor} to ${cursor}`);
          log.rebuilt = Math.max(log.rebuilt, cursor);
          // A persist that returned leaves the membership, every cursor in it, stored on every member.
          if (complete && (checkpoint || wentLive)) log.persisted = Math.max(log.persisted, now.cursor);
        } else if (now.state === SlotState.live) {
          log.rebuilt = total;
          if (complete) log.live = true;
          this.stats.rebuildsFinished++;
          this.ledger.observeRebuild(s, b.instance, true);
        }
      }
    }
  }

  /** Before a crashed manager is dropped: how far it had rebuilt each slot (a bound on what the next may trust). */
  private noteRebuilt(disk: VirtualDisk | undefined): void {
    if (!disk) return;
    const state = disk.state;
    state.membership.slots.forEach((s, slot) => {
      const log = this.rebuildLog.get(hex(s.instanceId));
      if (!log) return;
      if (s.state === SlotState.rebuilding) log.rebuilt = Math.max(log.rebuilt, state.rebuildCursor(slot));
      // It goes live in memory only once every stripe is rebuilt, then writes the record.
      if (s.state === SlotState.live) log.rebuilt = stripes(state.geometry);
    });
  }

  /**
   * After a recovery: a rebuilding slot resumes from a cursor no lower than
   * one every member stored (never from zero once a cursor was persisted)
   * and no higher than any manager had rebuilt (never trusting stripes above
   * the persisted cursor); a slot a complete record made live stays live.
   */
  private checkResumed(disk: VirtualDisk): void {
    const state = disk.state;
    state.membership.slots.forEach((s, slot) => {
      const instance = hex(s.instanceId);
      const log = this.rebuildLog.get(instance);
      if (s.state === SlotState.rebuilding) {
        this.ledger.observeRebuild(slot, instance, false);
        const cursor = state.rebuildCursor(slot);
        if (!log) {
          this.violations.push(`after recovery: slot ${slot} rebuilding under an instance no replacement put there`);
          return;
        }
        if (log.live) this.violations.push(`after recovery: slot ${slot} is rebuilding again, though a record every member stored made it live`);
        if (cursor < log.persisted) this.violations.push(`after recovery: slot ${slot} resumes its rebuild from stripe ${cursor}, below the cursor ${log.persisted} every member stored`);
        if (cursor > log.rebuilt) this.violations.push(`after recovery: slot ${slot} trusts stripes up to ${cursor}; no manager rebuilt more than ${log.rebuilt}`);
      } else if (s.state === SlotState.live && log) {
        this.ledger.observeRebuild(slot, instance, true);
        if (log.rebuilt < stripes(state.geometry)) this.violations.push(`after recovery: slot ${slot} is live with only ${log.rebuilt} stripes rebuilt`);
      }
    });
  }

  /** Scrub batches; a batch must find no stripe lost while the faults are within m; a pass that ends is counted. */
  private async scrub(op: Extract<SimOp, { kind: 'scrub' }>, disk: VirtualDisk, h: Healing, gen: number): Promise<void> {
    const scrubber = h.scrubber;
    h.scrubOptions.stripesPerBatch = op.stripesPerBatch;
    if (!scrubber.running) {
      scrubber.begin();
      h.passBegan = this.step;
    }
    for (let i = 0; scrubber.running && (op.steps === 0 || i < op.steps); i++) {
      const lost = scrubber.unrecoverableRows;
      try {
        await scrubber.step();
      } catch (err) {
        if (gen === this.generation) this.checkError('scrub', err as Error);
        return;
      }
      if (gen !== this.generation) return;
      // A stripe found lost while at most m slots are unavailable is a refusal within m.
      if (scrubber.unrecoverableRows > lost && this.faults() <= this.sc.m) {
        const r = scrubber.result!.unrecoverable.at(-1);
        this.violations.push(`scrub: ${scrubber.unrecoverableRows - lost} stripes found unrecoverable (${r ? `${r.region} row ${r.row}` : 'not listed'}) with ${this.faults()} really faulty of m=${this.sc.m}`);
      }
    }
    if (scrubber.running) return;
    const result = scrubber.result!;
    this.stats.scrubs++;
    this.stats.repairedShards += Object.values(result.repairedBySlot).reduce((a, b) => a + b, 0);
    if (h.passBegan === this.step) this.scrubPassInGroup = true;
  }

  /**
   * A scrub pass ran whole in a group with no fault: every corrupted shard
   * m allows (its node still there and serving the stripe, the faults
   * within m) must be gone from node memory: a pass reads every stripe from
   * every node that serves it (healing/scrub.ts).
   */
  private async checkScrubbed(): Promise<void> {
    const disk = this.disk;
    if (!disk || this.violations.length || this.faults() > this.sc.m) return;
    if (this.cluster.nodes.some((_, s) => this.cluster.isPartitioned(s))) return;
    try {
      await disk.flush();
    } catch {
      return;
    }
    const state = disk.state;
    const left = [];
    for (const c of this.corruptions) {
      if (this.cluster.nodes[c.slot] !== c.core || this.cluster.isDead(c.slot)) continue;
      const still = c.core.store.view(c.sector, 1)[0].equals(c.bytes);
      if (!still) continue;
      left.push(c);
      const { region, row } = stripeRow(state.geometry, c.stripe);
      if (!state.serves(c.slot, region, row)) continue;
      this.violations.push(`scrub: a whole pass with no fault in its group left slot ${c.slot}'s corrupted shard of stripe ${c.stripe} (${region} row ${row}, node sector ${c.sector}) in place with ${this.faults()} really faulty of m=${this.sc.m}`);
    }
    this.corruptions = left;
  }

  /**
   * At the end of a scenario in which a replaced slot was rebuilt: further
   * slots, never a rebuilt one, are lost until m are unavailable, and every
   * sector is read again from the nodes (caches dropped), so the rebuilt
   * shards must carry the reads. A stale shard on a rebuilt node shows here.
   */
  private async degradedCheck(): Promise<void> {
    const disk = this.disk;
    if (!disk || this.violations.length) return;
    const state = disk.state;
    const c = this.cluster;
    const rebuilt = state.membership.slots
      .map((_, s) => s)
      .filter((s) => state.isLive(s) && this.ledger.everFinished(s) && !this.ledger.isLost(s) && !c.isDead(s));
    if (rebuilt.length === 0) return;
    try {
      await disk.flush();
    } catch (err) {
      this.checkError('flush before the degraded check', err as Error);
      return;
    }
    const now = this.ledger.now();
    let faults = this.faults();
    for (let s = 0; s < this.n && faults < this.sc.m; s++) {
      if (rebuilt.includes(s) || this.ledger.unavailable(s, now)) continue;
      this.ledger.lose(s);
      this.stats.nodeLosses++;
      c.kill(s);
      faults++;
    }
    state.rows.clear();
    state.tables.clear();
    await this.verify(`with m slots lost around rebuilt slot(s) ${rebuilt.join(', ')}`);
  }
}

interface Healing {
  disk: VirtualDisk;
  rebuildOptions: RebuildOptions;
  rebuilder: Rebuilder;
  /** Rebuild batches this manager started (the checkpoint rhythm counts them). */
  batches: number;
  scrubOptions: ScrubOptions;
  scrubber: Scrubber;
  /** Group in which the running scrub pass began. */
  passBegan: number;
  /** Replace ops queued or running: a rebuild op with nothing to rebuild waits for them. */
  replacing: number;
  replaces: Promise<unknown>;
  rebuilds: Promise<unknown>;
  scrubs: Promise<unknown>;
}

function hex(b: Buffer): string {
  return b.toString('hex');
}

/** A spare's membership record and journal area: a refused replacement must leave them as they were. */
function spareImage(core: DiskNodeCore, journalSectors: number): Buffer {
  return Buffer.concat([Buffer.from(core.store.deathVersion.toString()), core.store.deathRecord, ...core.store.view(0, journalSectors)]);
}

/** Runs one scenario; `tally`, when given, counts its frames by phase and kind. */
export async function runScenario(sc: Scenario, stats: SimStats, tally?: FrameTally): Promise<string[]> {
  const run = new ScenarioRun(sc, stats, tally);
  await run.run();
  return run.violations;
}
