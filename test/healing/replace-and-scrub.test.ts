// The checks a replacement must pass (nothing changes when one fails), the
// membership record's formats, hot spares taking a dead slot by themselves,
// and scrub finding and repairing every corruption that m allows.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createArray } from '../../array-manager/array-create.ts';
import { rowSector, slotOfShard, stripes } from '../../array-manager/geometry.ts';
import { SlotState, decodeMembership, encodeMembership, type Membership } from '../../array-manager/membership.ts';
import { tagRecord } from '../../array-manager/record-mac.ts';
import { NodeError, Op } from '../../array-manager/node-client/frame-codec.ts';
import { Healer } from '../../array-manager/healing/healer.ts';
import type { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { Scrubber } from '../../array-manager/healing/scrub.ts';
import type { ArrayEvent } from '../../array-manager/array-state.ts';
import type { VirtualDisk } from '../../array-manager/virtual-disk.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';

const S = 4096;

/** `ownEndpoints`: the connector also names each slot's own endpoint (a node restarted there answers at it). */
async function filled(cluster: SimCluster, k: number, m: number, sectors: number, ownEndpoints = false): Promise<{ disk: VirtualDisk; expect: Buffer }> {
  const connector = ownEndpoints ? { ...cluster.connector(), endpointOf: (slot: number) => cluster.endpointOf(slot) } : cluster.connector();
  const disk = await createArray({ connector, dataKey: dataKey(), k, m, journalPieces: 24 });
  const expect = randomBytes(Math.min(sectors, disk.sectors) * S);
  for (let at = 0; at * S < expect.length; at += 64) await disk.writeSectors(at, expect.subarray(at * S, Math.min(expect.length, (at + 64) * S)));
  return { disk, expect };
}

/** Routes the array's connections to nodes in no slot (replacements, spares) through `via`, which may call the real one. */
function interceptEndpoints(disk: VirtualDisk, via: (endpoint: string, open: (endpoint: string) => Promise<NodeClient>) => Promise<NodeClient>): void {
  const connector = disk.state.handles[0].connector;
  const open = connector.connectEndpoint!.bind(connector);
  connector.connectEndpoint = (endpoint) => via(endpoint, open);
}

/** A filled 2+1 array whose slot 1 is dead, and a healer not started. */
async function slotOneDead(): Promise<{ cluster: SimCluster; disk: VirtualDisk; healer: Healer }> {
  const cluster = new SimCluster(3, 300);
  const { disk } = await filled(cluster, 2, 1, 20);
  cluster.kill(1);
  await disk.state.markDead([1], 'test');
  return { cluster, disk, healer: new Healer(disk) };
}

t.test('a replacement that fails a check changes nothing, with a typed error', async (t) => {
  const cluster = new SimCluster(3, 300);
  const { disk } = await filled(cluster, 2, 1, 100);
  const healer = new Healer(disk);
  const version = () => disk.state.membership.version;
  const before = version();
  await t.rejects(healer.replace({ slot: 1, endpoint: cluster.addSpare() }), { code: 'E_REPLACE_LIVE' }, 'a live slot needs --force');
  await t.rejects(healer.replace({ slot: 7, endpoint: cluster.addSpare() }), { code: 'E_REPLACE_SLOT' }, 'no such slot');
  await t.rejects(healer.replace({ slot: 1.5, endpoint: 'x' }), { code: 'E_REPLACE_SLOT' });
  await t.rejects(healer.replace({ slot: 0, endpoint: '' }), { code: 'E_REPLACE_SLOT' }, 'empty endpoint');
  cluster.kill(1);
  await disk.state.markDead([1], 'test');
  const afterDeath = version();
  t.ok(afterDeath > before);
  await t.rejects(healer.replace({ slot: 1, endpoint: 'sim:spare:nowhere' }), { code: 'E_REPLACE_UNREACHABLE' }, 'nothing answers: retryable, no verdict');
  await t.rejects(healer.replace({ slot: 1, endpoint: cluster.addSpare(200) }), { code: 'E_REPLACE_TOO_SMALL' }, 'too small for the geometry');
  // A node that holds a membership record is, or was, in an array.
  const used = cluster.addSpare();
  const session = await cluster.connector().connectEndpoint!(used);
  await session.batch([{ op: Op.deathWrite, version: 3n, record: randomBytes(200) }]);
  session.close();
  await t.rejects(healer.replace({ slot: 1, endpoint: used }), { code: 'E_REPLACE_IN_USE' }, 'a node of another array');
  t.equal(version(), afterDeath, 'no membership change for any refused replacement');
  t.equal(disk.state.membership.slots[1].state, SlotState.dead);
  await healer.replace({ slot: 1, endpoint: cluster.addSpare() });
  t.equal(disk.state.membership.slots[1].state, SlotState.rebuilding, 'a good node is taken');
  await disk.close();
});

t.test("a member offered as a replacement is refused without fencing the array's session to it", async (t) => {
  const { cluster, disk, healer } = await slotOneDead();
  const session = await disk.state.handles[0].session();
  // Slot 0's node, offered by mistake at another endpoint.
  cluster.spares.set('sim:member-0', cluster.nodes[0]);
  await t.rejects(healer.replace({ slot: 1, endpoint: 'sim:member-0' }), { code: 'E_REPLACE_IN_USE' });
  await disk.writeSectors(0, randomBytes(4 * S));
  t.notOk(session.closed, "the array's session to the node still serves (the check's open frame fenced nothing)");
  t.equal(await disk.state.handles[0].session(), session, 'and is still the one the slot uses');
  await disk.close();
});

t.test('a node another array adopts while it is checked is refused, its journal area untouched', async (t) => {
  const { cluster, disk, healer } = await slotOneDead();
  const spare = cluster.addSpare();
  const core = cluster.spares.get(spare)!;
  // Another array's manager, given the same node by mistake, has a session to it open already ...
  const other = await cluster.connector().connectEndpoint!(spare);
  interceptEndpoints(disk, async (endpoint, open) => {
    const client = await open(endpoint);
    // ... and adopts the node right after this check's open frame read it fresh: a record, then its journal.
    await other.batch([{ op: Op.deathWrite, version: 3n, record: randomBytes(200) }]);
    await other.batch([{ op: Op.write, sector: 0, count: 1, data: Buffer.alloc(S, 7) }]);
    return client;
  });
  await t.rejects(healer.replace({ slot: 1, endpoint: spare }), { code: 'E_REPLACE_IN_USE' }, 'the record read again once the session fences');
  t.ok(core.store.view(0, 1)[0].equals(Buffer.alloc(S, 7)), "the other array's journal sector was not trimmed");
  t.equal(disk.state.membership.slots[1].state, SlotState.dead, 'nothing changed here');
  other.close();
  await disk.close();
});

t.test('--force marks a live slot dead first, then replaces it', async (t) => {
  const cluster = new SimCluster(3, 300);
  const { disk, expect } = await filled(cluster, 2, 1, 200);
  const healer = new Healer(disk);
  await healer.replace({ slot: 0, endpoint: cluster.addSpare(), force: true });
  t.equal(disk.state.membership.slots[0].state, SlotState.rebuilding);
  await healer.rebuilder.run();
  cluster.kill(1);
  t.same(await disk.readSectors(0, expect.length / S), expect, 'the forced replacement holds the data');
  await disk.close();
});

t.test('membership records: version 1 still reads; version 2 keeps rebuilding slots and cursors', async (t) => {
  const key = randomBytes(32);
  const m: Membership = {
    version: 9n,
    arrayId: randomBytes(16),
    geometry: { k: 2, m: 1, nodeSectors: 300, journalPieces: 8, tableRows: 1, dataRows: 280 },
    keyErasure: true,
    slots: [
      { state: SlotState.live, instanceId: randomBytes(16), cursor: 0 },
      { state: SlotState.rebuilding, instanceId: randomBytes(16), cursor: 77 },
      { state: SlotState.dead, instanceId: randomBytes(16), cursor: 0 },
    ],
  };
  const v2 = encodeMembership(key, m);
  t.same(decodeMembership(key, v2, 9n), m, 'version 2 round trip');
  // Version 1: 17 bytes a slot (state, instance id), no rebuilding state.
  const v1 = Buffer.alloc(64 + 3 * 17 + 32);
  v2.copy(v1, 0, 0, 64);
  v1.write('TEAMEMB1', 0);
  m.slots.forEach((s, i) => {
    v1[64 + i * 17] = s.state === SlotState.rebuilding ? SlotState.live : s.state;
    s.instanceId.copy(v1, 64 + i * 17 + 1);
  });
  tagRecord(key, v1);
  const old = decodeMembership(key, v1, 9n);
  t.same(old.slots.map((s) => [s.state, s.cursor]), [[1, 0], [1, 0], [2, 0]], 'version 1 decodes');
  t.ok(old.slots[1].instanceId.equals(m.slots[1].instanceId));
  v1[64 + 17] = SlotState.rebuilding;
  tagRecord(key, v1);
  t.throws(() => decodeMembership(key, v1, 9n), { code: 'E_MEMBERSHIP_FORMAT' }, 'version 1 has no rebuilding state');
  const bad = Buffer.from(v2);
  bad.writeUInt32BE(281 + 1, 64 + 21 + 17);
  tagRecord(key, bad);
  t.throws(() => decodeMembership(key, bad, 9n), { code: 'E_MEMBERSHIP_FORMAT' }, 'a cursor past the last stripe');
  const liveCursor = Buffer.from(v2);
  liveCursor.writeUInt32BE(5, 64 + 17);
  tagRecord(key, liveCursor);
  t.throws(() => decodeMembership(key, liveCursor, 9n), { code: 'E_MEMBERSHIP_FORMAT' }, 'a cursor on a live slot');
});

t.test('hot spares: a dead slot is replaced and rebuilt without an operator', async (t) => {
  const cluster = new SimCluster(5, 400);
  const { disk, expect } = await filled(cluster, 3, 2, 300);
  const tooSmall = cluster.addSpare(100);
  const good = cluster.addSpare();
  const left = cluster.addSpare();
  const persisted: { slot: number; endpoint: string; spares: string[] }[] = [];
  const healer = new Healer(disk, {
    spares: [tooSmall, good, left],
    rebuild: { stripesPerBatch: 64, checkpointMs: 0 },
    persist: async (change) => void persisted.push(change),
  });
  const events: ArrayEvent[] = [];
  disk.state.listeners.add((e) => events.push(e));
  const done = new Promise<void>((resolve) => disk.state.listeners.add((e) => e.kind === 'rebuild-done' && resolve()));
  healer.start();
  cluster.kill(2);
  await disk.state.markDead([2], 'test: node lost');
  await done;
  t.equal(disk.state.membership.slots[2].state, SlotState.live, 'the spare rebuilt the slot');
  t.same(healer.spares, [left], 'one spare taken, one refused, the last one left');
  t.match(healer.rejectedSpares, [{ endpoint: tooSmall, reason: /E_REPLACE_TOO_SMALL/ }]);
  t.same(persisted.at(-1), { slot: 2, endpoint: good, spares: [left] }, 'the config learns the new endpoint before the membership changes');
  t.same(events.map((e) => e.kind).filter((k) => k !== 'slot-in-doubt' && k !== 'slot-back'), ['slot-dead', 'slot-replaced', 'rebuild-done']);
  await healer.stop();
  cluster.kill(0);
  cluster.kill(4);
  t.same(await disk.readSectors(0, expect.length / S), expect, 'every byte after m more losses');
  await disk.close();
});

t.test('a hot spare whose session is reset while it opens is kept, and takes the slot on the retry', async (t) => {
  const cluster = new SimCluster(5, 400);
  const { disk, expect } = await filled(cluster, 3, 2, 100);
  const spare = cluster.addSpare();
  // The first frame the manager sends a spare (its session's open frame, after the node's HELLO) is reset.
  let resets = 0;
  cluster.faults = { onSend: (slot) => (slot === -1 && resets++ === 0 ? 'reset' : 'deliver') };
  const healer = new Healer(disk, { spares: [spare], retryMs: 10, rebuild: { stripesPerBatch: 64, checkpointMs: 0 } });
  const done = new Promise<void>((resolve) => disk.state.listeners.add((e) => e.kind === 'rebuild-done' && resolve()));
  healer.start();
  cluster.kill(2);
  await disk.state.markDead([2], 'test: node lost');
  let waiting = true;
  const setAside = (async () => {
    while (waiting && healer.rejectedSpares.length === 0) await new Promise((r) => setTimeout(r, 10));
    return 'the spare was set aside';
  })();
  t.equal(await Promise.race([done.then(() => 'rebuilt'), setAside]), 'rebuilt', 'the slot was rebuilt');
  waiting = false;
  t.ok(resets >= 1, 'the spare\'s first session was reset after its HELLO');
  t.same(healer.rejectedSpares, [], 'not set aside: a reset says nothing about the node');
  t.same(healer.spares, [], 'taken');
  t.equal(disk.state.membership.slots[2].state, SlotState.live, 'the spare rebuilt the slot');
  await healer.stop();
  cluster.faults = {};
  t.same(await disk.readSectors(0, expect.length / S), expect);
  await disk.close();
});

t.test('a hot spare that cannot be reached is kept: the next one takes the slot, and it takes a later one when it answers', async (t) => {
  const cluster = new SimCluster(5, 400);
  const { disk, expect } = await filled(cluster, 3, 2, 100);
  // A spare whose host is down for now: nothing answers at its endpoint until it is put back.
  const later = cluster.addSpare();
  const laterNode = cluster.spares.get(later)!;
  cluster.spares.delete(later);
  const good = cluster.addSpare();
  const attempts: string[] = [];
  interceptEndpoints(disk, (endpoint, open) => (attempts.push(endpoint), open(endpoint)));
  const healer = new Healer(disk, { spares: [later, good], retryMs: 10, rebuild: { stripesPerBatch: 64, checkpointMs: 0 } });
  const rebuilt = () => new Promise<void>((resolve) => disk.state.listeners.add((e) => e.kind === 'rebuild-done' && resolve()));
  healer.start();
  let done = rebuilt();
  cluster.kill(2);
  await disk.state.markDead([2], 'test: node lost');
  await done;
  t.same(attempts, [later, good], 'the unreachable spare first, then the next');
  t.same(healer.spares, [later], 'the unreachable spare is kept');
  t.same(healer.rejectedSpares, [], 'and not set aside: being down says nothing about the node');
  t.match(healer.status().unreachableSpares, [{ endpoint: later, reason: /E_REPLACE_UNREACHABLE: .*E_CONNECT/ }], 'status says why it was passed over');
  // Now it is the only spare and still down: the slot waits, offered it again and again, less and less often.
  attempts.length = 0;
  done = rebuilt();
  cluster.kill(3);
  await disk.state.markDead([3], 'test: node lost');
  const startedAt = Date.now();
  while (attempts.length < 4) await new Promise((r) => setTimeout(r, 5));
  t.ok(Date.now() - startedAt >= 10 + 20 + 40, `the waits between rounds double (${Date.now() - startedAt} ms for four rounds)`);
  t.equal(disk.state.membership.slots[3].state, SlotState.dead, 'the slot waits for a spare');
  cluster.spares.set(later, laterNode);
  await done;
  t.same(healer.spares, [], 'the spare took the slot once it answered');
  t.same(healer.status().unreachableSpares, [], 'and is no longer listed as unreachable');
  t.ok(disk.state.membership.slots[3].instanceId.equals(laterNode.instanceId), 'slot 3 is the spare that was down');
  t.same(healer.rejectedSpares, []);
  await healer.stop();
  t.same(await disk.readSectors(0, expect.length / S), expect, 'every byte, with two slots rebuilt');
  await disk.close();
});

t.test('two slots dying at once take two spares; the third stays spare, none is set aside', async (t) => {
  const cluster = new SimCluster(5, 400);
  const { disk } = await filled(cluster, 3, 2, 50);
  const [a, b, c] = [cluster.addSpare(), cluster.addSpare(), cluster.addSpare()];
  // As on a real network, a spare still answers at its endpoint once it serves a slot (the simulator forgets it).
  const cores = new Map([a, b, c].map((e) => [e, cluster.spares.get(e)!]));
  interceptEndpoints(disk, (endpoint, open) => {
    if (cores.has(endpoint)) cluster.spares.set(endpoint, cores.get(endpoint)!);
    return open(endpoint);
  });
  const healer = new Healer(disk, { spares: [a, b, c], retryMs: 10, rebuild: { stripesPerBatch: 64, checkpointMs: 0 } });
  let replaced = 0;
  const both = new Promise<void>((resolve) => disk.state.listeners.add((e) => e.kind === 'slot-replaced' && ++replaced === 2 && resolve()));
  healer.start();
  cluster.kill(2);
  cluster.kill(3);
  // Both slots' runs pick spare a before either replacement ran: the second must pass over it, not refuse it.
  await disk.state.markDead([2, 3], 'test: two nodes lost');
  await both;
  await new Promise((r) => setImmediate(r)); // the second replacement's run takes its spare off the list after the event
  t.same(healer.spares, [c], 'two spares taken, the third still spare');
  t.same(healer.rejectedSpares, [], 'no spare set aside: the one another slot took is no verdict');
  await healer.stop();
  await disk.close();
});

t.test('a slot that dies again while its spares are tried keeps one retry timer, and none runs after stop()', async (t) => {
  const cluster = new SimCluster(5, 400);
  const { disk } = await filled(cluster, 3, 2, 50);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Endpoints where a connection takes 100 ms to fail.
  const slow = new Set(['sim:x', 'sim:y', 'sim:w']);
  const attempts: string[] = [];
  interceptEndpoints(disk, async (endpoint, open) => {
    attempts.push(endpoint);
    if (!slow.has(endpoint)) return open(endpoint);
    await sleep(100);
    throw new NodeError('E_CONNECT', `nothing answers at ${endpoint}`);
  });
  const healer = new Healer(disk, { spares: ['sim:x', 'sim:y'], replaceDelayMs: 300, retryMs: 60_000 });
  const h = healer as unknown as { takeSpare: (slot: number) => Promise<void>; stopped: boolean };
  const take = h.takeSpare.bind(healer);
  const runs: { slot: number; afterStop: boolean }[] = [];
  h.takeSpare = (slot) => (runs.push({ slot, afterStop: h.stopped }), take(slot));
  healer.start();
  cluster.kill(2);
  await disk.state.markDead([2], 'test: node lost');
  while (!attempts.includes('sim:x')) await sleep(5);
  // While spare x is tried, the operator puts a node in slot 2 and tries an endpoint for slot 4, both queued behind
  // it; the new node of slot 2 dies at once, so the run goes on to spare y, and the death armed a timer meanwhile.
  const byOperator = healer.replace({ slot: 2, endpoint: cluster.addSpare() });
  const other = healer.replace({ slot: 4, endpoint: 'sim:w', force: true }).catch((e: { code: string }) => e.code);
  await byOperator;
  cluster.kill(2);
  await disk.state.markDead([2], 'test: the new node lost too');
  t.equal(await other, 'E_REPLACE_UNREACHABLE');
  while (!attempts.includes('sim:y')) await sleep(5);
  await sleep(150); // y fails: the run ends with nothing reached and sets the slot's retry
  await healer.stop();
  await sleep(400); // past the timer the second death armed
  t.same(runs.filter((r) => r.afterStop), [], 'no run after stop()');
  t.equal(runs.length, 1, 'one run: the death noticed during it did not start a second chain');
  await disk.close();
});

t.test('a dead slot is first offered its own endpoint: a node restarted there takes it; one that kept its memory is refused', async (t) => {
  const cluster = new SimCluster(3, 400);
  const { disk, expect } = await filled(cluster, 2, 1, 200, true);
  const spare = cluster.addSpare();
  const healer = new Healer(disk, { spares: [spare], rebuild: { stripesPerBatch: 64, checkpointMs: 0 } });
  const rebuilt = () => new Promise<void>((resolve) => disk.state.listeners.add((e) => e.kind === 'rebuild-done' && resolve()));
  healer.start();
  cluster.restart(1); // systemd or Kubernetes restarts the node: new, empty, at the same endpoint
  let done = rebuilt();
  await disk.state.markDead([1], 'test: answered as another instance');
  await done;
  t.ok(disk.state.membership.slots[1].instanceId.equals(Buffer.from((await cluster.connector().connect(1)).peer.instanceId)), 'the restarted node holds the slot');
  t.same(healer.spares, [spare], 'no spare used');
  // Slot 2's node is cut off from this manager's view but still runs with its memory: it holds a record.
  done = rebuilt();
  await disk.state.markDead([2], 'test: unreachable for the death window');
  await done;
  t.same(healer.spares, [], 'the node that kept its memory was refused; the spare took the slot');
  t.same(healer.rejectedSpares, [], 'the slot\'s own endpoint is not a spare to set aside');
  await healer.stop();
  cluster.kill(0);
  t.same(await disk.readSectors(0, expect.length / S), expect, 'every byte with the original slot 0 lost');
  await disk.close();
});

t.test('a rate change applies to the running work without stopping it', async (t) => {
  const cluster = new SimCluster(3, 400);
  const { disk } = await filled(cluster, 2, 1, 100);
  const healer = new Healer(disk, { rate: { minBytesPerSecond: 1, maxBytesPerSecond: 1 }, rebuild: { stripesPerBatch: 8, checkpointMs: 0 } });
  cluster.kill(1);
  await disk.state.markDead([1], 'test');
  await healer.replace({ slot: 1, endpoint: cluster.addSpare() });
  healer.start();
  // At one byte a second the first batch's pause is hours long; raising the limit must not wait for it.
  await new Promise((r) => setTimeout(r, 100));
  const slow = disk.state.rebuildCursor(1);
  t.ok(slow <= 8, `one batch at most at the old rate (cursor ${slow})`);
  t.throws(() => healer.setRate({ minBytesPerSecond: 0, maxBytesPerSecond: 0 }), { code: 'E_RATE' }, 'a zero minimum is refused');
  t.throws(() => healer.setRate({ minBytesPerSecond: 10, maxBytesPerSecond: 5 }), { code: 'E_RATE' }, 'max below min is refused');
  healer.setRate({ minBytesPerSecond: 1 << 30, maxBytesPerSecond: 0 });
  const done = new Promise<void>((resolve) => disk.state.listeners.add((e) => e.kind === 'rebuild-done' && resolve()));
  await done;
  t.equal(disk.state.membership.slots[1].state, SlotState.live, 'the rebuild finished at the new rate');
  await healer.stop();
  await disk.close();
});

t.test('scrub repairs every corruption that m allows and names the node; beyond m it reports the lost sectors', async (t) => {
  const cluster = new SimCluster(6, 500);
  const { disk, expect } = await filled(cluster, 4, 2, 1600);
  const g = disk.state.geometry;
  const flip = (slot: number, sector: number, byte: number) => (cluster.nodes[slot].store.view(sector, 1)[0][byte] ^= 0x5a);
  // Up to m shards of a row: data and parity shards, table shards, on several nodes.
  const injected: [number, number][] = [];
  for (let row = 0; row < 200; row += 7) {
    // Shards (not slots) chosen by row, so every shard position is hit, parity (4, 5) too.
    for (const j of [row % 6, (row + 3) % 6].slice(0, 1 + (row % 2))) {
      const slot = slotOfShard(g, row, j);
      flip(slot, rowSector(g, 'data', row), (row * 13) % S);
      injected.push([slot, rowSector(g, 'data', row)]);
    }
  }
  flip(2, rowSector(g, 'table', 0), 100);
  injected.push([2, rowSector(g, 'table', 0)]);
  const snapshot = (slot: number, sector: number) => Buffer.from(cluster.nodes[slot].store.view(sector, 1)[0]);
  const corrupt = injected.map(([slot, sector]) => snapshot(slot, sector));
  disk.state.rows.clear();
  disk.state.tables.clear();
  const healer = new Healer(disk, { rebuild: { stripesPerBatch: 32, checkpointMs: 0 }, scrub: { stripesPerBatch: 32 } });
  healer.scrub();
  while (healer.scrubber.running) await healer.scrubber.step();
  const result = healer.scrubber.result!;
  t.equal(result.rowsChecked, stripes(g), 'every stripe checked');
  const repaired = Object.values(result.repairedBySlot).reduce((a, b) => a + b, 0);
  t.equal(repaired, injected.length, `${injected.length} corrupt shards repaired`);
  const perSlot: Record<number, number> = {};
  for (const [slot] of injected) perSlot[slot] = (perSlot[slot] ?? 0) + 1;
  t.same(result.repairedBySlot, perSlot, 'each repair names the node that held the bad shard');
  t.ok(injected.every(([slot, sector], i) => !snapshot(slot, sector).equals(corrupt[i])), 'no corrupt shard is left on any node');
  t.same(result.unrecoverable, []);
  healer.scrub();
  while (healer.scrubber.running) await healer.scrubber.step();
  t.same(healer.scrubber.result!.repairedBySlot, {}, 'a second pass finds nothing');
  t.same(await disk.readSectors(0, expect.length / S), expect, 'the data is intact');

  // Three of six shards of data row 10 corrupt: beyond m for that row.
  for (const slot of [0, 1, 2]) flip(slot, rowSector(g, 'data', 10), 9);
  disk.state.rows.clear();
  healer.scrub();
  while (healer.scrubber.running) await healer.scrubber.step();
  t.match(healer.scrubber.result!.unrecoverable, [{ region: 'data', row: 10, first: 40, count: 4 }], 'the lost row is named with its sectors');
  t.equal(healer.scrubber.result!.rowsChecked, stripes(g), 'the walk went on past it');
  await disk.close();
});

t.test('scrub checks on the nodes a stripe whose write is committed but not yet applied, not from memory', async (t) => {
  const cluster = new SimCluster(3, 300);
  const { disk } = await filled(cluster, 2, 1, 100);
  const g = disk.state.geometry;
  const row = 20;
  // The write below changes data shard 0 of the row (sector 2 * row); corrupt a node's copy of shard 1, which it leaves alone.
  const slot = slotOfShard(g, row, 1);
  const sector = rowSector(g, 'data', row);
  const before = Buffer.from(cluster.nodes[slot].store.view(sector, 1)[0]);
  cluster.nodes[slot].store.view(sector, 1)[0][7] ^= 0x5a;
  await disk.writeSectors(2 * row, randomBytes(S));
  t.ok(disk.state.published.rows.has(disk.state.rowKey('data', row)), 'the write is committed, its apply still pending');
  t.notSame(cluster.nodes[slot].store.view(sector, 1)[0], before, 'the write did not touch the corrupt copy');
  // A batch of the pass that starts at this row, right away (the apply waits a moment for a next write to carry it).
  const scrubber = new Scrubber(disk.state, () => disk.flush(), { stripesPerBatch: 4 });
  scrubber.begin({ startedAt: new Date().toISOString(), rowsChecked: g.tableRows + row, totalRows: stripes(g), repairedBySlot: {}, unrecoverable: [] });
  await scrubber.step();
  t.same(scrubber.result!.repairedBySlot, { [slot]: 1 }, "the node's corrupt copy of the untouched shard was found");
  t.same(cluster.nodes[slot].store.view(sector, 1)[0], before, 'and repaired');
  await disk.close();
});
