// Shared helpers for benchmarks: timing, medians and a uniform result shape.
// Every benchmark reports figures and, where it has one, a baseline measured in
// the same run, so that a reader compares ratios rather than absolute numbers
// taken on different days.

export interface BenchRow {
  /** What was measured, e.g. "encode k=8 m=3 4KiB". */
  name: string;
  /** Measured value. */
  value: number;
  /** Unit of value, e.g. "MB/s", "IOPS", "ms". */
  unit: string;
  /** Optional comparisons: label -> value/baseline. */
  ratios?: Record<string, number>;
  /** Optional extra figures (latencies, amplification, parameters). */
  extra?: Record<string, number | string>;
}

export interface BenchResult {
  bench: string;
  /** The command that reproduces this result. */
  command: string;
  rows: BenchRow[];
  notes?: string[];
}

export interface BenchOptions {
  /** Free-form parameters after the benchmark name: --key value pairs. */
  params: Map<string, string>;
  /** True for a short run (used by the smoke test of the runner). */
  quick: boolean;
}

export function median(values: number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Seconds elapsed since `start` (a process.hrtime.bigint() reading). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * Runs `fn` repeatedly for about `seconds` (at least `minIterations` times)
 * and returns the median throughput of `samples` such timed rounds, in units
 * of `work` per second.
 */
export async function throughput(
  fn: () => unknown | Promise<unknown>,
  work: number,
  opts: { samples?: number; seconds?: number; minIterations?: number } = {},
): Promise<number> {
  const samples = opts.samples ?? 5;
  const seconds = opts.seconds ?? 0.2;
  const minIterations = opts.minIterations ?? 1;
  const rates: number[] = [];
  for (let s = 0; s < samples; s++) {
    let iterations = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (iterations < minIterations || elapsed < seconds) {
      await fn();
      iterations++;
      elapsed = secondsSince(start);
    }
    rates.push((iterations * work) / elapsed);
  }
  return median(rates);
}

export function formatResult(result: BenchResult): string {
  const lines = [`== ${result.bench} ==`, `reproduce: ${result.command}`];
  for (const row of result.rows) {
    const ratios = Object.entries(row.ratios ?? {})
      .map(([label, r]) => `${label} ${r.toFixed(2)}x`)
      .join('  ');
    const extra = Object.entries(row.extra ?? {})
      .map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(3) : v}`)
      .join(' ');
    lines.push(
      `${row.name.padEnd(44)} ${row.value.toFixed(1).padStart(10)} ${row.unit.padEnd(6)} ${ratios} ${extra}`.trimEnd(),
    );
  }
  for (const note of result.notes ?? []) lines.push(`note: ${note}`);
  return lines.join('\n');
}
