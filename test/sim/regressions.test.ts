// Scenarios the soak found, kept as fixed cases so that they stay fixed.
// Each one replays exactly (runScenario is deterministic for a scenario).
import t from 'tap';
import { emptyStats, runScenario } from './runner.ts';
import type { Scenario } from './scenario.ts';

const cases: { found: string; scenario: Scenario }[] = [
  {
    // A 1 ms wait after a commit for a next write to carry the apply (since
    // taken out) left data row 0 unreadable with m = 3 nodes lost.
    found: 'soak, seed 1331347991',
    scenario: {
      k: 5,
      m: 3,
      journalPieces: 8,
      keyErasure: false,
      groups: [
        [
          { kind: 'kill', slot: 1, afterFrames: 0, restart: false },
          { kind: 'txn', sectors: [0, 1], seed: 0 },
        ],
        [
          { kind: 'write', sector: 0, count: 1, seed: 0 },
          { kind: 'kill', slot: 2, afterFrames: 13, restart: false },
        ],
        [
          { kind: 'crash', afterFrames: 20, duringRecovery: 13 },
          { kind: 'kill', slot: 0, afterFrames: 28, restart: false },
          { kind: 'write', sector: 0, count: 6, seed: 0 },
        ],
        [{ kind: 'write', sector: 0, count: 1, seed: 0 }],
      ],
    },
  },
];

for (const c of cases) {
  t.test(`no violation: ${c.found}`, async (t) => {
    const stats = emptyStats();
    t.same(await runScenario(c.scenario, stats), [], 'the model holds');
    t.ok(stats.crashes > 0 && stats.nodeLosses > 0, 'the crash and the node losses happened');
  });
}
