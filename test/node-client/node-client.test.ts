// The manager's session with one disk node (array-manager/node-client/
// node-client.ts), driven against the real protocol core over an in-process
// channel with faults: pipelining keeps results in order, the in-flight and
// waiting bounds hold, silence times out, and any reply that is forged,
// altered, replayed or unasked-for poisons the session: every pending batch
// fails with the same error and the channel is closed.
import t from 'tap';
import { NodeError, Op, type Command, type CommandResult } from '../../array-manager/node-client/frame-codec.ts';
import { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { inflightBatchesMax } from '../../disk-node/limits.ts';
import { signFrame } from '../../disk-node/wire.ts';
import { fakeProvider, fakeVerifyHello, pattern, testNode } from '../disk-node/fixtures.ts';
import { CoreChannel, openCoreClient, settle } from './core-channel.ts';

const sectorBytes = 4096;
const write = (sector: number, seed: number): Command => ({ op: Op.write, sector, count: 1, data: pattern(sectorBytes, 1, seed) });
const read = (sector: number): Command => ({ op: Op.read, sector, count: 1 });

/** The error code a promise rejected with, or 'resolved'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof NodeError ? err.code : `untyped: ${(err as Error).message}`;
  }
}

t.test('pipelining: 200 batches in flight resolve in order with their own data', async (t) => {
  const node = testNode(256);
  const { client, channel } = await openCoreClient(node, { inflightMax: 16 });
  let maxOutstanding = 0;
  let answered = 0;
  channel.replyHook = (reply) => {
    maxOutstanding = Math.max(maxOutstanding, channel.requests.length - answered++);
    return [reply];
  };
  const order: number[] = [];
  const batches = Array.from({ length: 200 }, (_, i) =>
    client.batch([write(i, i), read(i)]).then((results) => {
      order.push(i);
      return results;
    }),
  );
  const results = await Promise.all(batches);
  t.same(order, [...order].sort((a, b) => a - b), 'replies resolved in send order');
  t.ok(
    results.every((r: CommandResult[], i) => r[1].op === Op.read && r[1].data.equals(pattern(sectorBytes, 1, i))),
    'each batch got its own read back',
  );
  t.ok(maxOutstanding > 1 && maxOutstanding <= 16, `several in flight, never above the bound (saw ${maxOutstanding})`);
  const status = await client.status();
  t.equal(status.batchesExecuted, 200n);
  t.equal(status.bytesWritten, 200n * BigInt(sectorBytes));
  t.notOk(client.closed);
});

t.test('in-flight bound: the local bound and the node-announced bound, whichever is lower', async (t) => {
  for (const [local, expected] of [
    [4, 4],
    [1000, inflightBatchesMax],
  ]) {
    const node = testNode(8);
    const { client, channel } = await openCoreClient(node, { inflightMax: local });
    channel.hold = true;
    const batches = Array.from({ length: expected + 6 }, () => client.batch([{ op: Op.status }]));
    await settle();
    t.equal(channel.requests.length, expected, `inflightMax ${local}: ${expected} frames sent, the rest wait`);
    channel.hold = false;
    channel.release();
    t.same(new Set(await Promise.all(batches.map(outcome))), new Set(['resolved']), 'the waiting batches go out once slots free up');
    t.equal(channel.requests.length, expected + 6);
  }
});

t.test('E_BUSY: batches beyond the waiting bound are refused at once, the others still run', async (t) => {
  const node = testNode(8);
  const { client, channel } = await openCoreClient(node, { inflightMax: 1, waitingMax: 2 });
  channel.hold = true;
  const admitted = [client.batch([{ op: Op.status }]), client.batch([{ op: Op.status }]), client.batch([{ op: Op.status }])];
  await settle();
  t.equal(await outcome(client.batch([{ op: Op.status }])), 'E_BUSY');
  t.equal(channel.requests.length, 1, 'one in flight');
  channel.hold = false;
  channel.release();
  t.same(await Promise.all(admitted.map(outcome)), ['resolved', 'resolved', 'resolved']);
  t.notOk(client.closed, 'E_BUSY does not poison the session');
});

t.test('E_TIMEOUT: a node that never answers, and one that never says HELLO', async (t) => {
  // The client's timers are unreferenced (an abandoned session must not hold the process); this one keeps the test alive.
  const alive = setInterval(() => {}, 60_000);
  t.teardown(() => clearInterval(alive));
  const node = testNode(8);
  const { client, channel } = await openCoreClient(node, { timeoutMs: 50 });
  channel.hold = true;
  const pending = [client.batch([{ op: Op.status }]), client.batch([write(0, 1)])];
  t.same(await Promise.all(pending.map(outcome)), ['E_TIMEOUT', 'E_TIMEOUT'], 'every pending batch fails');
  t.ok(channel.closed, 'the channel is closed');
  t.equal(await outcome(client.batch([{ op: Op.status }])), 'E_TIMEOUT', 'later batches fail with the poisoning error');
  const mute = new CoreChannel(node.core, false);
  t.equal(await outcome(NodeClient.open(mute, { sign: node.manager.sign, verifyHello: fakeVerifyHello, timeoutMs: 50 })), 'E_TIMEOUT');
  t.ok(mute.closed);
});

t.test('E_ATTESTATION: altered replies and replies signed by another node poison the session', async (t) => {
  const impostor = fakeProvider();
  const alterations: [string, (reply: Buffer) => Buffer][] = [
    ['a flipped bit in the READ data', (r) => flip(r, 48 + 2 + 2 + 100)],
    ['a flipped bit in the signature', (r) => flip(r, r.length - 1)],
    ['a reply re-signed by another provider', (r) => signFrame(Buffer.from(r), impostor.sign)],
  ];
  for (const [name, alter] of alterations) {
    const node = testNode(8);
    const { client, channel } = await openCoreClient(node);
    channel.hold = true;
    const first = client.batch([write(1, 1), read(1)]);
    const second = client.batch([{ op: Op.status }]);
    await settle();
    channel.replyHook = (reply, index) => [index === 0 ? alter(reply) : reply];
    channel.release();
    t.same(await Promise.all([outcome(first), outcome(second)]), ['E_ATTESTATION', 'E_ATTESTATION'], `${name}: both pending batches fail`);
    t.ok(channel.closed && client.closed, `${name}: session closed`);
  }
});

t.test('E_ATTESTATION: a HELLO whose report signature is not the evidence key', async (t) => {
  const node = testNode(8);
  const channel = new CoreChannel(node.core);
  const opened = NodeClient.open(channel, {
    sign: node.manager.sign,
    // Claims the impostor's evidence: the HELLO was signed by the node's own provider, not by this key.
    verifyHello: (hello) => fakeVerifyHello({ ...hello, evidence: Buffer.from(fakeProvider().evidence) }),
    timeoutMs: 5000,
  });
  t.equal(await outcome(opened), 'E_ATTESTATION');
  t.ok(channel.closed);
});

t.test('E_NONCE: a replayed reply in place of the one expected', async (t) => {
  const node = testNode(8);
  const { client, channel } = await openCoreClient(node);
  let firstReply: Buffer | undefined;
  channel.replyHook = (reply, index) => {
    firstReply ??= reply;
    return [index === 1 ? firstReply : reply];
  };
  t.equal(await outcome(client.batch([{ op: Op.status }])), 'resolved');
  const replayed = client.batch([{ op: Op.status }]);
  t.equal(await outcome(replayed), 'E_NONCE', 'an old, genuinely attested reply does not answer a new batch');
  t.ok(channel.closed);
});

t.test('a duplicated reply with nothing in flight, and a reply to a batch never sent', async (t) => {
  const node = testNode(8);
  const { client, channel } = await openCoreClient(node);
  channel.replyHook = (reply) => [reply, reply];
  t.equal(await outcome(client.batch([{ op: Op.status }])), 'resolved', 'the first copy answers the batch');
  await settle();
  t.ok(client.closed && channel.closed, 'the second copy, answering nothing, poisons the session');
  t.equal(await outcome(client.batch([{ op: Op.status }])), 'E_FRAME');

  // A genuine, attested reply from the same node to another session's batch with the same counter.
  const b = await openCoreClient(node);
  b.channel.hold = true;
  const pending = b.client.batch([{ op: Op.status }]);
  await settle();
  const stray = await openCoreClient(node);
  let strayReply: Buffer | undefined;
  stray.channel.replyHook = (reply) => ((strayReply = reply), [reply]);
  await stray.client.batch([{ op: Op.status }]);
  b.channel.inject(strayReply!);
  t.equal(await outcome(pending), 'E_NONCE', 'a reply for the right op but another nonce');
  t.ok(b.channel.closed);
});

t.test('a poisoned session fails every pending and waiting batch and closes the channel', async (t) => {
  const node = testNode(8);
  const { client, channel } = await openCoreClient(node, { inflightMax: 3 });
  channel.hold = true;
  const batches = Array.from({ length: 7 }, (_, i) => client.batch([write(i, i)]));
  await settle();
  t.equal(channel.requests.length, 3);
  channel.inject(Buffer.from('garbage that is not a reply frame at all, but long enough to have a header and more'));
  const outcomes = await Promise.all(batches.map(outcome));
  t.same(new Set(outcomes), new Set(['E_FRAME']), 'in flight and waiting alike fail with the poisoning error');
  t.ok(channel.closed && client.closed);
  t.equal(channel.requests.length, 3, 'no waiting batch was sent after the poisoning');
});

t.test('refusals by the node reject the batch but keep the session', async (t) => {
  const node = testNode(8);
  const { client } = await openCoreClient(node);
  const err = await client.batch([write(0, 1), read(8)]).catch((e: unknown) => e);
  t.ok(err instanceof NodeError && err.code === 'E_RANGE' && /0:E_NOT_EXECUTED 1:E_RANGE/.test(err.message), 'E_RANGE names the command');
  t.notOk(client.closed);
  t.equal(await outcome(client.batch([{ op: Op.status }])), 'resolved');
  t.equal(await outcome(client.batch([])), 'E_TOO_LARGE', 'an empty batch');
  const tooMany = Array.from({ length: client.hello.batchCommandsMax + 1 }, (): Command => ({ op: Op.status }));
  t.equal(await outcome(client.batch(tooMany)), 'E_TOO_LARGE', 'more commands than the node accepts');
  const tooBig: Command = { op: Op.write, sector: 0, count: 1100, data: Buffer.alloc(1100 * sectorBytes) };
  t.equal(await outcome(client.batch([tooBig])), 'E_TOO_LARGE', 'a frame above the announced frameBytesMax');
  t.notOk(client.closed);
  t.equal(await outcome(client.batch([read(0)])), 'resolved', 'the session still works');
});

function flip(frame: Buffer, at: number): Buffer {
  const copy = Buffer.from(frame);
  copy[at] ^= 0x01;
  return copy;
}

