// The bounded part of the exhaustive sweep that runs in CI: every eighth
// point of the k=2 m=1 shape (exhaustive.ts), about 530 points, spread
// evenly over all four operations, crash frames, victims and death moments.
// (The stride shrinks as operations and recoveries take fewer round trips,
// docs/PERFORMANCE.md "Simulator speed": fewer frames, fewer crash points to
// choose from. Every ninth gave 471 once an apply rode in the next write's
// journal round.)
// `npm run soak -- --exhaustive all` runs every point of every shape.
import t from 'tap';
import { describePoint, sweepShape } from './exhaustive.ts';

const stride = 8;

t.test(`exhaustive sweep of k=2 m=1, every ${stride}th point`, async (t) => {
  const result = await sweepShape(2, 1, { stride, offset: 0 });
  t.comment(`points=${result.points} failures=${result.failures.length}`);
  for (const f of result.failures.slice(0, 10)) t.comment(`point ${f.index}: ${describePoint(f.point)}: ${f.violations[0]}`);
  t.ok(result.points > 500, 'the probes found the operations and their recoveries');
  t.same(
    result.failures.map((f) => f.index),
    [],
    'no point breaks the model',
  );
});
