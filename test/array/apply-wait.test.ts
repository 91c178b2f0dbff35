// The committer's wait for a next request (virtual-disk.ts, nextRequestWithin;
// docs/JOURNAL.md "Pipelining"): after a commit with nothing queued it waits
// up to applyWaitMs for a request to carry the apply. Each wait may only be
// ended by a request or by its own timer: an earlier wait's timer, firing
// after a request ended that wait and a new wait began, once took the new
// wait's wake away, so the next request went unnoticed until the new timer
// ran out and the entry was applied alone.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createArray } from '../../array-manager/array-create.ts';
import type { Clock } from '../../array-manager/node-handle.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';

const S = 4096;

/** A clock whose sleeps end only when the test says so. */
function manualClock(): Clock & { sleeps: (() => void)[] } {
  const sleeps: (() => void)[] = [];
  return { sleeps, now: () => 0, sleep: () => new Promise<void>((resolve) => sleeps.push(resolve)) };
}

const turns = async (n = 50) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

t.test("a stale wait's timer does not make the next request wait", async (t) => {
  const cluster = new SimCluster(3, 300);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 2, m: 1, journalPieces: 8 });
  const clock = manualClock();
  // The committer's waits sleep on this clock; the nodes' health keeps its own.
  Object.defineProperty(disk.state, 'clock', { value: clock });
  await disk.writeSectors(0, randomBytes(S));
  await turns();
  t.equal(clock.sleeps.length, 1, 'after the first write the committer waits (wait 1)');
  await disk.writeSectors(2, randomBytes(S));
  await turns();
  t.equal(clock.sleeps.length, 2, 'the second write ended wait 1 and, committed, began wait 2');
  clock.sleeps[0]();
  await turns();
  let third = false;
  const writing = disk.writeSectors(4, randomBytes(S)).then(() => (third = true));
  await turns(200);
  t.ok(third, 'the third write was taken at once: wait 1 timing out did not end wait 2');
  t.equal(disk.state.counters.journalApplies, 2, 'its journal round carried the second entry\'s apply');
  for (const end of clock.sleeps) end();
  await writing;
  await disk.close();
});
