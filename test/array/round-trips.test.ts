// How many node batches (round trips) the array's common operations cost.
// Each test records every batch the manager sends, per slot, and checks a
// property that a regression in batching or pipelining would break, along
// with the data read back.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createArray } from '../../array-manager/array-create.ts';
import { openArray } from '../../array-manager/array-open.ts';
import { rowSector } from '../../array-manager/geometry.ts';
import { Op, type OutgoingCommand } from '../../array-manager/node-client/frame-codec.ts';
import type { VirtualDisk } from '../../array-manager/virtual-disk.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';

const S = 4096;

interface Recorded {
  slot: number;
  commands: OutgoingCommand[];
}

/** Records every batch sent to a node; `delayMs` holds each one back, like a slow network. */
function record(disk: VirtualDisk, delayMs = 0): { batches: Recorded[]; inFlightMax: Map<number, number> } {
  const batches: Recorded[] = [];
  const inFlight = new Map<number, number>();
  const inFlightMax = new Map<number, number>();
  disk.state.handles.forEach((handle, slot) => {
    const send = handle.batch.bind(handle);
    handle.batch = async (commands, beforeRetry, patient) => {
      batches.push({ slot, commands });
      inFlight.set(slot, (inFlight.get(slot) ?? 0) + 1);
      inFlightMax.set(slot, Math.max(inFlightMax.get(slot) ?? 0, inFlight.get(slot)!));
      try {
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        return await send(commands, beforeRetry, patient);
      } finally {
        inFlight.set(slot, inFlight.get(slot)! - 1);
      }
    };
  });
  return { batches, inFlightMax };
}

/** A batch that only applies an entry: COPY and TRIM commands. */
const isApplyOnly = (commands: OutgoingCommand[]): boolean => commands.length > 0 && commands.every((c) => c.op === Op.copy || c.op === Op.trim);

/** Runs `before` ahead of every batch sent to `handle`; it may throw to fail the batch. */
function beforeBatch(handle: VirtualDisk['state']['handles'][number], before: (commands: OutgoingCommand[]) => void): void {
  const send = handle.batch.bind(handle);
  handle.batch = async (commands, beforeRetry, patient) => {
    before(commands);
    return send(commands, beforeRetry, patient);
  };
}

const perSlot = (batches: Recorded[]): Map<number, number> => {
  const out = new Map<number, number>();
  for (const b of batches) out.set(b.slot, (out.get(b.slot) ?? 0) + 1);
  return out;
};

t.test('a read whose tables are not in memory costs one batch per node', async (t) => {
  const cluster = new SimCluster(6, 600);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 32 });
  const data = randomBytes(8 * S);
  await disk.writeSectors(0, data);
  await disk.close();

  const reopened = await openArray({ connector: cluster.connector(), dataKey: key });
  const { batches } = record(reopened);
  t.same(await reopened.readSectors(0, 8), data, 'read back');
  const counts = perSlot(batches);
  // Rows 0 and 1 put their data shards on slots 0-3 and 1-4; table 0 lives on slot 0.
  t.same([...counts.keys()].sort(), [0, 1, 2, 3, 4], 'the slots holding the data and the table were asked');
  t.ok([...counts.values()].every((n) => n === 1), `one batch per slot (${JSON.stringify([...counts])})`);
  const first = batches.find((b) => b.slot === 0)!;
  t.equal(first.commands.length, 2, 'slot 0 got its data sector and the table in one batch');

  // Table 0 (sectors 0-144) is now in memory: sectors never written under it are not read at all.
  batches.length = 0;
  t.same(await reopened.readSectors(20, 30), Buffer.alloc(30 * S), 'unwritten sectors read as zeros');
  t.equal(batches.length, 0, 'no node was asked');

  // A large read of a never-written region fetches its tables first, and then no data at all.
  batches.length = 0;
  t.same(await reopened.readSectors(145, 200), Buffer.alloc(200 * S), 'a large unwritten range reads as zeros');
  const reads = batches.flatMap((b) => b.commands.filter((c) => c.op === Op.read));
  const dataStart = rowSector(reopened.state.geometry, 'data', 0);
  t.ok(reads.length > 0 && reads.every((c) => c.op === Op.read && c.sector < dataStart), 'only table sectors were read');
  await reopened.close();
});

t.test('reads of one node arriving one by one share batches, at most two in flight', async (t) => {
  const cluster = new SimCluster(6, 600);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 32 });
  // Rows 0, 6, 12, ... put data shard 0 on slot 0: write them, so slot 0 holds sector 24 * i.
  const written = Array.from({ length: 24 }, () => randomBytes(S));
  for (const [i, w] of written.entries()) await disk.writeSectors(24 * i, w);
  await disk.close();
  const reopened = await openArray({ connector: cluster.connector(), dataKey: key, caches: { rowsMax: 1, tablesMax: 64 } });
  await reopened.readSectors(0, 1);
  const { batches, inFlightMax } = record(reopened, 5);
  const reads: Promise<Buffer>[] = [];
  for (let i = 0; i < written.length; i++) {
    reads.push(reopened.readSectors(24 * i, 1));
    await new Promise((r) => setImmediate(r));
  }
  const got = await Promise.all(reads);
  t.ok(got.every((b, i) => b.equals(written[i])), 'every read returns its sector');
  const homes = new Set(written.map((_, i) => rowSector(reopened.state.geometry, 'data', 6 * i)));
  const toSlot0 = batches.filter((b) => b.slot === 0 && b.commands.some((c) => c.op === Op.read && homes.has(c.sector)));
  t.ok(toSlot0.length < written.length / 2, `${written.length} reads went out in ${toSlot0.length} batches`);
  t.ok((inFlightMax.get(0) ?? 0) <= 2, `at most two batches in flight to slot 0 (saw ${inFlightMax.get(0)})`);
  await reopened.close();
});

t.test('writes at queue depth 1 cost two batches each: the apply rides in the next write\'s journal round', async (t) => {
  const cluster = new SimCluster(6, 600);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 32 });
  const { batches } = record(disk);
  const writes = Array.from({ length: 8 }, () => randomBytes(4 * S));
  // One write at a time, the next sent as soon as the last is acknowledged (NBD at queue depth 1).
  for (const [i, data] of writes.entries()) await disk.writeSectors(i * 4, data);
  t.equal(batches.filter((b) => isApplyOnly(b.commands)).length, 0, 'no entry was applied alone while writes kept coming');
  t.equal(disk.state.counters.journalApplies, writes.length - 1, 'each entry but the last was applied by the next journal round');
  // Reads (the first write's table sectors, not in memory yet) are not part of the journal's cost.
  const perWrite = Math.max(...perSlot(batches.filter((b) => b.commands.some((c) => c.op !== Op.read))).values()) / writes.length;
  t.equal(perWrite, 2, 'two writing batches per node per write: journal (with the last apply) and commit');
  // With the queue empty, the last entry is applied alone once the wait is over (bounded: a loaded machine is slow).
  const deadline = Date.now() + 10_000;
  while (disk.state.counters.journalApplies < writes.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.equal(disk.state.counters.journalApplies, writes.length, 'the last entry was applied alone');
  for (const [i, data] of writes.entries()) t.same(await disk.readSectors(i * 4, 4), data, `write ${i} reads back`);
  await disk.close();
});

t.test('an apply that fails unexpectedly waits for the next write, which applies it once', async (t) => {
  // Key-erasure mode trims journal payloads after apply, so an apply sent twice would copy zeros home.
  const cluster = new SimCluster(6, 600);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 32, keyErasure: true });
  const { batches } = record(disk);
  // Slot 0's next apply-only batch throws an error that is not a node failure, once.
  let applyAttempts = 0;
  beforeBatch(disk.state.handles[0], (commands) => {
    if (isApplyOnly(commands) && applyAttempts++ === 0) throw new Error('injected: unexpected failure during apply');
  });
  const first = randomBytes(4 * S);
  await disk.writeSectors(0, first);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(applyAttempts, 1, 'the failed apply was tried once, not again and again');
  const others = perSlot(batches.filter((b) => isApplyOnly(b.commands)));
  t.ok([...others.values()].every((n) => n === 1), `the other participants applied once each (${JSON.stringify([...others])})`);
  t.equal(disk.state.counters.journalApplies, 0, 'the entry is still waiting for its apply');
  t.same(await disk.readSectors(0, 4), first, 'the committed write is visible meanwhile');
  const second = randomBytes(4 * S);
  await disk.writeSectors(8, second);
  t.equal(disk.state.counters.journalApplies, 1, "the next write's journal round carried the apply");
  await disk.flush();
  t.same(await disk.readSectors(0, 4), first, 'first write reads back');
  t.same(await disk.readSectors(8, 4), second, 'second write reads back');
  await disk.close();
  t.equal(disk.state.counters.journalApplies, 2, 'both entries applied by close');
  const reopened = await openArray({ connector: cluster.connector(), dataKey: key });
  t.same(await reopened.readSectors(0, 4), first, 'a new manager reads the first write from the nodes');
  t.same(await reopened.readSectors(8, 4), second, 'and the second');
  t.equal(reopened.state.counters.macFailures, 0, 'with no sector failing its MAC');
  await reopened.close();
});

t.test('a journal round that fails part way: the apply it carried is not sent again where it ran', async (t) => {
  const cluster = new SimCluster(6, 600);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 32 });
  const a = randomBytes(4 * S);
  await disk.writeSectors(0, a);
  // Slot 0's next journal batch (apply of entry 1, pieces of entry 2) fails with an error that is not a node failure.
  let armed = true;
  beforeBatch(disk.state.handles[0], (commands) => {
    if (armed && commands.some((c) => c.op === Op.write && 'pieces' in c)) {
      armed = false;
      throw new Error('injected: unexpected failure during a journal round');
    }
  });
  await t.rejects(disk.writeSectors(40, randomBytes(4 * S)), /injected/, 'the write of the failed round is refused');
  const c = randomBytes(4 * S);
  await disk.writeSectors(80, c);
  await disk.close();
  const reopened = await openArray({ connector: cluster.connector(), dataKey: key });
  t.same(await reopened.readSectors(0, 4), a, 'the first write reads back from the nodes');
  t.same(await reopened.readSectors(80, 4), c, 'the write after the failure too');
  t.same(await reopened.readSectors(40, 4), Buffer.alloc(4 * S), 'the refused write never became visible');
  t.equal(reopened.state.counters.macFailures, 0, 'no sector failed its MAC');
  await reopened.close();
});

t.test('trimming whole rows sends no zeros: the apply trims their homes', async (t) => {
  const cluster = new SimCluster(6, 600);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 32 });
  const data = randomBytes(72 * S);
  await disk.writeSectors(0, data);
  const sent = disk.state.counters.bytesSentToNodes;
  await disk.trimSectors(0, 64); // data rows 0-15, whole
  await disk.trimSectors(66, 2); // half of row 16: its parity is not zero
  const cost = disk.state.counters.bytesSentToNodes - sent;
  // Two entries: headers, commit records, the table row's pieces and row 16's two data and two parity pieces.
  t.ok(cost <= 40 * S, `${cost / S} sectors sent to trim 66 (a write would send ${(66 * 6) / 4})`);
  const expect = Buffer.from(data);
  expect.fill(0, 0, 64 * S);
  expect.fill(0, 66 * S, 68 * S);
  t.same(await disk.readSectors(0, 72), expect, 'trimmed sectors read as zeros, their neighbours as written');
  await disk.close();

  const g = disk.state.geometry;
  const homes = Array.from({ length: 16 }, (_, row) => rowSector(g, 'data', row));
  const nonZero = cluster.nodes.filter((node) => homes.some((home) => node.store.view(home, 1)[0].some((b) => b !== 0)));
  t.equal(nonZero.length, 0, 'every shard of the trimmed rows, parity included, is zero in node memory');
  const reopened = await openArray({ connector: cluster.connector(), dataKey: key });
  t.same(await reopened.readSectors(0, 72), expect, 'a new manager reads the same');
  // Row 16 keeps data shard 0 (sector 64) on slot 4: without it, the read needs row 16's parity.
  cluster.kill(4);
  t.same(await reopened.readSectors(64, 8), expect.subarray(64 * S), 'the half-trimmed row rebuilds from its parity');
  t.ok(reopened.state.counters.reconstructions > 0, 'it was rebuilt');
  await reopened.close();
});

t.test('a manager that stops between the commit and the apply of a trim: recovery trims the homes', async (t) => {
  const cluster = new SimCluster(6, 600);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 32 });
  await disk.writeSectors(0, randomBytes(32 * S));
  await disk.flush();
  // The manager stops as it starts the trim's apply: committed, not applied.
  const stopped = cluster.whenFrozen();
  disk.state.handles.forEach((handle) => beforeBatch(handle, (commands) => isApplyOnly(commands) && cluster.freezeAll()));
  await disk.trimSectors(0, 32);
  await stopped;
  const g = disk.state.geometry;
  const homes = Array.from({ length: 8 }, (_, row) => rowSector(g, 'data', row));
  const dirty = () => cluster.nodes.filter((node) => homes.some((home) => node.store.view(home, 1)[0].some((b) => b !== 0))).length;
  t.ok(dirty() > 0, 'before recovery the old ciphertext is still in node memory');
  const reopened = await openArray({ connector: cluster.connector(), dataKey: key });
  t.equal(dirty(), 0, 'recovery trimmed every home of the zero pieces');
  t.same(await reopened.readSectors(0, 32), Buffer.alloc(32 * S), 'the trimmed sectors read as zeros');
  await reopened.close();
});
