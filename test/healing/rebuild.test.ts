// Replace and live rebuild over in-process nodes: a dead slot gets a new
// node, the rebuild reconstructs its shards while writes race it, a crashed
// manager resumes from the persisted cursor, and afterwards the array
// survives m further losses with every byte intact.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { createArray } from '../../array-manager/array-create.ts';
import { openArray } from '../../array-manager/array-open.ts';
import { stripes } from '../../array-manager/geometry.ts';
import { SlotState } from '../../array-manager/membership.ts';
import { Healer } from '../../array-manager/healing/healer.ts';
import type { VirtualDisk } from '../../array-manager/virtual-disk.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';

const S = 4096;

/** Writes random data over `sectors` sectors, in pieces, and returns what the disk must hold. */
async function fill(disk: VirtualDisk, sectors: number): Promise<Buffer> {
  const data = randomBytes(sectors * S);
  for (let at = 0; at < sectors; at += 64) await disk.writeSectors(at, data.subarray(at * S, Math.min(sectors, at + 64) * S));
  return data;
}

const states = (disk: VirtualDisk) => disk.state.membership.slots.map((s) => s.state);

/**
 * An array of k+m in-process nodes filled with random data over `sectors`
 * sectors, whose slot `lost` has died and been replaced by a fresh spare.
 */
async function replaced(k: number, m: number, nodeSectors: number, sectors: number, lost: number, stripesPerBatch: number) {
  const cluster = new SimCluster(k + m, nodeSectors);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k, m, journalPieces: 24 });
  const count = Math.min(disk.sectors, sectors);
  const expect = await fill(disk, count);
  cluster.kill(lost);
  await disk.state.markDead([lost], 'test: node lost');
  const healer = new Healer(disk, { rebuild: { stripesPerBatch, checkpointMs: 0 } });
  await healer.replace({ slot: lost, endpoint: cluster.addSpare() });
  return { cluster, key, disk, sectors: count, expect, healer };
}

/** Loses the nodes of `slots`, then reads everything back. */
async function loseAndRead(t: Test, cluster: SimCluster, disk: VirtualDisk, slots: number[], expect: Buffer, what: string): Promise<void> {
  for (const slot of slots) cluster.kill(slot);
  t.same(await disk.readSectors(0, expect.length / S), expect, what);
  await disk.close();
}

t.test('replace a dead slot, rebuild it, then lose m others: every byte reads back', async (t) => {
  const { cluster, disk, sectors, expect, healer } = await replaced(4, 2, 700, 2000, 1, 64);
  t.equal(disk.state.membership.slots[1].state, SlotState.rebuilding, 'the slot is rebuilding');
  t.same(await disk.readSectors(0, sectors), expect, 'reads while rebuilding');
  await healer.rebuilder.run();
  t.same(states(disk), new Array(6).fill(SlotState.live), 'every slot live again');
  await loseAndRead(t, cluster, disk, [0, 2], expect, 'with two original nodes lost after the rebuild, everything reads back');
});

t.test('writes racing the rebuild batch by batch are never lost', async (t) => {
  const { cluster, disk, sectors, expect, healer } = await replaced(2, 1, 500, 600, 2, 8);
  let round = 0;
  while (disk.state.rebuildingSlots().length) {
    // Each batch runs next to writes that land on stripes below, at and above the cursor.
    const cursor = disk.state.rebuildCursor(2);
    const targets = [cursor * 2 - 8, cursor * 2, cursor * 2 + 5, (cursor * 2 + 300) % sectors].map((s) => Math.max(0, Math.min(sectors - 3, s)));
    const writes = targets.map((at) => {
      const data = randomBytes(3 * S);
      data.copy(expect, at * S);
      return disk.writeSectors(at, data);
    });
    await Promise.all([healer.rebuilder.step(), ...writes]);
    round++;
  }
  t.ok(round > 5, `${round} batches raced writes`);
  await loseAndRead(t, cluster, disk, [0], expect, 'the rebuilt node holds every racing write');
});

t.test('a manager that crashes during the rebuild resumes from the persisted cursor', async (t) => {
  const { cluster, key, disk, sectors, expect, healer } = await replaced(3, 2, 600, 1200, 3, 32);
  for (let i = 0; i < 4; i++) await healer.rebuilder.step();
  const persisted = disk.state.membership.slots[3].cursor;
  t.ok(persisted >= 96, `cursor persisted at ${persisted}`);
  cluster.freezeAll(); // the manager dies

  const again = await openArray({ connector: cluster.connector(), dataKey: key });
  t.equal(again.state.membership.slots[3].state, SlotState.rebuilding, 'still rebuilding after the crash');
  t.equal(again.state.rebuildCursor(3), persisted, 'resumes from the persisted cursor, not zero');
  const resumed = new Healer(again, { rebuild: { stripesPerBatch: 32, checkpointMs: 0 } });
  let batches = 0;
  while (again.state.rebuildingSlots().length) {
    await resumed.rebuilder.step();
    batches++;
  }
  t.ok(batches <= Math.ceil((stripes(again.state.geometry) - persisted) / 32) + 2, `${batches} batches to finish`);
  await loseAndRead(t, cluster, again, [0, 1], expect, 'every byte after m more losses');
});

t.test('two slots rebuild in one pass; a node lost during the rebuild is survived within m', async (t) => {
  const { cluster, disk, sectors, expect, healer } = await replaced(4, 3, 600, 1500, 0, 32);
  for (let i = 0; i < 3; i++) await healer.rebuilder.step();
  cluster.kill(5);
  await disk.state.markDead([5], 'test');
  await healer.replace({ slot: 5, endpoint: cluster.addSpare() });
  // Slot 0 waits for slot 5 to reach its cursor, then both advance together.
  cluster.kill(2);
  t.same(await disk.readSectors(0, sectors), expect, 'reads with one dead and two rebuilding slots');
  await healer.rebuilder.run().catch(async (err) => {
    // Slot 2 is silent: the batch that first needs it may mark it dead, then the rebuild goes on.
    t.equal(err.code, 'E_UNAVAILABLE', err.message);
    await healer.rebuilder.run();
  });
  t.equal(disk.state.membership.slots[0].state, SlotState.live);
  t.equal(disk.state.membership.slots[5].state, SlotState.live);
  await loseAndRead(t, cluster, disk, [1], expect, 'every byte after the rebuild and one more loss');
});

t.test('beyond m unavailable during a rebuild: a clear refusal, never a wrong value', async (t) => {
  const { cluster, disk, sectors, expect, healer } = await replaced(2, 1, 400, 400, 1, 16);
  for (let i = 0; i < 3; i++) await healer.rebuilder.step();
  const cursor = disk.state.rebuildCursor(1);
  cluster.kill(0);
  await disk.state.markDead([0], 'test');
  // What the writer cached is current and would serve: the nodes are what is tested here.
  disk.state.rows.clear();
  disk.state.tables.clear();
  const err = await healer.rebuilder.step().then(() => undefined, (e) => e);
  t.ok(err && ['E_UNRECOVERABLE', 'E_TOO_MANY_DEAD'].includes(err.code), `rebuild refuses: ${err?.code}`);
  t.equal(disk.state.rebuildCursor(1), cursor, 'the cursor did not move');
  // Stripes below the cursor still read from the rebuilt shards; the rest refuse.
  const below = (cursor - disk.state.geometry.tableRows) * 2;
  if (below > 0) t.same(await disk.readSectors(0, Math.min(below, 8)), expect.subarray(0, Math.min(below, 8) * S), 'rebuilt stripes read back');
  await t.rejects(disk.readSectors(sectors - 2, 2), { code: /E_UNRECOVERABLE|E_TOO_MANY_DEAD/ }, 'stripes not rebuilt refuse');
  await disk.close();
});
