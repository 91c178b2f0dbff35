// Simulator speed: the CI mix of random scenarios (test/sim/scenario.ts, the
// arbitrary crash-sim*.test.ts run) from fixed fast-check seeds, run in this
// process on one thread. Reports scenarios per second of wall time and, the
// figure that does not depend on what else shares the cores, scenarios per
// second of this process's CPU (user + system) and CPU ms per scenario.
// The same seeds give the same scenarios, so runs on two commits compare.
//
// The signature floor: every request frame that reaches a node costs four
// Ed25519 operations that the simulator must not skip (the manager signs
// it, the node verifies it and signs its reply, the manager verifies the
// reply). Measured here in the same run on the same thread, times the
// frames a scenario delivered, it bounds how fast any simulator running
// the real manager and nodes can go: `vsFloor` is CPU per scenario over it.
//
//   npm run bench -- sim [--quick] [--runs 300] [--seeds 0x7ea1,0xa77a] [--tally yes]
//
// `--tally yes` adds where the frames go (test/sim/frame-tally.ts): per
// scenario, by phase and by the commands a batch carries.
//
// Each seed runs `runs` scenarios (the first `runs` of the CI stream for that
// seed). A violation fails the benchmark: a fast simulator that no longer
// passes is no result.
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { emptyStats, runScenario, statsLine } from '../test/sim/runner.ts';
import { scenarioArb } from '../test/sim/scenario.ts';
import { FrameTally } from '../test/sim/frame-tally.ts';
import { secondsSince, type BenchOptions, type BenchResult, type BenchRow } from './report.ts';

const ciSeeds = [0x7ea1, 0xa77a];

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** CPU ms of one frame's four Ed25519 operations, over messages the size of the protocol's (a domain label and a SHA-256). */
function signatureMsPerFrame(): number {
  const manager = generateKeyPairSync('ed25519');
  const node = generateKeyPairSync('ed25519');
  const message = randomBytes(17 + 32);
  const rounds = 400;
  const cpu0 = cpuMs();
  for (let i = 0; i < rounds; i++) {
    const request = sign(null, message, manager.privateKey);
    if (!verify(null, message, manager.publicKey, request)) throw new Error('signature floor: a request signature did not verify');
    const reply = sign(null, message, node.privateKey);
    if (!verify(null, message, node.publicKey, reply)) throw new Error('signature floor: a reply signature did not verify');
  }
  return (cpuMs() - cpu0) / rounds;
}

function intParam(opts: BenchOptions, name: string, fallback: number): number {
  const raw = opts.params.get(name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const runs = intParam(opts, 'runs', opts.quick ? 20 : 300);
  const seeds = opts.params.get('seeds')?.split(',').map(Number) ?? ciSeeds;
  if (seeds.some((s) => !Number.isInteger(s))) throw new Error('--seeds takes a comma list of integers');
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  let allScenarios = 0;
  let allCpu = 0;
  let allWall = 0;
  let allFrames = 0;
  const floors: number[] = [];
  const tally = opts.params.get('tally') === 'yes' ? new FrameTally() : undefined;
  for (const seed of seeds) {
    floors.push(signatureMsPerFrame());
    const stats = emptyStats();
    const cpu0 = cpuMs();
    const start = process.hrtime.bigint();
    const result = await fc.check(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const v = await runScenario(sc, stats, tally);
        if (v.length) throw new Error(v.join('\n'));
      }),
      { numRuns: runs, seed, endOnFailure: true },
    );
    const wall = secondsSince(start);
    const cpu = cpuMs() - cpu0;
    if (result.failed) throw new Error(`seed ${seed}: a violation; replay with SIM_SEED=${result.seed} SIM_PATH=${result.counterexamplePath} SIM_RUNS=1 npx tap test/sim/crash-sim.test.ts`);
    allScenarios += stats.scenarios;
    allCpu += cpu;
    allWall += wall;
    allFrames += stats.frames;
    const floorMs = (stats.frames / stats.scenarios) * floors.at(-1)!;
    rows.push({
      name: `seed 0x${seed.toString(16)}: ${stats.scenarios} scenarios`,
      value: (stats.scenarios * 1000) / cpu,
      unit: 'sc/cpu-s',
      ratios: { vsFloor: cpu / stats.scenarios / floorMs },
      extra: { wallPerSecond: stats.scenarios / wall, cpuMsPerScenario: cpu / stats.scenarios, framesPerScenario: stats.frames / stats.scenarios, floorCpuMsPerScenario: floorMs, seconds: wall },
    });
    notes.push(`seed 0x${seed.toString(16)}: ${statsLine(stats)}`);
  }
  floors.push(signatureMsPerFrame());
  const floorMs = (allFrames / allScenarios) * (floors.reduce((a, b) => a + b, 0) / floors.length);
  rows.push({
    name: `all seeds: ${allScenarios} scenarios`,
    value: (allScenarios * 1000) / allCpu,
    unit: 'sc/cpu-s',
    ratios: { vsFloor: allCpu / allScenarios / floorMs },
    extra: {
      wallPerSecond: allScenarios / allWall,
      cpuMsPerScenario: allCpu / allScenarios,
      framesPerScenario: allFrames / allScenarios,
      signatureMsPerFrame: floorMs / (allFrames / allScenarios),
      floorCpuMsPerScenario: floorMs,
      ceilingPerCpuSecond: 1000 / floorMs,
      seconds: allWall,
    },
  });
  if (tally) notes.push(...tally.lines(allScenarios, 30));
  notes.push("sc/cpu-s: scenarios per second of this process's CPU, i.e. per core; wallPerSecond is lower when the cores are shared");
  notes.push('vsFloor: CPU per scenario over its frames\' four Ed25519 operations each (measured before each seed and at the end); ceilingPerCpuSecond: the rate if nothing else cost anything');
  return { bench: 'sim', command: `npm run bench -- sim --runs ${runs} --seeds ${seeds.join(',')}`, rows, notes };
}
