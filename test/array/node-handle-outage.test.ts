// When a failed open ends a node's outage (array-manager/node-handle.ts,
// docs/ADMIN.md "Health"): a connection closed after the pinned node's HELLO
// is an answer (the node is there; the network broke the session), so the
// slot is no longer in doubt; a node silent after its HELLO (timeout) is
// not, and neither is another instance's HELLO: both stay unreachable and
// the slot fails after the death window.
import t from 'tap';
import { ClosedAfterHello } from '../../array-manager/node-client/frame-codec.ts';
import { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { NodeHandle, healthDefaults, type Clock, type NodeConnector } from '../../array-manager/node-handle.ts';
import { testClientOptions, testNode, type TestNode } from '../disk-node/fixtures.ts';
import { CoreChannel, openCoreClient } from '../node-client/core-channel.ts';

type Fate = 'closed after HELLO' | 'silent after HELLO' | 'another instance, closed after HELLO';

const deathWindowMs = 1_000;

// The client's timers are unreferenced (an abandoned session must not keep a process alive): keep this one alive while it waits on them.
const keepAlive = setInterval(() => {}, 1_000);
t.teardown(() => clearInterval(keepAlive));

async function setup() {
  const node = testNode();
  const other = testNode(64, 4096, node.manager);
  const { client } = await openCoreClient(node);
  const pinned = Buffer.from(client.peer.instanceId);
  client.close();
  const clock: Clock & { t: number } = {
    t: 0,
    now: () => clock.t,
    sleep: async (ms) => void (clock.t += ms),
  };
  let fate: Fate = 'silent after HELLO';
  const open = (target: TestNode): Promise<NodeClient> => {
    const channel = new CoreChannel(target.core);
    // The node never sees a request: it is lost on the way, or the connection breaks right after it.
    channel.hold = true;
    if (fate !== 'silent after HELLO') {
      const send = channel.send.bind(channel);
      channel.send = (frame) => (send(frame), channel.close('reset by the network'));
    }
    return NodeClient.open(channel, testClientOptions(node.manager, 50));
  };
  const connector: NodeConnector = { slots: 1, connect: () => open(fate === 'another instance, closed after HELLO' ? other : node) };
  const handle = new NodeHandle(0, connector, pinned, { ...healthDefaults, deathWindowMs, clock });
  return { handle, clock, pinned, setFate: (f: Fate) => void (fate = f) };
}

t.test('closed after the pinned node\'s HELLO: an answer, the outage ends', async (t) => {
  const { handle, clock, pinned, setFate } = await setup();
  await t.rejects(handle.session(), { code: 'E_TIMEOUT' }, 'silent: the outage starts');
  t.ok(handle.inDoubt, 'in doubt');
  clock.t = 600;
  setFate('closed after HELLO');
  const err = await handle.session().catch((e: unknown) => e);
  t.ok(err instanceof ClosedAfterHello && err.code === 'E_CLOSED', 'E_CLOSED, marked as after HELLO');
  t.same((err as ClosedAfterHello).instanceId, pinned, 'with the instance the HELLO announced');
  t.notOk(handle.inDoubt, 'no longer in doubt');
  clock.t = 600 + deathWindowMs;
  t.notOk(handle.unreachable, 'the death window counts from a later failure, not the first');
});

for (const fate of ['silent after HELLO', 'another instance, closed after HELLO'] as const) {
  t.test(`${fate}: still unreachable, the slot fails after the window`, async (t) => {
    const { handle, clock, setFate } = await setup();
    await t.rejects(handle.session(), { code: 'E_TIMEOUT' });
    clock.t = 600;
    setFate(fate);
    await t.rejects(handle.session(), { code: fate === 'silent after HELLO' ? 'E_TIMEOUT' : 'E_CLOSED' });
    t.ok(handle.inDoubt, 'still in doubt');
    t.notOk(handle.unreachable, 'within the window');
    clock.t = deathWindowMs;
    t.ok(handle.unreachable, 'unreachable once the window since the first failure passed');
    await t.rejects(handle.batch([]), { code: 'E_NODE_FAILED', reason: 'unreachable' }, 'a batch fails the slot');
  });
}
