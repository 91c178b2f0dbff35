// The virtual disk end to end over in-process disk nodes: create, write,
// read back, reopen with a new manager, lose nodes, trim, transactions.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createArray } from '../../array-manager/array-create.ts';
import { openArray } from '../../array-manager/array-open.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';
import type { NodeClient } from '../../array-manager/node-client/node-client.ts';

const S = 4096;

t.test('write, read, reopen, degrade', async (t) => {
  const cluster = new SimCluster(6, 600);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 32 });
  t.ok(disk.sectors > 1000, `disk has ${disk.sectors} sectors`);
  t.same(await disk.readSectors(0, 4), Buffer.alloc(4 * S), 'fresh disk reads zeros');

  const a = randomBytes(10 * S);
  await disk.writeSectors(3, a);
  t.same(await disk.readSectors(3, 10), a, 'read back');
  const b = randomBytes(300);
  await disk.write(5 * S + 100, b);
  const expect = Buffer.from(a);
  b.copy(expect, 2 * S + 100);
  t.same(await disk.readSectors(3, 10), expect, 'unaligned write patched');
  await disk.close();

  const again = await openArray({ connector: cluster.connector(), dataKey: key });
  t.same(await again.readSectors(3, 10), expect, 'reopened by a new manager');
  cluster.kill(1);
  cluster.kill(4);
  t.same(await again.readSectors(3, 10), expect, 'degraded read with m nodes dead');
  const c = randomBytes(8 * S);
  await again.writeSectors(100, c);
  t.same(await again.readSectors(100, 8), c, 'degraded write');
  t.equal(again.state.liveSlots().length, 4);
  await again.close();

  const third = await openArray({ connector: cluster.connector(), dataKey: key });
  t.same(await third.readSectors(100, 8), c, 'reopen after losses');
  t.same(await third.readSectors(3, 10), expect);
  cluster.kill(0);
  // A third node lost at once: more than m unreachable, which a network fault could cause as well, so
  // the membership stays as it is and writes are refused as retryable until nodes answer again.
  await t.rejects(third.writeSectors(0, randomBytes(S)), { code: 'E_UNAVAILABLE' }, 'beyond m, writes refused');
  t.equal(third.state.liveSlots().length, 4, 'no slot marked dead for what the manager cannot reach');
  await third.close();
});

t.test('trim and transactions', async (t) => {
  const cluster = new SimCluster(5, 400);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 3, m: 2, journalPieces: 32 });
  await disk.writeSectors(0, randomBytes(6 * S));
  await disk.trimSectors(1, 2);
  const r = await disk.readSectors(0, 6);
  t.same(r.subarray(S, 3 * S), Buffer.alloc(2 * S), 'trimmed sectors read zeros');
  const w = [
    { sector: 7, data: randomBytes(S) },
    { sector: 290, data: randomBytes(S) },
    { sector: 150, data: randomBytes(S) },
  ];
  await disk.transaction(w);
  for (const x of w) t.same(await disk.readSectors(x.sector, 1), x.data);
  await t.rejects(disk.readSectors(disk.sectors, 1), { code: 'E_RANGE' });
  await t.rejects(disk.writeSectors(0, Buffer.alloc(100)), { code: 'E_ALIGN' });
  await disk.close();
});

t.test('corruption in node memory is detected, reconstructed and repaired', async (t) => {
  const cluster = new SimCluster(6, 600);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 4, m: 2, journalPieces: 32 });
  const a = randomBytes(16 * S);
  await disk.writeSectors(0, a);
  await disk.close();
  // Flip bytes in every node's data region, in different sectors.
  const reopened = await openArray({ connector: cluster.connector(), dataKey: key });
  const dataStart = 2 + 32 + reopened.state.geometry.tableRows;
  cluster.nodes.forEach((node, slot) => {
    node.store.view(dataStart + slot % 4, 1)[0][17] ^= 0xff;
  });
  t.same(await reopened.readSectors(0, 16), a, 'reads verify and reconstruct');
  t.ok(reopened.state.counters.macFailures > 0, 'MAC failures counted');
  t.ok(reopened.state.counters.repairs > 0, 'repairs written back');
  await reopened.close();
});

t.test('a corrupt parity shard plus m-1 lost nodes: the reconstruction that leaves it out is found', async (t) => {
  // Found by the simulator: a failed attempt used to overwrite the parity it had left out.
  const cluster = new SimCluster(8, 300);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k: 5, m: 3, journalPieces: 16 });
  const a = randomBytes(5 * S);
  await disk.writeSectors(15, a); // data row 3, all five data shards
  await disk.close();
  const g = disk.state.geometry;
  const row = 3;
  // Row 3 puts shard j on slot (j + 3) mod 8: slot 1 holds parity shard 6, slots 3 and 4 data shards 0 and 1.
  cluster.nodes[1].store.view(2 + g.journalPieces + g.tableRows + row, 1)[0][0] ^= 0xff;
  cluster.kill(3);
  cluster.kill(4);
  const reopened = await openArray({ connector: cluster.connector(), dataKey: key });
  t.same(await reopened.readSectors(15, 5), a, 'data rebuilt without the corrupt parity');
  t.ok(reopened.state.counters.reconstructions > 1, 'more than one reconstruction was tried');
  await reopened.close();
});

t.test('an array created over the nodes of an earlier one replaces it', async (t) => {
  const cluster = new SimCluster(3, 300);
  const key = dataKey();
  const first = await createArray({ connector: cluster.connector(), dataKey: key, k: 2, m: 1, journalPieces: 8 });
  await first.writeSectors(0, randomBytes(4 * S));
  await first.close();
  const second = await createArray({ connector: cluster.connector(), dataKey: key, k: 2, m: 1, journalPieces: 8 });
  t.ok(second.state.membership.version > 1n, 'its membership goes above the old one, which the nodes would refuse otherwise');
  t.same(await second.readSectors(0, 4), Buffer.alloc(4 * S), 'it starts blank');
  const data = randomBytes(2 * S);
  await second.writeSectors(10, data);
  await second.close();
  const reopened = await openArray({ connector: cluster.connector(), dataKey: key });
  t.equal(reopened.state.arrayId.toString('hex'), second.state.arrayId.toString('hex'), 'a manager opens the new array');
  t.same(await reopened.readSectors(10, 2), data);
  await reopened.close();
});

t.test('a create refused for its geometry closes every session it opened', async (t) => {
  for (const { nodeSectors, journalPieces, message } of [
    { nodeSectors: 600, journalPieces: 2, message: /journal of 2 pieces/ },
    { nodeSectors: 8, journalPieces: 8, message: /leave no room for data/ },
  ]) {
    const cluster = new SimCluster(3, nodeSectors);
    const connector = cluster.connector();
    const clients: NodeClient[] = [];
    const tracking = { ...connector, connect: async (slot: number) => clients[clients.push(await connector.connect(slot)) - 1] };
    await t.rejects(createArray({ connector: tracking, dataKey: dataKey(), k: 2, m: 1, journalPieces }), { code: 'E_GEOMETRY', message });
    t.equal(clients.length, 3, 'every node was asked first');
    t.same(clients.map((c) => c.closed), [true, true, true], `no session left open (${message.source})`);
  }
});

t.test('the row and table caches hold at most their limits', async (t) => {
  const cluster = new SimCluster(3, 600);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 2, m: 1, journalPieces: 8, caches: { rowsMax: 3, tablesMax: 2 } });
  for (let i = 0; i < 8; i++) await disk.writeSectors(i * 150, randomBytes(2 * S));
  await disk.flush();
  t.equal(disk.state.rows.size, 3, 'rows: full, not beyond');
  t.equal(disk.state.tables.size, 2, 'tables: full, not beyond');
  await disk.close();
});
