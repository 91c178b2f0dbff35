// Pacing for background work (rebuild, scrub), md's speed_limit_min/max:
// while the array has foreground I/O, work runs at the guaranteed minimum
// rate; while it is idle, at the maximum. The limits can change while the
// work runs; the next pause uses them.

export interface RateLimit {
  /** Bytes per second guaranteed while foreground I/O runs. */
  minBytesPerSecond: number;
  /** Bytes per second at most while the array is idle; 0 = unlimited. */
  maxBytesPerSecond: number;
}

/**
 * md's speed_limit_min (1000 KB/s) and no maximum: bench/rebuild found the
 * manager's CPU, not the limit, sets the idle rate (3-11 MB/s on the 2-core
 * reference machine), and a minimum above what a rebuild can reach never
 * pauses it, so the foreground would keep only what the CPU leaves it
 * (docs/PERFORMANCE.md, "Rebuild and scrub").
 */
export const rateDefaults: RateLimit = { minBytesPerSecond: 1_000_000, maxBytesPerSecond: 0 };

/** Foreground I/O within this long counts as "the array is busy". */
const busyWindowMs = 250;

export class RateError extends Error {
  readonly code = 'E_RATE';
}

export function checkRate(rate: RateLimit): RateLimit {
  const ok = (v: number) => Number.isFinite(v) && v >= 0 && v <= 2 ** 40;
  if (!ok(rate.minBytesPerSecond) || !ok(rate.maxBytesPerSecond) || rate.minBytesPerSecond < 1) {
    throw new RateError('rate limits must be numbers of bytes per second, the minimum at least 1, both at most 1 TiB/s');
  }
  if (rate.maxBytesPerSecond !== 0 && rate.maxBytesPerSecond < rate.minBytesPerSecond) throw new RateError('the maximum rate is below the minimum');
  return { ...rate };
}

export class Throttle {
  private rateNow: RateLimit;
  /** Ends the current pause early (a new rate, or a stop). */
  private interrupt: (() => void) | undefined;

  constructor(
    rate: RateLimit,
    /** When the array last served foreground I/O (performance.now() time), or undefined. */
    private readonly lastForeground: () => number | undefined,
  ) {
    this.rateNow = checkRate(rate);
  }

  get rate(): RateLimit {
    return { ...this.rateNow };
  }

  /** A new limit takes effect at once: a pause under way is measured again against it. */
  set rate(rate: RateLimit) {
    this.rateNow = checkRate(rate);
    this.interrupt?.();
  }

  /** The rate that applies now: the minimum while foreground I/O runs, else the maximum (0 = unlimited). */
  current(): number {
    const last = this.lastForeground();
    const busy = last !== undefined && performance.now() - last < busyWindowMs;
    return busy ? this.rateNow.minBytesPerSecond : this.rateNow.maxBytesPerSecond;
  }

  /** After `bytes` of work that started at `startedAt` (performance.now()): waits until the current rate allows more. */
  async pace(bytes: number, startedAt: number): Promise<void> {
    for (;;) {
      const rate = this.current();
      const wait = rate === 0 ? 0 : startedAt + (bytes / rate) * 1000 - performance.now();
      if (wait <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      // Pauses are cut short by a new rate (then measured again) or by stop().
      const ended = await new Promise<boolean>((resolve) => {
        // Not unref'd: work paused for its rate is work under way; stop() ends the pause.
        timer = setTimeout(() => resolve(true), Math.min(wait, busyWindowMs * 4));
        this.interrupt = () => resolve(false);
      });
      clearTimeout(timer);
      this.interrupt = undefined;
      if (this.stopped) return;
      if (ended && wait <= busyWindowMs * 4) return;
    }
  }

  private stopped = false;

  /** Ends any pause now, for good. */
  stop(): void {
    this.stopped = true;
    this.interrupt?.();
  }
}
