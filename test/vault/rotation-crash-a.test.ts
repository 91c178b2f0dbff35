// The rotation's crash points in CI, part A (part B: rotation-crash-b.test.ts):
// every point of k=2 m=1 (rotation-crash.ts), and every node death during
// the rotation followed by a manager crash at each later frame. No point
// may leave the vault mixed, lose an acknowledged rotation, or record a
// volume key check that is not its epoch's.
import t from 'tap';
import { sweepDeathsDuringRotation, sweepShape } from './rotation-crash.ts';

t.test('k=2 m=1: every crash frame x recovery crash x victim x moment of death', async (t) => {
  const started = performance.now();
  const r = await sweepShape(2, 1);
  t.comment(`points=${r.points} recoveries=${r.recoveries} crashFrames=${r.crashFrames} violations=${r.violations.length} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  t.ok(r.points > 3000, `${r.points} points`);
  t.same(r.violations.slice(0, 10), [], 'never mixed, never an acknowledged rotation lost');
});

t.test('k=2 m=1: a node dies at every frame of the rotation, the manager crashes at every later one', async (t) => {
  const r = await sweepDeathsDuringRotation(2, 1);
  t.comment(`points=${r.points} violations=${r.violations.length}`);
  t.ok(r.points > 100, `${r.points} points`);
  t.same(r.violations.slice(0, 10), []);
});
