// A connection that never sends a valid signed batch is dropped after
// sessionAuthTimeoutMs, so strangers cannot hold the node's session slots;
// a session that has authenticated itself may stay idle.
import t from 'tap';
import WebSocket from 'ws';
import { openWebSocketChannel } from '../../array-manager/node-client/frame-channel.ts';
import { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { sessionAuthTimeoutMs } from '../../disk-node/limits.ts';
import { startDiskNode } from '../../disk-node/main.ts';
import { fakeProvider, fakeVerifyHello, managerKeys } from './fixtures.ts';

t.test('silent connections are closed, authenticated idle ones are kept', async (t) => {
  const manager = managerKeys();
  const node = await startDiskNode({ config: { managerPublicKey: manager.publicRaw, sectorBytes: 4096, sectorCount: 16 }, host: '127.0.0.1', port: 0 }, fakeProvider());
  t.teardown(() => node.close());
  const url = `ws://127.0.0.1:${node.port}`;

  const client = await NodeClient.open(await openWebSocketChannel(url, 5000), { sign: manager.sign, verifyHello: fakeVerifyHello, timeoutMs: 5000 });
  await client.status();
  t.teardown(() => client.close());

  const silent = new WebSocket(url);
  const closedAt = await new Promise<number>((resolve, reject) => {
    const opened = Date.now();
    silent.on('close', () => resolve(Date.now() - opened));
    silent.on('error', reject);
  });
  t.ok(closedAt >= sessionAuthTimeoutMs - 500 && closedAt < sessionAuthTimeoutMs + 5000, `silent connection closed after ${closedAt} ms`);
  t.notOk(client.closed, 'the authenticated session, idle as long, is still open');
  t.equal((await client.status()).sectorCount, 16, 'and still answers');
});
