// `npm run soak -- --seconds N [--jobs J] [--json FILE]`: runs simulated
// scenarios from fresh seeds until the time is up, then prints a one-line
// summary. On a violation it stops, prints the seed and path that replay the
// shrunk scenario, and exits 1. Interrupted (Ctrl-C, SIGTERM), it finishes
// the runs in hand and prints the summary of what it covered. With --jobs J it runs J such processes side
// by side (one per core: a scenario runs on one thread) and sums their
// summaries; the first replay line found is printed.
//
// `--exhaustive SHAPES` (`all`, or a comma list of 2+1, 3+2, 2+3) runs the
// exhaustive sweep of those shapes instead (exhaustive.ts) until every point
// ran or --seconds (default: the maximum) is up; `--stride S` runs every S-th
// point. Jobs split the points between them. It prints one summary line and
// the coordinates of every failing point, and exits 1 if there is one.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { emptyStats, runScenario, statsLine, type SimStats } from './runner.ts';
import { scenarioArb } from './scenario.ts';
import { describePoint, exhaustiveShapes, sweepShape } from './exhaustive.ts';

const usage = 'usage: npm run soak -- [--seconds N] [--jobs J] [--json FILE] [--exhaustive all|2+1,3+2,2+3 [--stride S]]';
const jobsMax = 64;
const secondsMax = 7 * 24 * 3600;
const strideMax = 100_000;

interface Options {
  seconds: number;
  jobs: number;
  json?: string;
  /** Shapes to sweep exhaustively, as [k, m]; absent: random scenarios. */
  exhaustive?: (readonly [number, number])[];
  stride: number;
  /** Which residue modulo `stride` this process runs (set by the parent for its jobs). */
  offset: number;
}

interface ExhaustiveSummary {
  points: number;
  failures: string[];
  complete: boolean;
}

interface Summary extends SimStats {
  violations: number;
  replay: string;
}

function parseShapes(arg: string | undefined): (readonly [number, number])[] {
  const known = exhaustiveShapes.map(([k, m]) => `${k}+${m}`);
  if (arg === 'all') return [...exhaustiveShapes];
  const names = (arg ?? '').split(',');
  if (!arg || names.some((n) => !known.includes(n))) throw new Error(`--exhaustive takes all or a comma list of ${known.join(', ')}`);
  return names.map((n) => exhaustiveShapes[known.indexOf(n)]);
}

function parse(argv: string[]): Options {
  let seconds: number | undefined;
  let jobs = 1;
  let json: string | undefined;
  let exhaustive: Options['exhaustive'];
  let stride: number | undefined;
  let offset = 0;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seconds') seconds = Number(argv[++i]);
    else if (argv[i] === '--jobs') jobs = Number(argv[++i]);
    else if (argv[i] === '--json') json = argv[++i];
    else if (argv[i] === '--exhaustive') exhaustive = parseShapes(argv[++i]);
    else if (argv[i] === '--stride') stride = Number(argv[++i]);
    else if (argv[i] === '--offset') offset = Number(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}; ${usage}`);
  }
  if (seconds !== undefined && (!Number.isFinite(seconds) || seconds <= 0 || seconds > secondsMax)) throw new Error(`--seconds must be in (0, ${secondsMax}]`);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > jobsMax) throw new Error(`--jobs must be an integer from 1 to ${jobsMax}`);
  if (stride !== undefined && !exhaustive) throw new Error('--stride goes with --exhaustive');
  stride ??= 1;
  if (!Number.isInteger(stride) || stride < 1 || stride > strideMax) throw new Error(`--stride must be an integer from 1 to ${strideMax}`);
  if (!Number.isInteger(offset) || offset < 0 || offset >= stride) throw new Error('--offset must be an integer from 0 to stride - 1');
  // A sweep runs until it is complete unless told otherwise; random scenarios have no end of their own.
  return { seconds: seconds ?? (exhaustive ? secondsMax : 60), jobs, json, exhaustive, stride, offset };
}

function summaryLine(s: Summary): string {
  return `soak: ${statsLine(s)} violations=${s.violations}`;
}

/** Set by SIGINT or SIGTERM: the soak finishes the runs in hand and reports. */
let interrupted = false;

/** Runs scenarios in this process until the deadline, an interrupt or the first violation. */
async function soak(seconds: number): Promise<Summary> {
  const stats = emptyStats();
  const deadline = Date.now() + seconds * 1000;
  let violations = 0;
  let replay = '';
  while (Date.now() < deadline && !interrupted && violations === 0) {
    const seed = (Math.random() * 2 ** 31) | 0;
    const result = await fc.check(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const v = await runScenario(sc, stats);
        if (v.length) throw new Error(v.join('\n'));
      }),
      // The violation's text goes in the report: fast-check leaves it out unless told.
      { numRuns: 50, seed, includeErrorInReport: true },
    );
    if (result.failed) {
      violations++;
      replay = `SIM_SEED=${result.seed} SIM_PATH=${result.counterexamplePath} SIM_RUNS=1 npx tap test/sim/crash-sim.test.ts`;
      console.error(fc.defaultReportMessage(result));
    }
  }
  return { ...stats, violations, replay };
}

/**
 * Runs `jobs` copies of this soak as child processes, each with its own
 * arguments, and returns what each wrote to its JSON file.
 */
async function runChildren<T>(jobs: number, argsOf: (job: number) => string[]): Promise<T[]> {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-soak-'));
  try {
    const files = Array.from({ length: jobs }, (_, i) => join(dir, `job-${i}.json`));
    const children = files.map((file, i) =>
      spawn(process.execPath, [...process.execArgv, process.argv[1], ...argsOf(i), '--json', file], {
        // Their summaries come back through the JSON files; violation reports go to stderr.
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
    );
    const forward = (signal: NodeJS.Signals) => children.forEach((child) => child.kill(signal));
    process.on('SIGINT', forward).on('SIGTERM', forward);
    const codes = await Promise.all(
      children.map(
        (child) =>
          new Promise<number>((resolve, reject) => {
            child.on('error', reject);
            child.on('exit', (code) => resolve(code ?? 2));
          }),
      ),
    );
    if (codes.some((c) => c !== 0 && c !== 1)) throw new Error(`a soak job failed to run (exit codes ${codes.join(', ')})`);
    return files.map((file) => JSON.parse(readFileSync(file, 'utf8')) as T);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `jobs` single-job soaks as child processes and sums what they report. */
async function soakInChildren(seconds: number, jobs: number): Promise<Summary> {
  const parts = await runChildren<Summary>(jobs, () => ['--seconds', String(seconds)]);
  const total: Summary = { ...emptyStats(), violations: 0, replay: '' };
  for (const part of parts) {
    for (const key of Object.keys(emptyStats()) as (keyof SimStats)[]) total[key] += part[key];
    total.violations += part.violations;
    total.replay ||= part.replay;
  }
  return total;
}

/** Runs this process's share of the exhaustive sweep of every shape asked for. */
async function sweep(opts: Options): Promise<ExhaustiveSummary> {
  const deadline = Date.now() + opts.seconds * 1000;
  const until = () => interrupted || Date.now() >= deadline;
  const summary: ExhaustiveSummary = { points: 0, failures: [], complete: true };
  for (const [k, m] of opts.exhaustive!) {
    const result = await sweepShape(k, m, { stride: opts.stride, offset: opts.offset, until });
    summary.points += result.points;
    for (const f of result.failures) {
      const line = `point ${f.index} of ${k}+${m}: ${describePoint(f.point)}: ${f.violations.join('; ')}`;
      console.error(line);
      summary.failures.push(line);
    }
    if (until()) summary.complete = false;
  }
  return summary;
}

/** Splits the sweep between `jobs` children: job j takes the points at j*stride modulo jobs*stride. */
async function sweepInChildren(opts: Options): Promise<ExhaustiveSummary> {
  const shapes = opts.exhaustive!.map(([k, m]) => `${k}+${m}`).join(',');
  const parts = await runChildren<ExhaustiveSummary>(opts.jobs, (job) => [
    ...['--exhaustive', shapes, '--seconds', String(opts.seconds)],
    ...['--stride', String(opts.stride * opts.jobs), '--offset', String(job * opts.stride)],
  ]);
  return {
    points: parts.reduce((sum, p) => sum + p.points, 0),
    failures: parts.flatMap((p) => p.failures),
    complete: parts.every((p) => p.complete),
  };
}

async function mainExhaustive(opts: Options): Promise<void> {
  const summary = opts.jobs === 1 ? await sweep(opts) : await sweepInChildren(opts);
  const shapes = opts.exhaustive!.map(([k, m]) => `${k}+${m}`).join(',');
  console.log(`soak: exhaustive shapes=${shapes} stride=${opts.stride} points=${summary.points} complete=${summary.complete} failures=${summary.failures.length}`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify(summary, null, 2) + '\n');
  process.exit(summary.failures.length ? 1 : 0);
}

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  const { seconds, jobs, json } = opts;
  const stop = () => void (interrupted = true);
  process.once('SIGINT', stop).once('SIGTERM', stop);
  if (opts.exhaustive) return mainExhaustive(opts);
  const summary = jobs === 1 ? await soak(seconds) : await soakInChildren(seconds, jobs);
  console.log(summaryLine(summary));
  if (summary.replay) console.log(`replay: ${summary.replay}`);
  if (json) writeFileSync(json, JSON.stringify(summary, null, 2) + '\n');
  process.exit(summary.violations ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(`soak: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
});
