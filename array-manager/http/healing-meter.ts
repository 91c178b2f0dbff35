// What the admin API needs of the background healing (array-manager/healing/
// healer.ts): its controls for the routes, its status for /status, and
// counters for /metrics. The healer reports progress but keeps no running
// totals, so HealingMeter counts them by wrapping the rebuild and scrub
// steps of one healer: bytes rebuilt, bytes scrubbed, and the scrub's own
// rate over the last batches. It changes nothing the steps do.
import type { HealerStatus } from '../healing/healer.ts';
import type { RebuildProgress } from '../healing/rebuild.ts';
import type { ReplaceRequest, ReplaceResult } from '../healing/replace.ts';
import type { ScrubResult } from '../healing/scrub.ts';
import type { RateLimit } from '../healing/throttle.ts';

/** The healer as the admin API drives it (Healer implements it; tests may stub it). */
export interface HealingControl {
  replace(req: ReplaceRequest): Promise<ReplaceResult>;
  scrub(): ScrubResult;
  setRate(rate: RateLimit): void;
  status(): HealerStatus;
}

export interface HealingCounters {
  /** Shard bytes written to rebuilding nodes since the manager started. */
  rebuildBytes: number;
  /** Rebuild batches written since the manager started. */
  rebuildBatches: number;
  /** Shard bytes read and checked by scrubs since the manager started. */
  scrubBytes: number;
  /** Scrub passes finished since the manager started. */
  scrubsFinished: number;
}

/** Bytes per second over a sliding window of recent samples. */
export class WindowRate {
  private readonly samples: { at: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 10_000) {}

  add(bytes: number, at = performance.now()): void {
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - this.samples[0].at > this.windowMs) this.samples.shift();
  }

  perSecond(now = performance.now()): number {
    // A meter that heard nothing for a whole window reads 0, not the last rate it saw.
    if (this.samples.length < 2 || now - this.samples.at(-1)!.at > this.windowMs) return 0;
    const span = (this.samples.at(-1)!.at - this.samples[0].at) / 1000;
    const bytes = this.samples.slice(1).reduce((sum, s) => sum + s.bytes, 0);
    return span > 0 ? bytes / span : 0;
  }
}

interface Steppable<R> {
  step(): Promise<R>;
}

/** Counts what a healer's steps do; `attach` wraps its rebuilder and scrubber once. */
export class HealingMeter {
  readonly counters: HealingCounters = { rebuildBytes: 0, rebuildBatches: 0, scrubBytes: 0, scrubsFinished: 0 };
  readonly scrubRate = new WindowRate();

  attach(healer: { rebuilder: Steppable<{ bytes: number }>; scrubber: Steppable<number> & { running: boolean } }): void {
    const rebuildStep = healer.rebuilder.step.bind(healer.rebuilder);
    healer.rebuilder.step = async () => {
      const result = await rebuildStep();
      if (result.bytes > 0) {
        this.counters.rebuildBytes += result.bytes;
        this.counters.rebuildBatches++;
      }
      return result;
    };
    const scrubber = healer.scrubber;
    const scrubStep = scrubber.step.bind(scrubber);
    scrubber.step = async () => {
      const wasRunning = scrubber.running;
      const bytes = await scrubStep();
      this.counters.scrubBytes += bytes;
      this.scrubRate.add(bytes);
      if (wasRunning && !scrubber.running) this.counters.scrubsFinished++;
      return bytes;
    };
  }
}

export type { HealerStatus, RebuildProgress, ReplaceRequest, ReplaceResult, ScrubResult, RateLimit };
