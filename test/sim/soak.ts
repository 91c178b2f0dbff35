// `npm run soak -- --seconds N [--json FILE]`: runs simulated scenarios from
// fresh seeds until the time is up, then prints a one-line summary. On a
// violation it stops, prints the seed and path that replay the shrunk
// scenario, and exits 1.
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { emptyStats, runScenario } from './runner.ts';
import { scenarioArb } from './scenario.ts';

function parse(argv: string[]): { seconds: number; json?: string } {
  let seconds = 60;
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seconds') seconds = Number(argv[++i]);
    else if (argv[i] === '--json') json = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}; usage: npm run soak -- --seconds N [--json FILE]`);
  }
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 7 * 24 * 3600) throw new Error('--seconds must be in (0, 604800]');
  return { seconds, json };
}

async function main(): Promise<void> {
  const { seconds, json } = parse(process.argv.slice(2));
  const stats = emptyStats();
  const deadline = Date.now() + seconds * 1000;
  let violations = 0;
  let replay = '';
  while (Date.now() < deadline && violations === 0) {
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
  const line =
    `soak: scenarios=${stats.scenarios} steps=${stats.steps} crashes=${stats.crashes} nodeLosses=${stats.nodeLosses} ` +
    `corruptions=${stats.corruptions} networkFaults=${stats.networkFaults} failedArrays=${stats.failedArrays} violations=${violations}`;
  console.log(line);
  if (replay) console.log(`replay: ${replay}`);
  if (json) writeFileSync(json, JSON.stringify({ ...stats, violations, replay }, null, 2) + '\n');
  process.exit(violations ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(`soak: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
});
