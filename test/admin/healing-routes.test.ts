// The admin API's healing routes (array-manager/http/admin-api.ts,
// docs/ADMIN.md) over a real listening server: POST /slots/:slot/replace,
// POST /scrub and POST /rate need the token, read at most 4096 bytes of JSON
// and check every field before the healer sees anything; the healer's typed
// errors keep their code and get the documented HTTP status; GET /status and
// /metrics report the replacement, the rebuild (stepped by hand here, so
// every figure is deterministic), the scrub and the rate.
import t, { type Test } from 'tap';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createArray } from '../../array-manager/array-create.ts';
import { ArrayError } from '../../array-manager/array-state.ts';
import { stripes } from '../../array-manager/geometry.ts';
import { Healer, type HealerStatus } from '../../array-manager/healing/healer.ts';
import { httpStatusOf, requestBytesMax, startAdminApi } from '../../array-manager/http/admin-api.ts';
import type { HealingView } from '../../array-manager/http/array-status.ts';
import type { HealingControl } from '../../array-manager/http/admin-api.ts';
import type { NodeConnector } from '../../array-manager/node-handle.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';

const S = 4096;
const token = 'admin-token-' + randomBytes(12).toString('hex');
const auth = { authorization: `Bearer ${token}` };
const json = { ...auth, 'content-type': 'application/json' };

/** The simulator's spares answer at sim:spare:N; the API takes ws:// endpoints, so ws://spare-N:7000 stands for them. */
function wsConnector(cluster: SimCluster): NodeConnector {
  const inner = cluster.connector();
  const sim = (endpoint: string) => endpoint.replace(/^ws:\/\/spare-(\d+):7000$/, 'sim:spare:$1');
  return { ...inner, connectEndpoint: (e) => inner.connectEndpoint!(sim(e)), assign: (slot, e) => inner.assign!(slot, sim(e)) };
}
const wsSpare = (cluster: SimCluster, sectorCount?: number) => cluster.addSpare(sectorCount).replace(/^sim:spare:(\d+)$/, 'ws://spare-$1:7000');

interface Api {
  port: number;
  call(method: string, path: string, body?: string, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }>;
}

async function serve(t: Test, opts: Parameters<typeof startAdminApi>[0]): Promise<Api> {
  const api = await startAdminApi(opts);
  t.teardown(() => api.close());
  return {
    port: api.port,
    async call(method, path, body, headers = json) {
      const res = await fetch(`http://127.0.0.1:${api.port}${path}`, { method, headers, body, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
    },
  };
}

/** A k=2 m=1 array of in-process nodes, with a healer that is never started: the test steps it. */
async function setup(t: Test) {
  const cluster = new SimCluster(3, 400);
  const disk = await createArray({ connector: wsConnector(cluster), dataKey: dataKey(), k: 2, m: 1, journalPieces: 16 });
  t.teardown(() => disk.close());
  const healer = new Healer(disk, { rebuild: { stripesPerBatch: 32, checkpointMs: 0 }, scrub: { stripesPerBatch: 64 }, autoReplace: false });
  const view = (): HealingView => ({ status: healer.status(), autoReplace: false });
  const api = await serve(t, { disk, token, endpoints: ['ws://n0:7000', 'ws://n1:7000', 'ws://n2:7000'], healer, healing: view });
  return { cluster, disk, healer, api };
}

/** A healer whose replace throws `error`, for the status mapping. */
function stubHealer(error: unknown): HealingControl & { calls: unknown[] } {
  const calls: unknown[] = [];
  const status: HealerStatus = {
    rebuild: { doneRows: 0, totalRows: 0, bytesPerSecond: 0, slots: [], rate: { minBytesPerSecond: 1, maxBytesPerSecond: 0 }, currentLimit: 0 },
    scrub: { running: false },
    counters: { rebuildBytes: 0, rebuildBatches: 0, scrubBytes: 0, scrubsFinished: 0 },
    spares: [],
    unreachableSpares: [],
    rejectedSpares: [],
  };
  return {
    calls,
    replace: async (req) => {
      calls.push(req);
      throw error;
    },
    scrub: () => {
      throw error;
    },
    setRate: () => {
      throw error;
    },
    status: () => status,
  };
}

/** Sends a body of `bytes` bytes chunked, with no Content-Length, and returns the status. */
function chunked(port: number, path: string, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { ...json, 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    for (let sent = 0; sent < bytes; sent += 1024) req.write('x'.repeat(Math.min(1024, bytes - sent)));
    req.end();
  });
}

t.test('the POST routes need the token and exist only with a healer', async (t) => {
  const { api } = await setup(t);
  for (const path of ['/slots/0/replace', '/scrub', '/rate']) {
    const res = await api.call('POST', path, '{}', { 'content-type': 'application/json' });
    t.equal(res.status, 401, `${path} without the token`);
    t.same(res.body, { error: 'E_UNAUTHORIZED', message: 'missing or wrong bearer token' });
    t.equal((await api.call('POST', path, '{}', { ...json, authorization: `Bearer ${token}x` })).status, 401, `${path} with a wrong token`);
  }
  for (const [method, path] of [['GET', '/scrub'], ['GET', '/slots/0/replace'], ['PUT', '/rate'], ['POST', '/slots/0'], ['POST', '/slots/0/replace/x']]) {
    t.equal((await api.call(method, path, method === 'GET' ? undefined : '{}')).status, 404, `${method} ${path}: no such route`);
  }
  const cluster = new SimCluster(3, 300);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 2, m: 1, journalPieces: 8 });
  t.teardown(() => disk.close());
  const bare = await serve(t, { disk, token });
  for (const path of ['/slots/0/replace', '/scrub', '/rate']) t.equal((await bare.call('POST', path, '{}')).status, 404, `${path} without a healer: 404`);
  const s = (await bare.call('GET', '/status')).body;
  t.notOk('rebuild' in s || 'scrub' in s || 'spares' in s, 'and /status has no healing sections');
  t.equal(s.state, 'optimal');
});

t.test('bodies: bounded, JSON only, every field checked before the healer is asked', async (t) => {
  const stub = stubHealer(new Error('the healer must not be reached'));
  const cluster = new SimCluster(3, 300);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 2, m: 1, journalPieces: 8 });
  t.teardown(() => disk.close());
  const api = await serve(t, { disk, token, healer: stub });
  const big = JSON.stringify({ endpoint: 'ws://a:1', pad: 'x'.repeat(requestBytesMax) });
  const refusals: [string, string, string | undefined, Record<string, string>, number, string, RegExp][] = [
    ['body over the bound', '/slots/0/replace', big, json, 413, 'E_BODY_TOO_LARGE', /at most 4096 bytes/],
    ['text/plain', '/slots/0/replace', '{"endpoint":"ws://a:1"}', { ...auth, 'content-type': 'text/plain' }, 415, 'E_UNSUPPORTED_MEDIA_TYPE', /application\/json/],
    ['no content type', '/rate', '{"minBytesPerSecond":1}', auth, 415, 'E_UNSUPPORTED_MEDIA_TYPE', /application\/json/],
    ['not JSON', '/slots/0/replace', '{"endpoint":', json, 400, 'E_BAD_REQUEST', /not JSON/],
    ['a JSON array', '/slots/0/replace', '[]', json, 400, 'E_BAD_REQUEST', /must be a JSON object/],
    ['JSON null', '/rate', 'null', json, 400, 'E_BAD_REQUEST', /must be a JSON object/],
    ['no body', '/slots/0/replace', undefined, auth, 400, 'E_BAD_REQUEST', /endpoint must be ws:\/\/host:port/],
    ['endpoint missing', '/slots/0/replace', '{}', json, 400, 'E_BAD_REQUEST', /endpoint must be/],
    ['endpoint http', '/slots/0/replace', '{"endpoint":"http://a:1"}', json, 400, 'E_BAD_REQUEST', /endpoint must be/],
    ['endpoint with a path', '/slots/0/replace', '{"endpoint":"ws://a:1/x"}', json, 400, 'E_BAD_REQUEST', /endpoint must be/],
    ['endpoint a number', '/slots/0/replace', '{"endpoint":7000}', json, 400, 'E_BAD_REQUEST', /endpoint must be/],
    ['endpoint too long', '/slots/0/replace', JSON.stringify({ endpoint: `ws://${'h'.repeat(1100)}:1` }), json, 400, 'E_BAD_REQUEST', /endpoint must be/],
    ['force not boolean', '/slots/0/replace', '{"endpoint":"ws://a:1","force":"yes"}', json, 400, 'E_BAD_REQUEST', /force must be true or false/],
    ['unknown field', '/slots/0/replace', '{"endpoint":"ws://a:1","slot":1}', json, 400, 'E_BAD_REQUEST', /slot is not a known field/],
    ['slot not a number', '/slots/abc/replace', '{"endpoint":"ws://a:1"}', json, 400, 'E_BAD_REQUEST', /slot must be a slot number/],
    ['slot negative', '/slots/-1/replace', '{"endpoint":"ws://a:1"}', json, 400, 'E_BAD_REQUEST', /slot must be a slot number/],
    ['slot fractional', '/slots/1.5/replace', '{"endpoint":"ws://a:1"}', json, 400, 'E_BAD_REQUEST', /slot must be a slot number/],
    ['slot of four digits', '/slots/1000/replace', '{"endpoint":"ws://a:1"}', json, 400, 'E_BAD_REQUEST', /slot must be a slot number/],
    ['slot out of range', '/slots/3/replace', '{"endpoint":"ws://a:1"}', json, 404, 'E_REPLACE_SLOT', /no slot 3: the array has slots 0..2/],
    ['scrub with a field', '/scrub', '{"fast":true}', json, 400, 'E_BAD_REQUEST', /fast is not a known field/],
    ['rate with neither limit', '/rate', '{}', json, 400, 'E_BAD_REQUEST', /give minBytesPerSecond, maxBytesPerSecond or both/],
    ['rate min zero', '/rate', '{"minBytesPerSecond":0}', json, 400, 'E_BAD_REQUEST', /minBytesPerSecond must be an integer in 1\.\./],
    ['rate max negative', '/rate', '{"maxBytesPerSecond":-1}', json, 400, 'E_BAD_REQUEST', /maxBytesPerSecond must be an integer in 0\.\./],
    ['rate as a string', '/rate', '{"minBytesPerSecond":"10"}', json, 400, 'E_BAD_REQUEST', /minBytesPerSecond must be an integer/],
    ['rate fractional', '/rate', '{"minBytesPerSecond":1.5}', json, 400, 'E_BAD_REQUEST', /minBytesPerSecond must be an integer/],
    ['rate above 1 TiB/s', '/rate', `{"maxBytesPerSecond":${2 ** 40 + 1}}`, json, 400, 'E_BAD_REQUEST', /maxBytesPerSecond must be an integer in 0\.\.1099511627776/],
    ['rate unknown field', '/rate', '{"minBytesPerSecond":1,"burst":2}', json, 400, 'E_BAD_REQUEST', /burst is not a known field/],
  ];
  for (const [what, path, body, headers, status, code, message] of refusals) {
    const res = await api.call('POST', path, body, headers);
    t.equal(res.status, status, `${what}: ${status}`);
    t.equal(res.body?.error, code, `${what}: ${code}`);
    t.match(res.body?.message, message, what);
  }
  t.equal(await chunked(api.port, '/slots/0/replace', requestBytesMax + 1), 413, 'a chunked body over the bound, with no Content-Length');
  t.equal(await chunked(api.port, '/rate', 64 * 1024), 413, 'a much larger one');
  t.same(stub.calls, [], 'the healer was never asked');
  t.equal((await api.call('GET', '/status', undefined, auth)).status, 200, 'the server still answers');
});

t.test("the healer's typed errors keep their code and get their HTTP status", async (t) => {
  const cluster = new SimCluster(3, 300);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 2, m: 1, journalPieces: 8 });
  t.teardown(() => disk.close());
  const expected: [string, number][] = [
    ['E_REPLACE_SLOT', 404],
    ['E_REPLACE_LIVE', 409],
    ['E_REPLACE_IN_USE', 409],
    ['E_REPLACE_TOO_SMALL', 422],
    ['E_REPLACE_UNSUPPORTED', 501],
    ['E_REPLACE_ATTESTATION', 502],
    ['E_UNAVAILABLE', 503],
    ['E_REPLACE_UNREACHABLE', 503],
    ['E_TOO_MANY_DEAD', 503],
    ['E_RATE', 400],
  ];
  for (const [code, status] of expected) {
    t.equal(httpStatusOf[code], status, `${code} is documented as ${status}`);
    const api = await serve(t, { disk, token, healer: stubHealer(new ArrayError(code, `what ${code} says`)) });
    const res = await api.call('POST', '/slots/1/replace', '{"endpoint":"ws://a:1","force":true}');
    t.equal(res.status, status, `${code} → ${status}`);
    t.same(res.body, { error: code, message: `what ${code} says` }, `${code}: the code, and the message without it`);
    t.equal(res.headers.get('retry-after'), code === 'E_UNAVAILABLE' || code === 'E_REPLACE_UNREACHABLE' ? '1' : null, `${code}: Retry-After only when retrying helps`);
  }
  const other = await serve(t, { disk, token, healer: stubHealer(Object.assign(new Error('E_SOMETHING: odd'), { code: 'E_SOMETHING' })) });
  t.same((await other.call('POST', '/scrub')).body, { error: 'E_SOMETHING', message: 'odd' }, 'an unmapped code: 500 with its code');
  t.equal((await other.call('POST', '/scrub')).status, 500);
  const plain = await serve(t, { disk, token, healer: stubHealer(new Error('boom')) });
  const res = await plain.call('POST', '/rate', '{"minBytesPerSecond":5}');
  t.equal(res.status, 500);
  t.same(res.body, { error: 'E_INTERNAL', message: 'boom' }, 'an untyped error: 500 E_INTERNAL');
});

t.test('replace through the API, refusals from the real healer, then the rebuild in /status and /metrics', async (t) => {
  const { cluster, disk, healer, api } = await setup(t);
  const data = randomBytes(64 * S);
  await disk.writeSectors(0, data);
  const total = stripes(disk.state.geometry);

  const live = await api.call('POST', '/slots/1/replace', JSON.stringify({ endpoint: wsSpare(cluster) }));
  t.equal(live.status, 409);
  t.equal(live.body.error, 'E_REPLACE_LIVE', 'a live slot needs force');
  cluster.kill(1);
  await disk.state.markDead([1], 'test: node lost');
  const dead = (await api.call('GET', '/status', undefined, auth)).body;
  t.equal(dead.state, 'degraded');
  t.equal(dead.slots[1].state, 'dead');
  const nowhere = await api.call('POST', '/slots/1/replace', '{"endpoint":"ws://nowhere:1"}');
  t.equal(nowhere.status, 503);
  t.equal(nowhere.body.error, 'E_REPLACE_UNREACHABLE', 'nothing answers there: retry, no verdict on the node');
  const small = await api.call('POST', '/slots/1/replace', JSON.stringify({ endpoint: wsSpare(cluster, 100) }));
  t.equal(small.status, 422);
  t.equal(small.body.error, 'E_REPLACE_TOO_SMALL');

  const spare = wsSpare(cluster);
  const ok = await api.call('POST', '/slots/1/replace', JSON.stringify({ endpoint: spare }));
  t.equal(ok.status, 200, JSON.stringify(ok.body));
  t.same(Object.keys(ok.body).sort(), ['endpoint', 'instanceId', 'slot', 'state']);
  t.match(ok.body, { slot: 1, endpoint: spare, state: 'rebuilding' });
  t.match(ok.body.instanceId, /^[0-9a-f]{32}$/);

  const rebuilding = (await api.call('GET', '/status', undefined, auth)).body;
  t.equal(rebuilding.state, 'rebuilding', 'no slot dead, one rebuilding');
  t.equal(rebuilding.health, 'ok');
  t.equal(rebuilding.rebuildingSlots, 1);
  t.same(rebuilding.slots.map((s: { state: string }) => s.state), ['live', 'rebuilding', 'live']);
  t.match(rebuilding.slots[1], { instanceId: ok.body.instanceId, cursor: 0, stripes: total });
  t.match(rebuilding.rebuild, { active: true, doneRows: 0, totalRows: total, bytesPerSecond: 0, bytesRebuilt: 0 });
  t.ok(rebuilding.events.some((e: { kind: string; slot: number }) => e.kind === 'slot-replaced' && e.slot === 1), 'the replacement is an event');

  await healer.rebuilder.step(); // flushes, then the first batch
  await healer.rebuilder.step();
  const partway = (await api.call('GET', '/status', undefined, auth)).body;
  t.ok(partway.rebuild.doneRows > 0 && partway.rebuild.doneRows < total, `partway: ${partway.rebuild.doneRows}/${total}`);
  t.equal(partway.slots[1].cursor, partway.rebuild.doneRows);
  t.ok(partway.rebuild.bytesRebuilt >= partway.rebuild.doneRows * S, 'bytes rebuilt counted');
  const metrics = await (await fetch(`http://127.0.0.1:${api.port}/metrics`, { headers: auth })).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
  t.equal(value('teearray_rebuild_rows_done'), partway.rebuild.doneRows);
  t.equal(value('teearray_rebuild_rows_total'), total);
  t.equal(value('teearray_rebuild_bytes_total'), partway.rebuild.bytesRebuilt);
  t.equal(value('teearray_rebuilding_slots'), 1);
  t.match(metrics, /^# TYPE teearray_rebuild_bytes_total counter$/m);
  t.match(metrics, /^# TYPE teearray_rebuild_bytes_per_second gauge$/m);
  t.match(metrics, /^teearray_repaired_shards_total\{slot="1"\} 0$/m, 'repairs per slot');

  await healer.rebuilder.run();
  const done = (await api.call('GET', '/status', undefined, auth)).body;
  t.equal(done.state, 'optimal');
  t.same(done.slots.map((s: { state: string }) => s.state), ['live', 'live', 'live']);
  t.equal(done.slots[1].instanceId, ok.body.instanceId, 'the new node holds the slot');
  t.match(done.rebuild, { active: false, doneRows: 0, totalRows: 0 });
  t.ok(done.events.some((e: { kind: string; slot: number }) => e.kind === 'rebuild-done' && e.slot === 1));
  cluster.kill(0);
  t.same(await disk.readSectors(0, 64), data, 'the rebuilt slot serves the data with another node lost');
});

t.test('scrub and rate through the API', async (t) => {
  const { disk, healer, api } = await setup(t);
  await disk.writeSectors(0, randomBytes(32 * S));
  const total = stripes(disk.state.geometry);
  const before = (await api.call('GET', '/status', undefined, auth)).body;
  t.same(before.scrub, { running: false, rowsChecked: 0, totalRows: total, bytesPerSecond: 0, repairedBySlot: {}, repaired: 0, unrecoverableRows: 0, unrecoverable: [] }, 'no scrub yet: zero counts');

  const started = await api.call('POST', '/scrub', undefined, auth);
  t.equal(started.status, 202);
  t.equal(started.body.started, true);
  t.match(started.body.scrub, { running: true, rowsChecked: 0, totalRows: total });
  const again = await api.call('POST', '/scrub', '{}');
  t.equal(again.status, 202);
  t.equal(again.body.started, false, 'a second request while one runs starts nothing');
  t.equal(again.body.scrub.startedAt, started.body.scrub.startedAt);
  while (healer.scrubber.running) await healer.scrubber.step();
  const scrubbed = (await api.call('GET', '/status', undefined, auth)).body.scrub;
  t.match(scrubbed, { running: false, rowsChecked: total, totalRows: total, repaired: 0, unrecoverableRows: 0 });
  t.ok(Date.parse(scrubbed.finishedAt) >= Date.parse(scrubbed.startedAt), 'finished after it started');
  const metrics = await (await fetch(`http://127.0.0.1:${api.port}/metrics`, { headers: auth })).text();
  t.match(metrics, new RegExp(`^teearray_scrub_rows_checked ${total}$`, 'm'));
  t.match(metrics, /^teearray_scrubs_finished_total 1$/m);
  t.match(metrics, /^teearray_scrub_unrecoverable_stripes 0$/m);
  t.match(metrics, /^teearray_scrub_repaired_shards\{slot="0"\} 0$/m);
  t.match(metrics, /^teearray_scrub_bytes_total [1-9]\d*$/m);

  const set = await api.call('POST', '/rate', '{"minBytesPerSecond":2000000,"maxBytesPerSecond":50000000}');
  t.equal(set.status, 200);
  t.same(set.body, { rate: { minBytesPerSecond: 2_000_000, maxBytesPerSecond: 50_000_000 } });
  t.same(healer.throttle.rate, { minBytesPerSecond: 2_000_000, maxBytesPerSecond: 50_000_000 }, 'the running healer took it');
  const minOnly = await api.call('POST', '/rate', '{"minBytesPerSecond":3000000}');
  t.same(minOnly.body.rate, { minBytesPerSecond: 3_000_000, maxBytesPerSecond: 50_000_000 }, 'an omitted limit is kept');
  const below = await api.call('POST', '/rate', '{"maxBytesPerSecond":1000}');
  t.equal(below.status, 400);
  t.equal(below.body.error, 'E_RATE', 'a maximum below the minimum: the throttle refuses it');
  t.same(healer.throttle.rate, { minBytesPerSecond: 3_000_000, maxBytesPerSecond: 50_000_000 }, 'a refused rate changes nothing');
  t.same((await api.call('POST', '/rate', '{"maxBytesPerSecond":0}')).body.rate.maxBytesPerSecond, 0, '0 = unlimited');
  const status = (await api.call('GET', '/status', undefined, auth)).body;
  t.same(status.rebuild.rate, { minBytesPerSecond: 3_000_000, maxBytesPerSecond: 0 }, '/status reports the rate in force');
  t.same(status.spares, { available: [], rejected: [], unreachable: [], autoReplace: false });
});
