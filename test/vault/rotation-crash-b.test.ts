// The rotation's crash points in CI, part B: k=3 m=1, crash frames taken by
// a stride across journal, commit and apply until 7,500 points have run
// (with part A's, over 10,000). VAULT_SWEEP_POINTS=N changes the bound
// (Infinity: every point of the shape).
import t from 'tap';
import { sweepShape } from './rotation-crash.ts';

const pointsMin = Number(process.env.VAULT_SWEEP_POINTS ?? 7500);

t.test(`k=3 m=1: at least ${pointsMin} crash points`, async (t) => {
  const started = performance.now();
  const r = await sweepShape(3, 1, pointsMin);
  t.comment(`points=${r.points} recoveries=${r.recoveries} of ${r.units} (crash frame, victim) pairs of ${r.crashFrames * 4}; violations=${r.violations.length} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  t.ok(r.points >= Math.min(pointsMin, 1000), `${r.points} points`);
  t.same(r.violations.slice(0, 10), [], 'never mixed, never an acknowledged rotation lost');
});
