// Runs simulated scenarios under tap and fast-check: counts what was
// injected, prints the totals, and on a violation lets fast-check shrink the
// scenario and print the seed and path that replay it.
import t from 'tap';
import fc from 'fast-check';
import { emptyStats, runScenario, statsLine, type SimStats } from './runner.ts';
import { scenarioArb } from './scenario.ts';

export function summary(stats: SimStats, violations: number): string {
  return `${statsLine(stats)} violations=${violations}`;
}

export async function simulate(opts: { runs: number; seed: number }): Promise<void> {
  await t.test(`${opts.runs} simulated scenarios keep guarantees 1-5 (seed ${opts.seed})`, async (t) => {
    const stats = emptyStats();
    const result = await fc.check(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const violations = await runScenario(sc, stats);
        if (violations.length) throw new Error(violations.join('\n'));
      }),
      { numRuns: opts.runs, seed: opts.seed, path: process.env.SIM_PATH, endOnFailure: false },
    );
    t.comment(summary(stats, result.failed ? 1 : 0));
    const replay = `SIM_SEED=${result.seed} SIM_PATH=${result.counterexamplePath} SIM_RUNS=1`;
    const violation = result.failed ? `${(result.errorInstance as Error | undefined)?.message ?? ''}\n` : '';
    t.notOk(result.failed, result.failed ? `violation; replay with ${replay}\n${violation}${fc.defaultReportMessage(result)}` : 'no violation');
    if (!result.failed) t.ok(stats.crashes + stats.nodeLosses >= opts.runs, 'the runs injected crashes and node losses');
  });
}
