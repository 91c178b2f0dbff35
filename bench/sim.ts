// Simulator speed: the CI mix of random scenarios (test/sim/scenario.ts, the
// arbitrary crash-sim*.test.ts run) from fixed fast-check seeds, run in this
// process on one thread. Reports scenarios per second of wall time and, the
// figure that does not depend on what else shares the cores, scenarios per
// second of this process's CPU (user + system) and CPU ms per scenario.
// The same seeds give the same scenarios, so runs on two commits compare.
//
// The authentication floor: what the protocol's authentication costs at
// least, which the simulator must not skip (docs/PROTOCOL.md, v3). Per
// session: the open frame's Ed25519 signature and its check, the manager's
// X25519 session key, both sides' X25519 secret and HKDF. Per request frame:
// four HMACs over digest-sized messages (the request's MAC made and
// checked, the reply's made and checked). Measured here in the same run on
// the same thread, times the sessions and frames a scenario had, it bounds
// how fast any simulator running the real manager and nodes can go:
// `vsFloor` is CPU per scenario over it.
//
//   npm run bench -- sim [--quick] [--runs 300] [--seeds 0x7ea1,0xa77a] [--tally yes]
//
// `--tally yes` adds where the frames go (test/sim/frame-tally.ts): per
// scenario, by phase and by the commands a batch carries.
//
// Each seed runs `runs` scenarios (the first `runs` of the CI stream for that
// seed). A violation fails the benchmark: a fast simulator that no longer
// passes is no result.
import { createHmac, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, sign, verify } from 'node:crypto';
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

interface AuthFloor {
  /** CPU ms of one session's open: signature, check, session key, two key agreements. */
  session: number;
  /** CPU ms of one frame's four HMACs over a digest. */
  frame: number;
}

/** Measures the authentication floor on messages the size of the protocol's (a domain label and a SHA-256). */
function authFloor(): AuthFloor {
  const manager = generateKeyPairSync('ed25519');
  const instance = generateKeyPairSync('x25519');
  const message = randomBytes(16 + 32);
  const rounds = 200;
  let cpu0 = cpuMs();
  for (let i = 0; i < rounds; i++) {
    const signature = sign(null, message, manager.privateKey);
    if (!verify(null, message, manager.publicKey, signature)) throw new Error('auth floor: an open frame signature did not verify');
    const own = generateKeyPairSync('x25519');
    const a = diffieHellman({ privateKey: own.privateKey, publicKey: instance.publicKey });
    const b = diffieHellman({ privateKey: instance.privateKey, publicKey: own.publicKey });
    if (!Buffer.from(hkdfSync('sha256', a, message, message, 64)).equals(Buffer.from(hkdfSync('sha256', b, message, message, 64)))) throw new Error('auth floor: the two sides derived different keys');
  }
  const session = (cpuMs() - cpu0) / rounds;
  const key = randomBytes(32);
  const frameRounds = 20 * rounds;
  cpu0 = cpuMs();
  for (let i = 0; i < frameRounds; i++) {
    for (let j = 0; j < 4; j++) createHmac('sha256', key).update(message).digest();
  }
  return { session, frame: (cpuMs() - cpu0) / frameRounds };
}

/** CPU ms of the floor for a scenario with these sessions and frames, averaged over the floors measured. */
function floorMs(floors: AuthFloor[], sessions: number, frames: number): number {
  const mean = (f: (x: AuthFloor) => number) => floors.reduce((sum, x) => sum + f(x), 0) / floors.length;
  return sessions * mean((x) => x.session) + frames * mean((x) => x.frame);
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
  let allSessions = 0;
  const floors: AuthFloor[] = [];
  const tally = opts.params.get('tally') === 'yes' ? new FrameTally() : undefined;
  for (const seed of seeds) {
    floors.push(authFloor());
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
    allSessions += stats.sessions;
    const floor = floorMs(floors.slice(-1), stats.sessions, stats.frames) / stats.scenarios;
    rows.push({
      name: `seed 0x${seed.toString(16)}: ${stats.scenarios} scenarios`,
      value: (stats.scenarios * 1000) / cpu,
      unit: 'sc/cpu-s',
      ratios: { vsFloor: cpu / stats.scenarios / floor },
      extra: {
        wallPerSecond: stats.scenarios / wall,
        cpuMsPerScenario: cpu / stats.scenarios,
        framesPerScenario: stats.frames / stats.scenarios,
        sessionsPerScenario: stats.sessions / stats.scenarios,
        floorCpuMsPerScenario: floor,
        seconds: wall,
      },
    });
    notes.push(`seed 0x${seed.toString(16)}: ${statsLine(stats)}`);
  }
  floors.push(authFloor());
  const floor = floorMs(floors, allSessions, allFrames) / allScenarios;
  rows.push({
    name: `all seeds: ${allScenarios} scenarios`,
    value: (allScenarios * 1000) / allCpu,
    unit: 'sc/cpu-s',
    ratios: { vsFloor: allCpu / allScenarios / floor },
    extra: {
      wallPerSecond: allScenarios / allWall,
      cpuMsPerScenario: allCpu / allScenarios,
      framesPerScenario: allFrames / allScenarios,
      sessionsPerScenario: allSessions / allScenarios,
      authMsPerSession: floorMs(floors, 1, 0),
      authMsPerFrame: floorMs(floors, 0, 1),
      floorCpuMsPerScenario: floor,
      ceilingPerCpuSecond: 1000 / floor,
      seconds: allWall,
    },
  });
  if (tally) notes.push(...tally.lines(allScenarios, 30));
  notes.push("sc/cpu-s: scenarios per second of this process's CPU, i.e. per core; wallPerSecond is lower when the cores are shared");
  notes.push('vsFloor: CPU per scenario over its sessions\' and frames\' authentication floor (measured before each seed and at the end); ceilingPerCpuSecond: the rate if nothing else cost anything');
  return { bench: 'sim', command: `npm run bench -- sim --runs ${runs} --seeds ${seeds.join(',')}`, rows, notes };
}
