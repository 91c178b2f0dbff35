// The manager's session with one disk node (array-manager/node-client/
// node-client.ts), driven against the real protocol core over an in-process
// channel with faults: pipelining keeps results in order, the in-flight and
// waiting bounds hold, silence times out, and any reply that is forged,
// altered, replayed, unasked-for or signed by another instance poisons the
// session: every pending batch fails with the same error and the channel is
// closed. A node that closes the session (a tampered request, a newer session
// fenced this one) fails the session, never just the batch.
import t from 'tap';
import { NodeError, Op, Status, type Command, type CommandResult } from '../../array-manager/node-client/frame-codec.ts';
import { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { inflightBatchesMax } from '../../disk-node/limits.ts';
import { allocReply, decodeRequest, requestHeaderBytes } from '../../disk-node/wire.ts';
import { pattern, testClientOptions, testNode, type TestNode } from '../disk-node/fixtures.ts';
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
  let answered = channel.requests.length; // the session's ATTEST, answered before open resolved
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
  t.equal(status.batchesExecuted, 1n + 200n, 'the session ATTEST and the 200 batches');
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
    const attest = channel.requests.length;
    channel.hold = true;
    const batches = Array.from({ length: expected + 6 }, () => client.batch([{ op: Op.status }]));
    await settle();
    t.equal(channel.requests.length - attest, expected, `inflightMax ${local}: ${expected} frames sent, the rest wait`);
    channel.hold = false;
    channel.release();
    t.same(new Set(await Promise.all(batches.map(outcome))), new Set(['resolved']), 'the waiting batches go out once slots free up');
    t.equal(channel.requests.length - attest, expected + 6);
  }
});

t.test('E_BUSY: batches beyond the waiting bound are refused at once, the others still run', async (t) => {
  const node = testNode(8);
  const { client, channel } = await openCoreClient(node, { inflightMax: 1, waitingMax: 2 });
  channel.hold = true;
  const admitted = [client.batch([{ op: Op.status }]), client.batch([{ op: Op.status }]), client.batch([{ op: Op.status }])];
  await settle();
  t.equal(await outcome(client.batch([{ op: Op.status }])), 'E_BUSY');
  t.equal(channel.requests.length, 1 + 1, 'the ATTEST answered, one batch in flight');
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
  t.equal(await outcome(NodeClient.open(mute, testClientOptions(node.manager, 50))), 'E_TIMEOUT');
  t.ok(mute.closed);
});

t.test('E_ATTESTATION: altered replies and replies signed by another instance poison the session', async (t) => {
  const alterations: [string, (reply: Buffer, request: Buffer, node: TestNode) => Buffer][] = [
    ['a flipped bit in the READ data', (r) => flip(r, 48 + 2 + 2 + 100)],
    ['a flipped bit in the signature', (r) => flip(r, r.length - 1)],
    ['the same request answered by another instance', (_, request, node) => otherInstanceReply(node, request)],
  ];
  for (const [name, alter] of alterations) {
    const node = testNode(8);
    const { client, channel } = await openCoreClient(node);
    channel.hold = true;
    const first = client.batch([write(1, 1), read(1)]);
    const second = client.batch([{ op: Op.status }]);
    await settle();
    const firstIndex = channel.requests.length - 2;
    channel.replyHook = (reply, index) => [index === firstIndex ? alter(reply, channel.requests[index], node) : reply];
    channel.release();
    t.same(await Promise.all([outcome(first), outcome(second)]), ['E_ATTESTATION', 'E_ATTESTATION'], `${name}: both pending batches fail`);
    t.ok(channel.closed && client.closed, `${name}: session closed`);
  }
});

/**
 * A genuine reply to `request` by another disk-node instance launched for the
 * same manager: it is handed the request on a session with the same challenge,
 * so its reply has the right counter and request digest, and only the instance
 * key that signs it differs.
 */
function otherInstanceReply(node: TestNode, request: Buffer): Buffer {
  const other = testNode(8, 4096, node.manager);
  const { session } = decodeRequest(request, 4096);
  const reply = other.core.handle({ challenge: Buffer.from(session), seq: 1n, lastCounter: 0n }, request);
  if (!Buffer.isBuffer(reply)) throw new Error(`the other instance closed: ${reply.close}`);
  return reply;
}

t.test('NodeClient.open refuses a node whose session evidence does not verify, and closes the channel', async (t) => {
  const node = testNode(8);
  const cases: [string, Parameters<typeof openCoreClient>[1]][] = [
    ['evidence of another session', { verifyEvidence: (evidence, expected) => testClientOptions(node.manager, 0).verifyEvidence(evidence, { ...expected, reportData: Buffer.alloc(32) }) }],
    ['a verifier that refuses the platform', { verifyEvidence: () => { throw new NodeError('E_ATTESTATION', 'untrusted platform'); } }],
  ];
  for (const [name, opts] of cases) {
    const channel = new CoreChannel(node.core);
    t.equal(await outcome(NodeClient.open(channel, { ...testClientOptions(node.manager, 5000), ...opts })), 'E_ATTESTATION', name);
    t.ok(channel.closed, `${name}: channel closed`);
  }
  const channel = new CoreChannel(node.core);
  const client = await NodeClient.open(channel, testClientOptions(node.manager, 5000));
  t.same(client.peer.instanceId, node.core.instanceId, 'a verified session names the instance its HELLO key derives');
  t.same(decodeRequest(channel.requests[0], 4096).commands, [{ op: Op.attest }, { op: Op.deathRead }], 'the first batch of a session is ATTEST with DEATH_READ, both read-only');
  t.same(client.openingRecord(), { version: 0n, record: Buffer.alloc(0) }, 'the membership record it read is the session opener\'s, with no round trip of its own');
  await client.batch([{ op: Op.status }]);
  t.equal(client.openingRecord(), undefined, 'and no longer once another batch went out on the session (it may have changed the record)');
});

t.test('E_NONCE: a replayed reply in place of the one expected', async (t) => {
  const node = testNode(8);
  const { client, channel } = await openCoreClient(node);
  let firstReply: Buffer | undefined;
  channel.replyHook = (reply, index) => {
    firstReply ??= reply;
    return [index === 2 ? firstReply : reply];
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
});

t.test('E_NONCE: a reply signed by the right instance with the right counter answers another request', async (t) => {
  const node = testNode(8);
  // A genuine reply from the same instance to another session's batch with the same counter: only the request digest differs.
  const b = await openCoreClient(node);
  b.channel.hold = true;
  const pending = b.client.batch([{ op: Op.status }]);
  await settle();
  const stray = await openCoreClient(node);
  let strayReply: Buffer | undefined;
  stray.channel.replyHook = (reply) => ((strayReply = reply), [reply]);
  await stray.client.batch([{ op: Op.status }]);
  t.same(strayReply!.readBigUInt64BE(8), b.channel.requests.at(-1)!.readBigUInt64BE(8), 'the same counter');
  b.channel.inject(strayReply!);
  t.equal(await outcome(pending), 'E_NONCE', 'a reply for the right op and counter but another request digest');
  t.ok(b.channel.closed);
});

t.test('a poisoned session fails every pending and waiting batch and closes the channel', async (t) => {
  const node = testNode(8);
  const { client, channel } = await openCoreClient(node, { inflightMax: 3 });
  channel.hold = true;
  const batches = Array.from({ length: 7 }, (_, i) => client.batch([write(i, i)]));
  await settle();
  const sent = channel.requests.length;
  t.equal(sent, 1 + 3, 'the ATTEST, then three batches in flight');
  channel.inject(Buffer.from('garbage that is not a reply frame at all, but long enough to have a header and more'));
  const outcomes = await Promise.all(batches.map(outcome));
  t.same(new Set(outcomes), new Set(['E_FRAME']), 'in flight and waiting alike fail with the poisoning error');
  t.ok(channel.closed && client.closed);
  t.equal(channel.requests.length, sent, 'no waiting batch was sent after the poisoning');
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

t.test('a man in the middle: a tampered request closes the session, never reads as a refusal of the batch', async (t) => {
  const tamperings: [string, (request: Buffer) => Buffer][] = [
    ['a flipped bit in the WRITE data', (r) => flip(r, requestHeaderBytes + 9 + 7)],
    ['the header kept, the rest garbage', (r) => Buffer.concat([r.subarray(0, requestHeaderBytes), Buffer.alloc(r.length - requestHeaderBytes, 0x33)])],
    ['the sector moved out of range', (r) => Buffer.from(r).fill(0xff, requestHeaderBytes + 1, requestHeaderBytes + 5)],
  ];
  for (const [name, tamper] of tamperings) {
    const node = testNode(8);
    const { client, channel } = await openCoreClient(node);
    const tampered = channel.requests.length;
    channel.requestHook = (request, index) => (index === tampered ? tamper(request) : request);
    const batch = client.batch([write(1, 1)]);
    const waiting = client.batch([{ op: Op.status }]);
    const err = await batch.catch((e: unknown) => e);
    t.ok(err instanceof NodeError && err.code === 'E_CLOSED', `${name}: the batch fails with E_CLOSED (${(err as Error).message})`);
    t.match(channel.closedBy, /^E_/, `${name}: the node closed the session (${channel.closedBy}) instead of answering`);
    t.equal(await outcome(waiting), 'E_CLOSED', `${name}: so does every other batch of the session`);
    t.ok(client.closed, `${name}: the session is failed`);
    t.equal(node.core.stats.batchesExecuted, 1n, `${name}: only the ATTEST ran`);
  }
});

t.test('a refusal forged with the right counter and request digest but without the instance key poisons the session', async (t) => {
  const node = testNode(8);
  const { client, channel } = await openCoreClient(node);
  channel.hold = true;
  const batch = client.batch([write(0, 1)]);
  await settle();
  // Everything a relay can compute from the request it carries: the counter and the batch digest.
  const request = decodeRequest(channel.requests.at(-1)!, 4096);
  const { frame: forged } = allocReply({ counter: request.counter, digest: request.digest }, Status.range, [{ op: Op.write, status: Status.range, payloadBytes: 0 }]);
  channel.inject(forged);
  t.equal(await outcome(batch), 'E_ATTESTATION', 'not E_RANGE: the client never takes an unsigned refusal for the node\'s');
  t.ok(client.closed && channel.closed);
});

t.test('fence: a newer manager session closes the older one on its next batch; observer sessions fence nothing', async (t) => {
  const node = testNode(8);
  const older = await openCoreClient(node);
  t.equal(await outcome(older.client.batch([write(0, 1)])), 'resolved');
  const newer = await openCoreClient(node);
  t.equal(await outcome(older.client.batch([write(0, 2)])), 'E_CLOSED', 'the older session, fenced by the newer ATTEST, fails');
  t.equal(older.channel.closedBy, 'E_FENCED');
  const observer = await openCoreClient(node, { observe: true });
  t.equal(await outcome(observer.client.batch([write(0, 3)])), 'E_READ_ONLY', 'an observer session does not send a mutating batch');
  const [data] = await observer.client.batch([read(0)]);
  t.ok(data.op === Op.read && data.data.equals(pattern(sectorBytes, 1, 1)), 'it reads; the fenced batch did not run');
  t.equal(await outcome(newer.client.batch([write(0, 4)])), 'resolved', 'the newer session still runs: observer batches do not fence');
  t.notOk(observer.client.closed);
});

function flip(frame: Buffer, at: number): Buffer {
  const copy = Buffer.from(frame);
  copy[at] ^= 0x01;
  return copy;
}

