// The admin HTTP API (array-manager/http/, docs/ADMIN.md) over a real
// listening server and an array on in-process disk nodes: the bearer token
// guards every route, /status reports geometry, slots and health as nodes
// die, /metrics is well-formed Prometheus text whose counters and histograms
// move with I/O, and unknown routes get a JSON 404.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { createArray } from '../../array-manager/array-create.ts';
import { adminApp, startAdminApi } from '../../array-manager/http/admin-api.ts';
import { latencyBucketsSeconds } from '../../array-manager/latency-histogram.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';

const S = 4096;
const token = 'admin-token-' + randomBytes(12).toString('hex');
const endpoints = ['ws://a:7000', 'ws://b:7000', 'ws://c:7000', 'ws://d:7000', 'ws://e:7000', 'ws://f:7000'];

async function setup(t: Test) {
  const cluster = new SimCluster(6, 600);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 4, m: 2, journalPieces: 32 });
  const api = await startAdminApi({ disk, token, endpoints, extraStatus: () => ({ nbd: { port: 1234 } }), extraCounters: () => ({ nbdConnections: 7 }) });
  t.teardown(async () => {
    await api.close();
    await disk.close();
  });
  const get = (path: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }, method = 'GET') =>
    fetch(`http://127.0.0.1:${api.port}${path}`, { method, headers, signal: AbortSignal.timeout(5000) });
  return { cluster, disk, get };
}

t.test('the token guards every route', async (t) => {
  const { get } = await setup(t);
  const wrongSameLength = token.slice(0, -1) + (token.endsWith('x') ? 'y' : 'x');
  const refused: [string, Record<string, string>][] = [
    ['no header', {}],
    ['wrong token', { authorization: 'Bearer wrong-token-0123456789' }],
    ['wrong token of the same length', { authorization: `Bearer ${wrongSameLength}` }],
    ['token with a suffix', { authorization: `Bearer ${token}x` }],
    ['token as Basic', { authorization: `Basic ${token}` }],
    ['token without scheme', { authorization: token }],
    ['empty bearer', { authorization: 'Bearer ' }],
  ];
  for (const path of ['/status', '/metrics', '/nonexistent']) {
    for (const [what, headers] of refused) {
      const res = await get(path, headers);
      t.equal(res.status, 401, `${path}, ${what}: 401`);
      t.same(await res.json(), { error: 'E_UNAUTHORIZED', message: 'missing or wrong bearer token' });
    }
  }
  t.equal((await get('/status')).status, 200, 'the right token passes');
});

t.test('a short token is refused at start', async (t) => {
  const cluster = new SimCluster(3, 400);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 2, m: 1, journalPieces: 32 });
  t.teardown(() => disk.close());
  t.throws(() => adminApp({ disk, token: 'x'.repeat(15) }), /at least 16 characters/);
});

t.test('unknown routes and methods: JSON 404', async (t) => {
  const { get } = await setup(t);
  for (const [path, method] of [['/', 'GET'], ['/status/extra', 'GET'], ['/scrub', 'POST'], ['/status', 'POST'], ['/metrics', 'DELETE']]) {
    const res = await get(path, { authorization: `Bearer ${token}` }, method);
    t.equal(res.status, 404, `${method} ${path}`);
    t.match(res.headers.get('content-type'), /^application\/json/);
    t.same(await res.json(), { error: 'E_NOT_FOUND', message: 'no such route; see docs/ADMIN.md' });
  }
  t.equal(((await get('/status')).headers.get('x-powered-by')), null, 'no framework banner');
});

interface Status {
  arrayId: string;
  geometry: Record<string, number>;
  sizeBytes: number;
  keyErasure: boolean;
  membershipVersion: string;
  journalVersion: string;
  health: string;
  state: string;
  deadSlots: number;
  rebuildingSlots: number;
  slots: { slot: number; state: string; instanceId: string; endpoint: string; deadReason?: string; deadAt?: string }[];
  unreachableSlots: number[];
  counters: Record<string, number>;
  events: { kind: string; slot?: number; reason: string }[];
  nbd: { port: number };
}

async function status(get: (p: string) => Promise<Response>): Promise<Status> {
  const res = await get('/status');
  if (res.status !== 200) throw new Error(`/status answered ${res.status}`);
  return (await res.json()) as Status;
}

t.test('/status: geometry, slots, health from ok to degraded to failed', async (t) => {
  const { cluster, disk, get } = await setup(t);
  const s = await status(get);
  t.match(s.arrayId, /^[0-9a-f]{32}$/);
  t.equal(s.arrayId, disk.state.arrayId.toString('hex'));
  const g = disk.state.geometry;
  t.same(s.geometry, { k: 4, m: 2, n: 6, nodeSectors: g.nodeSectors, journalPieces: 32, dataRows: g.dataRows, tableRows: g.tableRows });
  t.equal(s.sizeBytes, disk.sizeBytes);
  t.equal(s.keyErasure, false);
  t.equal(s.membershipVersion, '1');
  t.equal(s.health, 'ok');
  t.equal(s.state, 'optimal');
  t.equal(s.deadSlots, 0);
  t.equal(s.rebuildingSlots, 0);
  t.same(
    s.slots,
    disk.state.handles.map((h, i) => ({ slot: i, state: 'live', instanceId: h.instanceId!.toString('hex'), endpoint: endpoints[i], inDoubt: false, sessionFailures: 0, repaired: 0 })),
    'each slot: live, the attested instance id of its node, its endpoint, not in doubt',
  );
  t.equal(new Set(s.slots.map((x) => x.instanceId)).size, 6, 'six distinct instances');
  t.same(s.nbd, { port: 1234 }, 'extra status merged');
  t.same(Object.keys(s.counters).sort(), Object.keys(disk.state.counters).sort(), 'every counter reported');

  await disk.writeSectors(0, randomBytes(8 * S));
  const written = await status(get);
  t.equal(written.journalVersion, '1', 'one journal entry committed');
  t.equal(written.counters.writes, 1);
  t.equal(written.counters.bytesWritten, 8 * S);

  cluster.kill(2);
  t.equal((await status(get)).health, 'ok', 'a node death is seen only when the array next talks to it');
  await disk.writeSectors(8, randomBytes(4 * S));
  const degraded = await status(get);
  t.equal(degraded.health, 'degraded');
  t.equal(degraded.state, 'degraded');
  t.equal(degraded.deadSlots, 1);
  t.same(degraded.slots.map((x) => x.state), ['live', 'live', 'dead', 'live', 'live', 'live']);
  t.equal(degraded.slots[2].instanceId, s.slots[2].instanceId, 'the dead slot keeps the identity it was pinned to');
  t.equal(degraded.membershipVersion, '2', 'the death was recorded as a new membership version');
  t.equal(degraded.counters.nodeFailures, 1);
  t.match(degraded.slots[2].deadReason ?? '', /slot 2 unreachable/, 'the dead slot says why');
  t.ok(Date.parse(degraded.slots[2].deadAt ?? '') > 0, 'and when');
  t.ok(
    degraded.events.some((e) => e.kind === 'slot-dead' && e.slot === 2),
    'the death is an event',
  );

  cluster.kill(4);
  cluster.kill(5);
  await disk.readSectors(0, 12).catch(() => undefined);
  await t.rejects(disk.writeSectors(0, randomBytes(S)), { code: 'E_UNAVAILABLE' }, 'beyond m unreachable, writes are refused, retryably');
  const unavailable = await status(get);
  t.equal(unavailable.health, 'unavailable', 'more than m dead or unreachable');
  t.equal(unavailable.deadSlots, 1, 'no slot marked dead for what the manager cannot reach');
  t.same(unavailable.unreachableSlots, [4, 5]);
  t.ok(unavailable.events.some((e) => e.kind === 'unavailable'), 'the stop is an event');
});

/** One parsed sample line: name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const nameRe = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const sampleRe = new RegExp(`^(${nameRe})(?:\\{(.*)\\})? (\\S+)$`);
const labelRe = new RegExp(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\.)*)"$`);

/** Parses Prometheus text format 0.0.4 strictly enough to catch malformed output; throws naming the bad line. */
function parseMetrics(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) {
      if (!new RegExp(`^# HELP ${nameRe} \\S`).test(line)) throw new Error(`bad HELP: ${line}`);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const m = new RegExp(`^# TYPE (${nameRe}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
      if (!m) throw new Error(`bad TYPE: ${line}`);
      if (types.has(m[1])) throw new Error(`TYPE repeated: ${line}`);
      types.set(m[1], m[2]);
      continue;
    }
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`bad sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of m[2] ? m[2].split(',').filter((p) => p !== '') : []) {
      const l = labelRe.exec(pair);
      if (!l) throw new Error(`bad label ${pair} in: ${line}`);
      labels[l[1]] = l[2];
    }
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    if (Number.isNaN(value)) throw new Error(`bad value in: ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return { types, samples };
}

/** The metric family a sample belongs to (histogram samples carry a suffix). */
function family(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return types.get(base) === 'histogram' ? base : undefined;
}

async function metrics(t: Test, get: (p: string) => Promise<Response>) {
  const res = await get('/metrics');
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const parsed = parseMetrics(await res.text());
  const value = (name: string, labels: Record<string, string> = {}) =>
    parsed.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  return { ...parsed, value };
}

t.test('the metrics parser refuses malformed lines', async (t) => {
  for (const bad of ['x{a="1" 1', 'x{a=1} 1', 'x{a="1"} one', '# TYPE x countr', '1x 2', 'x 1 2 3']) {
    t.throws(() => parseMetrics(`${bad}\n`), `refuses "${bad}"`);
  }
  t.throws(() => parseMetrics('x 1'), /newline/);
  t.same(parseMetrics('# TYPE x counter\nx{a="b",c="d"} 3\n').samples, [{ name: 'x', labels: { a: 'b', c: 'd' }, value: 3 }]);
});

t.test('/metrics: Prometheus text; counters and histograms move with I/O', async (t) => {
  const { cluster, disk, get } = await setup(t);
  const m0 = await metrics(t, get);
  for (const s of m0.samples) {
    const f = family(s.name, m0.types);
    t.ok(f, `${s.name} has a TYPE`);
    if (m0.types.get(f!) === 'counter') t.match(s.name, /_total$/, `counter ${s.name} ends in _total`);
  }
  for (const name of Object.keys(disk.state.counters)) {
    const metric = `teearray_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`;
    t.equal(m0.types.get(metric), 'counter', `${metric} is a counter`);
  }
  t.equal(m0.value('teearray_nbd_connections_total'), 7, 'extra counters exported');
  t.equal(m0.value('teearray_slots'), 6);
  t.equal(m0.value('teearray_degraded'), 0);
  t.equal(m0.value('teearray_size_bytes'), disk.sizeBytes);
  t.equal(m0.types.get('teearray_write_seconds'), 'histogram');

  const data = randomBytes(16 * S);
  await Promise.all([disk.writeSectors(0, data.subarray(0, 8 * S)), disk.writeSectors(100, data.subarray(8 * S))]);
  t.same(await disk.readSectors(0, 8), data.subarray(0, 8 * S));
  const m1 = await metrics(t, get);
  t.equal(m1.value('teearray_writes_total'), 2, 'writes counted');
  t.equal(m1.value('teearray_bytes_written_total'), 16 * S);
  t.equal(m1.value('teearray_reads_total'), 1);
  t.equal(m1.value('teearray_bytes_read_total'), 8 * S);
  t.ok(m1.value('teearray_bytes_sent_to_nodes_total')! > m0.value('teearray_bytes_sent_to_nodes_total')!, 'bytes sent to nodes increase');
  t.ok(m1.value('teearray_journal_entries_total')! >= 1);
  t.ok(m1.value('teearray_journal_version')! >= 1);
  for (const s of m0.samples) {
    if (m0.types.get(family(s.name, m0.types)!) !== 'counter') continue;
    t.ok(m1.value(s.name, s.labels)! >= s.value, `${s.name} never decreases`);
  }

  for (const op of ['read', 'write']) {
    const name = `teearray_${op}_seconds`;
    const buckets = m1.samples.filter((s) => s.name === `${name}_bucket`);
    t.same(
      buckets.map((b) => b.labels.le),
      [...latencyBucketsSeconds.map(String), '+Inf'],
      `${op}: one bucket per bound, in order, ending at +Inf`,
    );
    for (let i = 1; i < buckets.length; i++) t.ok(buckets[i].value >= buckets[i - 1].value, `${op}: buckets cumulative at le=${buckets[i].labels.le}`);
    const count = m1.value(`${name}_count`)!;
    t.equal(buckets[buckets.length - 1].value, count, `${op}: +Inf bucket equals the count`);
    t.equal(count, op === 'read' ? 1 : 2, `${op}: one observation per request`);
    t.ok(m1.value(`${name}_sum`)! > 0, `${op}: sum of latencies`);
  }

  cluster.kill(0);
  await disk.writeSectors(0, randomBytes(S));
  const m2 = await metrics(t, get);
  t.equal(m2.value('teearray_degraded'), 1, 'degraded gauge set');
  t.equal(m2.value('teearray_dead_slots'), 1);
  t.equal(m2.value('teearray_failed'), 0);
  t.equal(m2.value('teearray_node_failures_total'), 1);
});
