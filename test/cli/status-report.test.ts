// `teearray array status` for people (cli/status-report.ts): the state and
// what to do about it, the rebuild with its rate and time left, the scrub's
// findings, the spares, one row per slot and the latest events, from a
// /status object in each state.
import t from 'tap';
import type { ArrayStatus } from '../../array-manager/http/array-status.ts';
import { formatBytesPerSecond, formatDuration, formatLimit, formatStatus, type ServedStatus } from '../../cli/status-report.ts';

const id = (c: string) => c.repeat(32);

function status(over: Partial<ServedStatus> = {}): ServedStatus {
  const base: ArrayStatus = {
    arrayId: id('a'),
    geometry: { k: 2, m: 1, n: 3, nodeSectors: 1024, journalPieces: 256, tableRows: 6, dataRows: 760 },
    sizeBytes: 760 * 2 * 4096,
    keyErasure: false,
    membershipVersion: '5',
    journalVersion: '17',
    health: 'ok',
    state: 'optimal',
    deadSlots: 0,
    rebuildingSlots: 0,
    slots: [0, 1, 2].map((slot) => ({ slot, state: 'live' as const, instanceId: id(String(slot)), endpoint: `ws://10.0.0.${slot}:7000`, inDoubt: false, sessionFailures: 0, repaired: 0 })),
    unreachableSlots: [],
    counters: {},
    events: [],
    rebuild: { active: false, doneRows: 0, totalRows: 0, bytesPerSecond: 0, slots: [], rate: { minBytesPerSecond: 16e6, maxBytesPerSecond: 0 }, currentLimitBytesPerSecond: 0, bytesRebuilt: 0 },
    scrub: { running: false, rowsChecked: 0, totalRows: 766, bytesPerSecond: 0, repairedBySlot: {}, repaired: 0, unrecoverableRows: 0, unrecoverable: [] },
    spares: { available: ['ws://10.0.0.9:7000'], rejected: [], unreachable: [], autoReplace: true },
  };
  return { ...base, ...over };
}

t.test('units', async (t) => {
  t.equal(formatBytesPerSecond(0), '0 kB/s');
  t.equal(formatBytesPerSecond(48_213_504), '48.2 MB/s');
  t.equal(formatBytesPerSecond(2.5e9), '2.5 GB/s');
  t.equal(formatLimit(0), 'unlimited');
  t.equal(formatLimit(16e6), '16.0 MB/s');
  t.equal(formatDuration(3725), '1:02:05');
  t.equal(formatDuration(-3), '0:00:00');
});

t.test('optimal: the state, no action, the spares, a row per slot', async (t) => {
  const out = formatStatus(status());
  t.match(out, /^ {2}array: a{32} \(k=2 m=1, 0\.01 GiB\)$/m);
  t.match(out, /^ {2}state: optimal$/m);
  t.notMatch(out, /action:/);
  t.match(out, /^rebuild: none in progress \(rate limits: min 16\.0 MB\/s, max unlimited\)$/m);
  t.match(out, /^ {2}scrub: none yet \(start one: teearray array scrub\)$/m);
  t.match(out, /^ spares: ws:\/\/10\.0\.0\.9:7000$/m);
  t.match(out, /^ {2}SLOT {2}STATE {2}NODE {16}INSTANCE {26}REPAIRED$/m, 'no PID column without processes');
  t.match(out, new RegExp(`^  1     live   ws://10\\.0\\.0\\.1:7000  ${id('1')}  0$`, 'm'));
});

t.test('degraded: which slot, why, and what to do', async (t) => {
  const s = status({ state: 'degraded', health: 'degraded', deadSlots: 1, spares: { available: [], rejected: [{ endpoint: 'ws://x:1', reason: 'E_REPLACE_TOO_SMALL: too small' }], unreachable: [], autoReplace: true } });
  s.slots[2] = { ...s.slots[2], state: 'dead', deadReason: 'E_NODE_FAILED: slot 2 unreachable', deadAt: '2026-11-27T09:31:02.114Z' };
  s.events = [{ at: '2026-11-27T09:31:02.114Z', kind: 'slot-dead', slot: 2, reason: 'E_NODE_FAILED: slot 2 unreachable' }];
  const out = formatStatus(s);
  t.match(out, /^ {2}state: degraded$/m);
  t.match(out, /^ action: slot 2 is dead: the array can lose 0 more node\(s\)\.$/m);
  t.match(out, /Replace it: teearray array replace --slot 2 --endpoint ws:\/\/HOST:PORT/);
  t.match(out, /^ spares: none; 1 refused \(ws:\/\/x:1: E_REPLACE_TOO_SMALL: too small\)$/m);
  t.match(out, /^ {2}2 +dead +ws:\/\/10\.0\.0\.2:7000 +2{32} +0 +E_NODE_FAILED: slot 2 unreachable$/m);
  t.match(out, /^ events \(latest 1 of 1\):\n {2}2026-11-27 09:31:02 slot-dead slot 2: E_NODE_FAILED: slot 2 unreachable$/m);
  const spare = formatStatus({ ...s, spares: { available: ['ws://10.0.0.9:7000'], rejected: [], unreachable: [], autoReplace: true } });
  t.match(spare, /A spare will take it\./, 'with a spare ready, no command to type');
  const down = formatStatus({ ...s, spares: { available: ['ws://10.0.0.9:7000'], rejected: [], unreachable: [{ endpoint: 'ws://10.0.0.9:7000', reason: 'E_REPLACE_UNREACHABLE: refused' }], autoReplace: true } });
  t.match(down, /^ spares: ws:\/\/10\.0\.0\.9:7000; 1 not reachable when last tried \(ws:\/\/10\.0\.0\.9:7000: E_REPLACE_UNREACHABLE: refused\)$/m, 'a spare kept though unreachable, with why');
});

t.test('rebuilding: progress, rate, time left, the pid of local nodes', async (t) => {
  const s = status({
    state: 'rebuilding',
    rebuildingSlots: 1,
    rebuild: { active: true, doneRows: 412, totalRows: 766, bytesPerSecond: 2_400_000, secondsLeft: 61, slots: [{ slot: 1, cursor: 412, persisted: 400 }], rate: { minBytesPerSecond: 16e6, maxBytesPerSecond: 100e6 }, currentLimitBytesPerSecond: 100e6, bytesRebuilt: 1e6 },
    processes: [0, 1, 2].map((i) => ({ endpoint: `ws://10.0.0.${i}:7000`, pid: 100 + i, role: `slot ${i}` })),
  });
  s.slots[1] = { ...s.slots[1], state: 'rebuilding', cursor: 412, stripes: 766 };
  const out = formatStatus(s);
  t.match(out, /^ {2}state: rebuilding$/m);
  t.match(out, /^ action: slot 1 being rebuilt onto a new node; full redundancy returns when it is done\.$/m);
  t.match(out, /^rebuild: 412\/766 stripes \(53\.8%\) at 2\.4 MB\/s, 0:01:01 left; rate limits: min 16\.0 MB\/s, max 100\.0 MB\/s$/m);
  t.match(out, /^ {2}1 +rebuilding +ws:\/\/10\.0\.0\.1:7000 +101 +1{32} +0 +53\.8% rebuilt$/m);
  const stalled = formatStatus({ ...s, rebuild: { ...s.rebuild!, error: 'E_UNAVAILABLE: 2 nodes unreachable' } });
  t.match(stalled, /^ {9}stalled: E_UNAVAILABLE: 2 nodes unreachable$/m);
});

t.test('scrub: running, finished with findings, from an earlier run', async (t) => {
  const running = formatStatus(status({ scrub: { running: true, startedAt: '2026-11-27T10:00:00.000Z', rowsChecked: 383, totalRows: 766, bytesPerSecond: 9e6, repairedBySlot: { 1: 2 }, repaired: 2, unrecoverableRows: 0, unrecoverable: [] } }));
  t.match(running, /^ {2}scrub: in progress since 2026-11-27T10:00:00\.000Z: 383\/766 stripes \(50\.0%\) at 9\.0 MB\/s, 2 shards repaired, 0 stripes unrecoverable$/m);
  const lost = formatStatus(
    status({
      state: 'optimal',
      scrub: { running: false, startedAt: 'a', finishedAt: '2026-11-27T10:01:00.000Z', rowsChecked: 766, totalRows: 766, bytesPerSecond: 0, repairedBySlot: {}, repaired: 0, unrecoverableRows: 1, unrecoverable: [{ region: 'data', row: 7, first: 14, count: 2 }], nextAt: '2026-12-04T10:01:00.000Z', previousRun: true },
    }),
  );
  t.match(lost, /^ {2}scrub: finished 2026-11-27T10:01:00\.000Z: 766 stripes checked, 0 shards repaired, 1 stripe unrecoverable \(an earlier run of the manager\); next at 2026-12-04T10:01:00\.000Z$/m);
  t.match(lost, /^ {9}unrecoverable: sectors 14\.\.15$/m);
});

t.test('failed and unavailable', async (t) => {
  const failed = formatStatus(status({ state: 'failed', health: 'failed', deadSlots: 2 }));
  t.match(failed, /^ action: more than m = 1 slots are dead: the array refuses I\/O\./m);
  const waiting = formatStatus(status({ health: 'unavailable', unreachableSlots: [0, 2] }));
  t.match(waiting, /^ {2}state: optimal \(writes waiting: more than m nodes unreachable\)$/m);
  t.match(waiting, /nodes of slots 0, 2 do not answer: writes wait for them \(E_UNAVAILABLE\)\./);
});
