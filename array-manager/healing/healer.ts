// What gives the array its redundancy back, in the background while it
// serves I/O: the rebuild of replaced slots, hot spares that replace a dead
// slot without an operator, and scrubs on demand or on a schedule. One loop
// runs the work, one batch at a time, rebuild first (a scrub pauses while a
// rebuild runs), paced by the throttle. A batch that fails (nodes silent for
// now, or more than m slots lost) is retried after a pause and reported; the
// array goes on serving meanwhile.
import { ArrayError, type ArrayEvent } from '../array-state.ts';
import { realClock, type Clock } from '../node-handle.ts';
import type { VirtualDisk } from '../virtual-disk.ts';
import { Rebuilder, rebuildDefaults, type RebuildOptions, type RebuildProgress } from './rebuild.ts';
import { replaceSlot, type ReplaceRequest, type ReplaceResult } from './replace.ts';
import { Scrubber, scrubDefaults, type ScrubOptions, type ScrubResult } from './scrub.ts';
import { Throttle, rateDefaults, type RateLimit } from './throttle.ts';
import { NodeProbe } from './node-probe.ts';

export interface HealerOptions {
  rate: RateLimit;
  rebuild: RebuildOptions;
  scrub: ScrubOptions;
  /** Time between the end of one scrub and the start of the next; 0 = only on demand. */
  scrubIntervalMs: number;
  /** Endpoints of spare nodes, taken in order. */
  spares: string[];
  /** Replace a dead slot with a spare by itself. */
  autoReplace: boolean;
  /** Wait this long after a slot dies before a spare takes it. */
  replaceDelayMs: number;
  /**
   * Before the spares, offer a dead slot its own endpoint: a node restarted
   * there (systemd, a Kubernetes pod) is a new, empty, attested node like any
   * spare. The old node, if it is only cut off, holds a record and is refused.
   */
  reuseRestarted: boolean;
  /** Pause after a failed batch before the next attempt. */
  retryMs: number;
  /** Every member node is asked for its status this often, so a lost node is noticed on an idle array (0 = never). */
  probeMs: number;
  /** Persists a slot's new endpoint, and the spares left, before the membership changes (the config file). */
  persist?: (change: { slot: number; endpoint: string; spares: string[] }) => Promise<void>;
  /** Persists a scrub's progress so a restarted manager resumes it (the CLI keeps it in its data directory). */
  persistScrub?: (result: ScrubResult) => Promise<void>;
  /** A scrub pass to resume. */
  resumeScrub?: ScrubResult;
  clock: Clock;
}

/** Longest wait between two rounds of offering a dead slot candidates that could not be reached. */
const spareRetryMaxMs = 60_000;

export const healerDefaults: HealerOptions = {
  rate: rateDefaults,
  rebuild: rebuildDefaults,
  scrub: scrubDefaults,
  scrubIntervalMs: 0,
  spares: [],
  autoReplace: true,
  replaceDelayMs: 0,
  reuseRestarted: true,
  retryMs: 1000,
  probeMs: 0,
  clock: realClock,
};

/** Running totals since this manager started, for /metrics. */
export interface HealingCounters {
  /** Shard bytes written to rebuilding nodes. */
  rebuildBytes: number;
  rebuildBatches: number;
  /** Data bytes read and checked by scrubs. */
  scrubBytes: number;
  scrubsFinished: number;
}

export interface HealerStatus {
  rebuild: RebuildProgress & { rate: RateLimit; currentLimit: number; error?: string };
  scrub: (Partial<ScrubResult> & { running: boolean; unrecoverableRows: number; bytesPerSecond: number; error?: string; nextAt?: string }) | { running: false; nextAt?: string };
  counters: HealingCounters;
  spares: string[];
  rejectedSpares: { endpoint: string; reason: string }[];
  /** Spares that could not be reached the last time they were tried, with why: kept, and tried again. */
  unreachableSpares: { endpoint: string; reason: string }[];
}

export class Healer {
  readonly rebuilder: Rebuilder;
  readonly scrubber: Scrubber;
  readonly throttle: Throttle;
  readonly probe: NodeProbe;
  readonly spares: string[];
  readonly rejectedSpares: { endpoint: string; reason: string }[] = [];
  /** Why each spare that could not be reached last time failed, until it is reached or leaves the spares. */
  private readonly unreachableSpares = new Map<string, string>();
  private readonly opts: HealerOptions;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private rebuildError: string | undefined;
  private scrubError: string | undefined;
  private nextScrubAt: number | undefined;
  /** Slots waiting for a spare, and the timers that will hand them one. */
  private readonly waitingForSpare = new Map<number, NodeJS.Timeout>();
  /** Rounds in a row that ended with the slot dead and a candidate unreachable (the retry's backoff). */
  private readonly unreachableRounds = new Map<number, number>();
  private readonly onEvent = (e: ArrayEvent) => {
    if (e.kind === 'slot-dead' && e.slot !== undefined) this.scheduleSpare(e.slot);
  };
  /** Replacements run one at a time: two must not pick the same spare. */
  private replacing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly disk: VirtualDisk,
    options: Partial<HealerOptions> = {},
  ) {
    this.opts = { ...healerDefaults, ...options };
    const state = disk.state;
    this.rebuilder = new Rebuilder(state, () => disk.flush(), this.opts.rebuild);
    this.scrubber = new Scrubber(state, () => disk.flush(), this.opts.scrub);
    if (this.opts.resumeScrub && this.opts.resumeScrub.finishedAt === undefined) this.scrubber.begin(this.opts.resumeScrub);
    this.throttle = new Throttle(this.opts.rate, () => state.lastForegroundAt);
    this.spares = [...this.opts.spares];
    this.probe = new NodeProbe(state, this.opts.probeMs);
  }

  /** Starts the background loop, and hands spares to slots already dead. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const state = this.disk.state;
    state.listeners.add(this.onEvent);
    for (let slot = 0; slot < state.n; slot++) if (!state.isMember(slot)) this.scheduleSpare(slot);
    if (this.opts.scrubIntervalMs > 0) this.nextScrubAt ??= this.opts.clock.now() + this.opts.scrubIntervalMs;
    this.probe.start();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.throttle.stop();
    this.disk.state.listeners.delete(this.onEvent);
    for (const t of this.waitingForSpare.values()) clearTimeout(t);
    this.waitingForSpare.clear();
    this.wake?.();
    await this.probe.stop();
    await this.loop;
    await this.replacing.catch(() => {});
  }

  setRate(rate: RateLimit): void {
    this.throttle.rate = rate;
  }

  /**
   * Puts a new node into a slot and lets the rebuild start. `asSpare`: the
   * healer offers one of its spares, which another slot or the operator may
   * have taken while this waited its turn (E_SPARE_TAKEN, nothing tried).
   */
  replace(req: ReplaceRequest, asSpare = false): Promise<ReplaceResult> {
    const run = async () => {
      if (asSpare && !this.spares.includes(req.endpoint)) throw new ArrayError('E_SPARE_TAKEN', `${req.endpoint} is no longer a spare`);
      const result = await replaceSlot(this.disk.state, req, (slot, endpoint) => this.persist(slot, endpoint));
      // An operator may hand a slot one of the spares: it is no longer spare.
      this.dropSpare(req.endpoint);
      this.cancelSpare(req.slot);
      this.wake?.();
      return result;
    };
    const next = this.replacing.then(run, run);
    this.replacing = next.catch(() => {});
    return next;
  }

  /** Starts a scrub now, unless one is running. */
  scrub(): ScrubResult {
    if (!this.scrubber.running) this.scrubber.begin();
    this.scrubError = undefined;
    this.wake?.();
    return this.scrubber.result!;
  }

  status(): HealerStatus {
    const result = this.scrubber.result;
    const nextAt = this.nextScrubAt !== undefined ? { nextAt: new Date(Date.now() + this.nextScrubAt - this.opts.clock.now()).toISOString() } : {};
    const scrub = result
      ? {
          ...result,
          running: this.scrubber.running,
          unrecoverableRows: this.scrubber.unrecoverableRows,
          bytesPerSecond: this.scrubber.running ? this.scrubber.rate.perSecond() : 0,
          ...(this.scrubError && { error: this.scrubError }),
          ...nextAt,
        }
      : { running: false as const, ...nextAt };
    const { rebuilder, scrubber } = this;
    return {
      rebuild: { ...rebuilder.progress(), rate: this.throttle.rate, currentLimit: this.throttle.current(), ...(this.rebuildError && { error: this.rebuildError }) },
      scrub,
      counters: { rebuildBytes: rebuilder.totals.bytes, rebuildBatches: rebuilder.totals.batches, scrubBytes: scrubber.totals.bytes, scrubsFinished: scrubber.totals.passes },
      spares: [...this.spares],
      rejectedSpares: [...this.rejectedSpares],
      unreachableSpares: [...this.unreachableSpares].map(([endpoint, reason]) => ({ endpoint, reason })),
    };
  }

  private async persist(slot: number, endpoint: string): Promise<void> {
    const spares = this.spares.filter((s) => s !== endpoint);
    await this.opts.persist?.({ slot, endpoint, spares });
  }

  private cancelSpare(slot: number): void {
    clearTimeout(this.waitingForSpare.get(slot));
    this.waitingForSpare.delete(slot);
  }

  private scheduleSpare(slot: number): void {
    if (!this.opts.autoReplace || this.stopped || this.waitingForSpare.has(slot)) return;
    this.unreachableRounds.delete(slot);
    this.waitingForSpare.set(slot, setTimeout(() => void this.takeSpare(slot), this.opts.replaceDelayMs));
  }

  /**
   * Offers `slot` its own endpoint (reuseRestarted), then the spares in
   * order, until one takes it. A spare refused on a verdict about the node
   * (too small, in use, evidence that does not verify) is set aside with the
   * reason; one that cannot be reached now is kept, the next is tried, and
   * the slot is offered them all again later (a flaky network must not use
   * up the spares).
   */
  private async takeSpare(slot: number): Promise<void> {
    this.waitingForSpare.delete(slot);
    const state = this.disk.state;
    let unreachable = 0;
    const own = this.opts.reuseRestarted ? state.handles[slot].connector.endpointOf?.(slot) : undefined;
    if (own && !this.stopped && !state.isMember(slot)) {
      const refused = await this.replace({ slot, endpoint: own, reason: `its own endpoint ${own}, restarted empty` }).then(
        () => undefined,
        (err: Error & { code?: string }) => err,
      );
      if (!refused) return;
      if (refused.code === 'E_REPLACE_UNREACHABLE') unreachable++;
      else if (!refused.code?.startsWith('E_REPLACE_')) return this.retrySpare(slot);
    }
    const tried = new Set<string>();
    for (let endpoint; !this.stopped && !state.isMember(slot) && (endpoint = this.spares.find((s) => !tried.has(s))) !== undefined; ) {
      tried.add(endpoint);
      try {
        // (replace() takes it off the spares.)
        await this.replace({ slot, endpoint, reason: `hot spare ${endpoint}` }, true);
        return;
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (code === 'E_SPARE_TAKEN') continue;
        if (code === 'E_REPLACE_UNREACHABLE') {
          this.unreachableSpares.set(endpoint, (err as Error).message);
          unreachable++;
          continue;
        }
        if (!code.startsWith('E_REPLACE_')) return this.retrySpare(slot);
        if (code === 'E_REPLACE_LIVE') return;
        this.dropSpare(endpoint);
        this.rejectedSpares.push({ endpoint, reason: (err as Error).message });
        await this.opts.persist?.({ slot: -1, endpoint: '', spares: [...this.spares] }).catch(() => {});
      }
    }
    if (unreachable > 0 && !state.isMember(slot)) this.retrySpare(slot, true);
  }

  /**
   * Nodes unreachable for now, or the slot changed: try again later. Each
   * round in a row that ended with the slot dead and a candidate unreachable
   * doubles the wait, up to spareRetryMaxMs, so a slot whose host is gone
   * costs a connection attempt a minute, not one a second.
   */
  private retrySpare(slot: number, unreachableRound = false): void {
    const rounds = unreachableRound ? (this.unreachableRounds.get(slot) ?? 0) + 1 : 0;
    this.unreachableRounds.set(slot, rounds);
    const delay = Math.min(this.opts.retryMs * 2 ** Math.max(0, rounds - 1), Math.max(this.opts.retryMs, spareRetryMaxMs));
    // One timer per slot: a death noticed while the run ran has armed one already (scheduleSpare), which this replaces.
    this.cancelSpare(slot);
    if (!this.stopped) this.waitingForSpare.set(slot, setTimeout(() => void this.takeSpare(slot), delay));
  }

  private dropSpare(endpoint: string): void {
    const at = this.spares.indexOf(endpoint);
    if (at >= 0) this.spares.splice(at, 1);
    this.unreachableSpares.delete(endpoint);
  }

  private async run(): Promise<void> {
    const { clock } = this.opts;
    while (!this.stopped) {
      try {
        if (this.rebuilder.active) {
          await this.paced(() => this.rebuilder.step().then((r) => r.bytes));
          this.rebuildError = undefined;
          continue;
        }
        if (this.scrubber.running) {
          await this.paced(() => this.scrubber.step());
          this.scrubError = undefined;
          await this.opts.persistScrub?.(this.scrubber.result!);
          if (!this.scrubber.running) this.scrubFinished();
          continue;
        }
        if (this.nextScrubAt !== undefined && clock.now() >= this.nextScrubAt) {
          this.scrubber.begin();
          this.nextScrubAt = undefined;
          continue;
        }
      } catch (err) {
        this.failed(err);
        await this.idle(this.opts.retryMs);
        continue;
      }
      await this.idle(this.nextScrubAt === undefined ? 60_000 : Math.max(0, this.nextScrubAt - clock.now()));
    }
  }

  private async paced(work: () => Promise<number>): Promise<void> {
    const started = performance.now();
    const bytes = await work();
    await this.throttle.pace(bytes, started);
  }

  private scrubFinished(): void {
    const r = this.scrubber.result!;
    const repaired = Object.values(r.repairedBySlot).reduce((a, b) => a + b, 0);
    this.disk.state.event({ kind: 'scrub-done', reason: `${r.rowsChecked} stripes checked, ${repaired} shards repaired, ${this.scrubber.unrecoverableRows} stripes unrecoverable` });
    if (this.opts.scrubIntervalMs > 0) this.nextScrubAt = this.opts.clock.now() + this.opts.scrubIntervalMs;
  }

  private failed(err: unknown): void {
    const message = (err as Error).message;
    const rebuild = this.rebuilder.active;
    const previous = rebuild ? this.rebuildError : this.scrubError;
    if (rebuild) this.rebuildError = message;
    else this.scrubError = message;
    if (previous !== message) this.disk.state.event({ kind: rebuild ? 'rebuild-stalled' : 'scrub-stalled', reason: message });
  }

  /** Sleeps until `ms` pass or something wakes the loop (a replacement, a scrub request, a stop). */
  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref?.();
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}
