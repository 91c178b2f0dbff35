// Bytes per second over a sliding window of recent samples: the rate a
// rebuild or a scrub is running at, for progress and time-left estimates.

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
