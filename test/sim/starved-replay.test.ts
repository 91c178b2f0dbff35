// A run replays alike however much CPU its process gets: the same scenario,
// once as it comes and once with the process stalled for longer than the
// production request timeout (2 s) in the middle of a delivery, as a soak
// niced below a busy machine is, must deliver the same frames in the same
// order and end with the same counts and verdict. Before the simulated
// connector's timeout was taken out of reach (sim-cluster.ts), the stalled
// run timed its pending request out and took another path.
import t from 'tap';
import fc from 'fast-check';
import { FrameTally } from './frame-tally.ts';
import { emptyStats, runScenario, statsLine } from './runner.ts';
import { scenarioArb, type Scenario } from './scenario.ts';

const stallMs = 2_500;

/** Records each delivered frame's phase and size; blocks the thread at the frames in `stallAt`. */
class Trace extends FrameTally {
  readonly frames: string[] = [];
  constructor(private readonly stallAt: Set<number>) {
    super();
  }
  override count(frame: Buffer): void {
    super.count(frame);
    if (this.stallAt.has(this.frames.length)) {
      const until = performance.now() + stallMs;
      while (performance.now() < until);
    }
    this.frames.push(`${this.phase}:${frame.length}`);
  }
}

async function run(sc: Scenario, stallAt: number[]) {
  const stats = emptyStats();
  const trace = new Trace(new Set(stallAt));
  const violations = await runScenario(sc, stats, trace);
  return { stats: statsLine(stats), frames: trace.frames, violations };
}

t.test('a stall longer than the request timeout changes nothing in a run', async (t) => {
  t.setTimeout(120_000);
  // The first scenario of the CI stream with a manager crash in it and frames enough to stall twice.
  const candidates = fc.sample(scenarioArb, { seed: 0x7ea1, numRuns: 40 });
  let chosen: { sc: Scenario; plain: Awaited<ReturnType<typeof run>> } | undefined;
  for (const sc of candidates) {
    const plain = await run(sc, []);
    if (plain.frames.length >= 60 && sc.groups.some((g) => g.some((op) => op.kind === 'crash'))) {
      chosen = { sc, plain };
      break;
    }
  }
  if (!chosen) return t.fail('no scenario of the stream has a crash and 60 frames');
  const { sc, plain } = chosen;
  const stalled = await run(sc, [10, Math.floor(plain.frames.length / 2)]);
  t.same(stalled.frames, plain.frames, 'the same frames, in the same order');
  t.equal(stalled.stats, plain.stats, 'the same counts');
  t.same(stalled.violations, plain.violations, 'the same verdict');
});
