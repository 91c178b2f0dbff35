import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchForHang } from './hang-watch.ts';

t.test('an idle loop is declared hung once its on-time ticks add up to the limit', async (t) => {
  const watch = watchForHang(200, { periodMs: 20 });
  const started = performance.now();
  t.equal(await Promise.race([watch.hung, sleep(5_000, 'timeout' as const, { ref: false })]), 'hung');
  t.ok(performance.now() - started >= 190, 'not before the limit');
});

t.test('ticks that come late (a starved process) add nothing', async (t) => {
  // Every tick sees the clock a second on: as if the process ran once a second.
  let fake = 0;
  const watch = watchForHang(200, { periodMs: 20, now: () => (fake += 1000) });
  t.equal(await Promise.race([watch.hung, sleep(600, 'running' as const)]), 'running', 'thirty starved ticks never reach 200 ms');
  watch.stop();
});

t.test('a late tick does not wipe what on-time ticks added before it', async (t) => {
  let fake = 0;
  let tick = 0;
  // On time (20 ms) except every fifth tick, which comes 10 s late.
  const watch = watchForHang(200, { periodMs: 20, now: () => (fake += ++tick % 5 === 0 ? 10_000 : 20) });
  t.equal(await Promise.race([watch.hung, sleep(5_000, 'timeout' as const, { ref: false })]), 'hung');
  t.ok(tick >= 13, `hung after ${tick} ticks: 10 on-time ones and the late ones between them`);
  watch.stop();
});

t.test('stop() ends the watch', async (t) => {
  const watch = watchForHang(50, { periodMs: 10 });
  watch.stop();
  t.equal(await Promise.race([watch.hung, sleep(200, 'stopped' as const)]), 'stopped');
});
