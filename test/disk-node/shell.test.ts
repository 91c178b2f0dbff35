// The WebSocket shell (disk-node/main.ts) on 127.0.0.1: what strangers can
// hold and what the manager sees. Limits that would make a test slow are
// replaced through startTestShell (the shell's code is unchanged); the order
// of events, never a clock, decides each assertion. Text frames and frames
// over the size bounds are in fuzz.test.ts.
//   - unauthenticated sessions are bounded: a new one evicts the oldest, so a
//     flood of strangers cannot lock the manager out;
//   - authenticated sessions are bounded: a new one evicts the oldest;
//   - a connection that never upgrades is destroyed after upgradeTimeoutMs,
//     and connections beyond connectionsMax at once;
//   - a session the node refuses is closed with 4000 and the refusal's code.
import t from 'tap';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { openWebSocketChannel } from '../../array-manager/node-client/frame-channel.ts';
import { NodeError, Op } from '../../array-manager/node-client/frame-codec.ts';
import { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { pendingSessionsMax, sessionsMax } from '../../disk-node/limits.ts';
import { startTestShell, testClientOptions, type ManagerKeys } from './fixtures.ts';

/** A WebSocket that got its HELLO; `closed` settles when the node drops it. */
interface Stranger {
  ws: WebSocket;
  closed: Promise<void>;
  isClosed: () => boolean;
}

async function stranger(url: string): Promise<Stranger> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  let isClosed = false;
  const closed = new Promise<void>((resolve) => ws.on('close', () => ((isClosed = true), resolve())));
  ws.on('error', () => {});
  await new Promise((resolve, reject) => (ws.once('message', resolve), ws.once('close', () => reject(new Error('closed before HELLO')))));
  return { ws, closed, isClosed: () => isClosed };
}

/** Opens `n` strangers one after another, so the node sees them in this order. */
async function strangers(url: string, n: number): Promise<Stranger[]> {
  const opened: Stranger[] = [];
  for (let i = 0; i < n; i++) opened.push(await stranger(url));
  return opened;
}

const managerSession = async (url: string, manager: ManagerKeys, observe = false): Promise<NodeClient> =>
  NodeClient.open(await openWebSocketChannel(url, 5000), { ...testClientOptions(manager, 5000), observe });

/** A raw TCP connection, and a promise that settles when the other side drops it. */
function rawSocket(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

// Each test that waits for the node to drop a connection is bounded, so a shell that never drops it fails.
const bounded = { timeout: 30_000 };

/** `p`, or a failure naming `what` if it has not settled after a generous bound (a hang, not a slow pass). */
function dropped<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the node never dropped ${what}`)), 15_000)));
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

t.test(`more than pendingSessionsMax (${pendingSessionsMax}) strangers evict the oldest; the manager still gets in`, bounded, async (t) => {
  // The auth timeout is pushed far out, so only eviction can close a stranger here.
  const { url, manager } = await startTestShell(t, { sessionAuthTimeoutMs: 600_000 });
  const extra = 3;
  const flood = await strangers(url, pendingSessionsMax + extra);
  t.teardown(() => flood.forEach((s) => s.ws.terminate()));
  await dropped(Promise.all(flood.slice(0, extra).map((s) => s.closed)), 'the oldest strangers');
  t.pass(`the ${extra} oldest strangers were closed`);
  const client = await managerSession(url, manager);
  t.teardown(() => client.close());
  t.equal((await client.status()).sectorCount, 16, 'the manager, connecting last, authenticates and is served');
  // Its own pending session evicted exactly one more: the oldest one left.
  await dropped(flood[extra].closed, 'the oldest stranger left');
  t.same(flood.slice(extra + 1).map((s) => s.isClosed()), flood.slice(extra + 1).map(() => false), 'every newer stranger is still connected');
});

t.test(`more than sessionsMax (${sessionsMax}) authenticated sessions evict the oldest`, bounded, async (t) => {
  const { url, manager } = await startTestShell(t);
  const clients: NodeClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  // Observer sessions, so that none fences another and only eviction can close them.
  for (let i = 0; i < sessionsMax + 1; i++) clients.push(await managerSession(url, manager, true));
  const first = await clients[0].batch([{ op: Op.status }]).then(() => 'resolved', (e: NodeError) => e.code);
  t.equal(first, 'E_CLOSED', 'the oldest session was closed');
  const rest = await Promise.all(clients.slice(1).map((c) => c.batch([{ op: Op.status }]).then(() => 'resolved', (e: NodeError) => e.code)));
  t.same(rest, clients.slice(1).map(() => 'resolved'), 'all newer sessions are served');
});

t.test('a connection that never upgrades is destroyed after upgradeTimeoutMs; an upgraded one is not', bounded, async (t) => {
  const { node, url, manager } = await startTestShell(t, { upgradeTimeoutMs: 100 });
  const client = await managerSession(url, manager);
  t.teardown(() => client.close());
  const silent = await rawSocket(node.port);
  const partial = await rawSocket(node.port);
  t.teardown(() => [silent, partial].forEach((c) => c.socket.destroy()));
  partial.socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'); // never finishes its headers
  await dropped(Promise.all([silent.closed, partial.closed]), 'the connections that never upgraded');
  t.pass('a silent connection and one stuck in its request headers were destroyed by the node');
  // Both connected after the manager's connection: its upgrade timer would have fired by now.
  t.notOk(client.closed, 'the upgraded manager session was not');
  t.equal((await client.status()).sectorCount, 16, 'and it is still served');
});

t.test('connections beyond connectionsMax are dropped at once', bounded, async (t) => {
  const { node } = await startTestShell(t, { connectionsMax: 2, upgradeTimeoutMs: 600_000 });
  const held = [await rawSocket(node.port), await rawSocket(node.port)];
  t.teardown(() => held.forEach((h) => h.socket.destroy()));
  const third = await rawSocket(node.port);
  t.teardown(() => third.socket.destroy());
  await dropped(third.closed, 'the connection beyond connectionsMax');
  t.pass('the third connection was dropped, before it sent a byte');
  t.notOk(held.some((h) => h.socket.destroyed), 'the two within the bound are kept');
});

t.test('connections that do not upgrade beyond their bound evict the oldest, so a manager still gets in', bounded, async (t) => {
  const { node, url, manager } = await startTestShell(t, { upgradingConnectionsMax: 2, upgradeTimeoutMs: 600_000 });
  const strangers = [await rawSocket(node.port), await rawSocket(node.port)];
  t.teardown(() => strangers.forEach((s) => s.socket.destroy()));
  const session = await managerSession(url, manager);
  t.teardown(() => session.close());
  await strangers[0].closed;
  t.pass('the oldest silent connection made room');
  t.equal((await session.status()).sectorCount, 16, 'the manager connected and is served');
});

t.test('a session the node refuses is closed with 4000 and the refusal code; the manager sees a failed session', bounded, async (t) => {
  const { url, manager } = await startTestShell(t);
  const older = await managerSession(url, manager);
  t.teardown(() => older.close());
  const newer = await managerSession(url, manager);
  t.teardown(() => newer.close());
  const err = await older.batch([{ op: Op.write, sector: 0, count: 1, data: Buffer.alloc(4096, 1) }]).catch((e: unknown) => e);
  t.ok(err instanceof NodeError && err.code === 'E_CLOSED', 'the fenced batch fails the session, it is not a refusal of the batch');
  t.match((err as Error).message, /4000 E_FENCED/, 'the close carries code 4000 and the reason E_FENCED');
  t.ok(older.closed, 'the older session is failed');
  t.equal(await newer.batch([{ op: Op.status }]).then(() => 'resolved'), 'resolved', 'the newer session is served');
});
