// A fixed-bucket latency histogram in the Prometheus model (cumulative
// buckets, sum and count), so /metrics can expose read and write latency
// without keeping samples: memory is constant whatever the load.

/** Bucket upper bounds in seconds. */
export const latencyBucketsSeconds = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class LatencyHistogram {
  readonly counts = new Array<number>(latencyBucketsSeconds.length + 1).fill(0);
  sumSeconds = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < latencyBucketsSeconds.length && seconds > latencyBucketsSeconds[i]) i++;
    this.counts[i]++;
    this.sumSeconds += seconds;
    this.count++;
  }

  /** Prometheus exposition lines for metric `name` with optional extra labels. */
  render(name: string, labels = ''): string[] {
    const sep = labels ? ',' : '';
    const lines: string[] = [];
    let cumulative = 0;
    latencyBucketsSeconds.forEach((le, i) => {
      cumulative += this.counts[i];
      lines.push(`${name}_bucket{${labels}${sep}le="${le}"} ${cumulative}`);
    });
    lines.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${this.count}`);
    lines.push(`${name}_sum{${labels}} ${this.sumSeconds}`, `${name}_count{${labels}} ${this.count}`);
    return lines;
  }
}

/** Seconds since a process.hrtime.bigint() reading. */
export function since(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
