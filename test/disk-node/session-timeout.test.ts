// A connection that never sends a valid signed batch is dropped after
// sessionAuthTimeoutMs, so strangers cannot hold the node's session slots;
// a session that has authenticated itself may stay idle. The shell runs with
// a short auth timeout (startTestShell), and the order of events, not a clock,
// shows which timer closed what.
import t from 'tap';
import WebSocket from 'ws';
import { openWebSocketChannel } from '../../array-manager/node-client/frame-channel.ts';
import { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { startTestShell, testClientOptions } from './fixtures.ts';

t.test('silent connections are closed, authenticated idle ones are kept', async (t) => {
  const { url, manager } = await startTestShell(t, { sessionAuthTimeoutMs: 100 });
  const client = await NodeClient.open(await openWebSocketChannel(url, 5000), testClientOptions(manager, 5000));
  t.teardown(() => client.close());

  // Opened after the client authenticated: when its auth timer has closed it, the client's has fired too.
  const silent = new WebSocket(url);
  const hello = new Promise<boolean>((resolve) => silent.once('message', () => resolve(true)));
  await new Promise<void>((resolve, reject) => {
    silent.on('close', () => resolve());
    silent.on('error', reject);
  });
  t.ok(await hello, 'the silent connection got its HELLO, then was closed without sending anything');
  t.notOk(client.closed, 'the authenticated session, idle as long, is still open');
  t.equal((await client.status()).sectorCount, 16, 'and still answers');
});
