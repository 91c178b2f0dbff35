// `npm run soak -- --seconds N [--jobs J] [--json FILE]`: runs simulated
// scenarios from fresh seeds until the time is up, then prints a one-line
// summary. On a violation it stops, prints the seed and path that replay the
// shrunk scenario, and exits 1. Interrupted (Ctrl-C, SIGTERM), it finishes
// the runs in hand and prints the summary of what it covered. With --jobs J it runs J such processes side
// by side (one per core: a scenario runs on one thread) and sums their
// summaries; the first replay line found is printed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { emptyStats, runScenario, statsLine, type SimStats } from './runner.ts';
import { scenarioArb } from './scenario.ts';

const usage = 'usage: npm run soak -- --seconds N [--jobs J] [--json FILE]';
const jobsMax = 64;

interface Options {
  seconds: number;
  jobs: number;
  json?: string;
}

interface Summary extends SimStats {
  violations: number;
  replay: string;
}

function parse(argv: string[]): Options {
  let seconds = 60;
  let jobs = 1;
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seconds') seconds = Number(argv[++i]);
    else if (argv[i] === '--jobs') jobs = Number(argv[++i]);
    else if (argv[i] === '--json') json = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}; ${usage}`);
  }
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 7 * 24 * 3600) throw new Error('--seconds must be in (0, 604800]');
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > jobsMax) throw new Error(`--jobs must be an integer from 1 to ${jobsMax}`);
  return { seconds, jobs, json };
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
      { numRuns: 50, seed },
    );
    if (result.failed) {
      violations++;
      replay = `SIM_SEED=${result.seed} SIM_PATH=${result.counterexamplePath} SIM_RUNS=1 npx tap test/sim/crash-sim.test.ts`;
      console.error(fc.defaultReportMessage(result));
    }
  }
  return { ...stats, violations, replay };
}

/** Runs `jobs` single-job soaks as child processes and sums what they report. */
async function soakInChildren(seconds: number, jobs: number): Promise<Summary> {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-soak-'));
  try {
    const files = Array.from({ length: jobs }, (_, i) => join(dir, `job-${i}.json`));
    const children = files.map((file) =>
      spawn(process.execPath, [...process.execArgv, process.argv[1], '--seconds', String(seconds), '--json', file], {
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
    const total: Summary = { ...emptyStats(), violations: 0, replay: '' };
    for (const file of files) {
      const part = JSON.parse(readFileSync(file, 'utf8')) as Summary;
      for (const key of Object.keys(emptyStats()) as (keyof SimStats)[]) total[key] += part[key];
      total.violations += part.violations;
      total.replay ||= part.replay;
    }
    return total;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { seconds, jobs, json } = parse(process.argv.slice(2));
  const stop = () => void (interrupted = true);
  process.once('SIGINT', stop).once('SIGTERM', stop);
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
