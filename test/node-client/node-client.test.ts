// The manager's session with one disk node (array-manager/node-client/
// node-client.ts), driven against the real protocol core over an in-process
// channel with faults: pipelining keeps results in order, the in-flight and
// waiting bounds hold, silence times out, and any reply that is forged,
// altered (any one bit of it), replayed, unasked-for, reflected or MACed
// under any key but this session's reply key poisons the session: every
// pending batch fails with the same error and the channel is closed. A node
// that closes the session (a tampered, replayed or re-flagged request, a
// newer session fenced this one) fails the session, never just the batch. A
// HELLO whose instance key is a low-order point, or a man in the middle's own
// key, never gets a session opened.
import t from 'tap';
import { NodeError, Op, Status, type Command, type CommandResult } from '../../array-manager/node-client/frame-codec.ts';
import { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { inflightBatchesMax } from '../../disk-node/limits.ts';
import type { Session } from '../../disk-node/node-core.ts';
import { allocReply, decodeRequest, flagObserve, mac, macBytes, readOnlyOps, requestHeaderBytes } from '../../disk-node/wire.ts';
import { pattern, storeDigest, testClientOptions, testNode, type TestNode } from '../disk-node/fixtures.ts';
import { CoreChannel, lowOrderX25519, openCoreClient, settle, substituteInstanceKey } from './core-channel.ts';

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

t.test('E_ATTESTATION: altered replies, and replies MACed under any key but the session reply key, poison the session', async (t) => {
  const alterations: [string, (reply: Buffer, channel: CoreChannel, node: TestNode, otherSession: CoreChannel) => Buffer][] = [
    ['a flipped bit in the READ data', (r) => flip(r, 48 + 2 + 2 + 100)],
    ['a flipped bit in the MAC', (r) => flip(r, r.length - 1)],
    ['the MAC zeroed', (r) => Buffer.from(r).fill(0, r.length - macBytes)],
    ['the reply MACed under the session request key (reflection)', (r, channel) => remac(r, channel.session.keys!.request)],
    ['the same reply as another instance would MAC it for this open frame', (r, channel, node) => remac(r, otherInstanceReplyKey(node, channel))],
    ["the reply MACed under another session's reply key on the same node", (r, _, __, other) => remac(r, other.session.keys!.reply)],
  ];
  for (const [name, alter] of alterations) {
    const node = testNode(8);
    const { client, channel } = await openCoreClient(node);
    channel.hold = true;
    const first = client.batch([write(1, 1), read(1)]);
    const second = client.batch([{ op: Op.status }]);
    await settle();
    const firstIndex = channel.requests.length - 2;
    const other = await openCoreClient(node, { observe: true });
    channel.replyHook = (reply, index) => [index === firstIndex ? alter(reply, channel, node, other.channel) : reply];
    channel.release();
    t.same(await Promise.all([outcome(first), outcome(second)]), ['E_ATTESTATION', 'E_ATTESTATION'], `${name}: both pending batches fail`);
    t.ok(channel.closed && client.closed, `${name}: session closed`);
  }
});

/** `reply` with its MAC recomputed under `key`. */
function remac(reply: Buffer, key: Uint8Array): Buffer {
  const forged = Buffer.from(reply);
  forged.set(mac(key, forged.subarray(0, forged.length - macBytes)), forged.length - macBytes);
  return forged;
}

/**
 * The reply key another disk-node instance launched for the same manager
 * derives for this session: it is handed the session's open frame on a session
 * with the same challenge, accepts it (same manager, same challenge) and
 * derives its keys from its own instance key and the manager's session key.
 */
function otherInstanceReplyKey(node: TestNode, channel: CoreChannel): Buffer {
  const other = testNode(8, 4096, node.manager);
  const session: Session = { challenge: Buffer.from(channel.session.challenge), seq: 1n, lastCounter: 0n };
  const answer = other.core.handle(session, channel.requests[0]);
  if (!Buffer.isBuffer(answer)) throw new Error(`the other instance closed: ${answer.close}`);
  return session.keys!.reply;
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
  t.same(decodeRequest(channel.requests[0], 4096, true).commands, [{ op: Op.attest }, { op: Op.deathRead }], 'the first batch of a session is its open frame: ATTEST with DEATH_READ, both read-only');
  t.equal(channel.requests[1], undefined, 'and the only frame sent before open resolved');
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

t.test('E_NONCE: a reply MACed by the right instance with the right counter answers another request', async (t) => {
  const node = testNode(8);
  // A genuine reply from the same instance to another session's batch of the same shape with the same counter:
  // the request digest differs (and the MAC key). (The same batch would have the same digest: see the next test.)
  const b = await openCoreClient(node);
  b.channel.hold = true;
  const pending = b.client.batch([read(1)]);
  await settle();
  const stray = await openCoreClient(node);
  let strayReply: Buffer | undefined;
  stray.channel.replyHook = (reply) => ((strayReply = reply), [reply]);
  await stray.client.batch([read(0)]);
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
  t.same(new Set(outcomes), new Set(['E_VERSION']), 'in flight and waiting alike fail with the poisoning error (its first byte is not version 3)');
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

t.test('a refusal forged with the right counter and request digest but without the reply key poisons the session', async (t) => {
  const node = testNode(8);
  const { client, channel } = await openCoreClient(node);
  channel.hold = true;
  const batch = client.batch([write(0, 1)]);
  await settle();
  // Everything a relay can compute from the request it carries: the counter and the batch digest.
  const request = decodeRequest(channel.requests.at(-1)!, 4096, false);
  const { frame: forged } = allocReply({ counter: request.counter, digest: request.digest }, Status.range, [{ op: Op.write, status: Status.range, payloadBytes: 0 }]);
  forged.fill(0, forged.length - macBytes);
  channel.inject(forged);
  t.equal(await outcome(batch), 'E_ATTESTATION', 'not E_RANGE: the client never takes an unMACed refusal for the node\'s');
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

t.test('E_ATTESTATION: the same batch on another session of the same node, with the same counter and digest, answered by that session', async (t) => {
  const node = testNode(8);
  // A request frame names no session: two sessions that send the same batch with the same counter have the same batch
  // digest, so the other session's genuine reply has the right counter and digest; only its MAC key tells it apart.
  const a = await openCoreClient(node, { observe: true });
  const b = await openCoreClient(node, { observe: true });
  b.channel.hold = true;
  const pending = b.client.batch([{ op: Op.status }]);
  await settle();
  let theirs: Buffer | undefined;
  a.channel.replyHook = (reply) => ((theirs = reply), [reply]);
  await a.client.batch([{ op: Op.status }]);
  t.same(decodeRequest(a.channel.requests[1], 4096, false).digest, decodeRequest(b.channel.requests[1], 4096, false).digest, 'the same batch digest on both sessions');
  t.same(theirs!.subarray(0, 48), Buffer.concat([theirs!.subarray(0, 16), decodeRequest(b.channel.requests[1], 4096, false).digest]), 'so their reply names our counter and digest');
  b.channel.inject(theirs!);
  t.equal(await outcome(pending), 'E_ATTESTATION', 'refused on its MAC');
  t.ok(b.client.closed && b.channel.closed);
});

t.test('every single bit of a reply flipped poisons the session; past the layout and the request ids, with E_ATTESTATION', async (t) => {
  const node = testNode(8);
  const commands: Command[] = [{ op: Op.status }];
  let length = 0;
  {
    const { client, channel } = await openCoreClient(node, { observe: true });
    channel.replyHook = (reply) => ((length = reply.length), [reply]);
    await client.batch(commands);
    client.close();
  }
  t.equal(length, 48 + 2 + 72 + macBytes, 'a STATUS reply: header, result, payload, MAC');
  /** What a flip at byte `at` to `value` may give besides E_ATTESTATION: the layout and the request ids are checked before the MAC. */
  const layout = (at: number, value: number): string | undefined =>
    at < 2 ? 'E_VERSION' : at < 6 || at === 48 || (at === 49 && value >= 12) ? 'E_FRAME' : at >= 8 && at < 48 ? 'E_NONCE' : undefined;
  const wrong: string[] = [];
  const codes = new Map<string, number>();
  for (let bit = 0; bit < length * 8; bit++) {
    const [at, mask] = [bit >> 3, 1 << (bit & 7)];
    const { client, channel } = await openCoreClient(node, { observe: true });
    const target = channel.requests.length;
    let value = 0;
    channel.replyHook = (reply, index) => (index === target ? ((value = reply[at] ^ mask), [flip(reply, at, mask)]) : [reply]);
    const code = await outcome(client.batch(commands));
    codes.set(code, (codes.get(code) ?? 0) + 1);
    const allowed = new Set(['E_ATTESTATION', layout(at, value)]);
    if (!allowed.has(code) || !client.closed || !channel.closed) wrong.push(`byte ${at} mask ${mask}: ${code}${client.closed ? '' : ', session not closed'}`);
  }
  t.same(wrong, [], `all ${length * 8} flips poison the session: ${JSON.stringify(Object.fromEntries(codes))}`);
  t.notOk(codes.has('resolved'), 'no altered reply was taken');
});

t.test('reflection to the client: its own request, or the node\'s reply to another batch, in place of the reply', async (t) => {
  const cases: [string, (reply: Buffer, channel: CoreChannel) => Buffer, string][] = [
    ['the request frame itself', (_, channel) => channel.requests.at(-1)!, 'E_VERSION'],
    ['the request frame relabelled as a reply', (_, channel) => flip(channel.requests.at(-1)!, 1, 3 ^ 4), 'E_FRAME'],
    ['the open frame', (_, channel) => channel.requests[0], 'E_VERSION'],
  ];
  for (const [name, reflect, code] of cases) {
    const node = testNode(8);
    const { client, channel } = await openCoreClient(node);
    channel.replyHook = (reply) => [reflect(reply, channel)];
    t.equal(await outcome(client.batch([write(0, 1)])), code, `${name}: ${code}`);
    t.ok(client.closed && channel.closed, `${name}: poisoned`);
  }
});

t.test('a man in the middle of the requests: a replayed request, a request re-flagged as an observer\'s, a reply sent back as a request, all close the session', async (t) => {
  const cases: [string, (request: Buffer, channel: CoreChannel, lastReply: Buffer) => Buffer, string][] = [
    ['the previous request again (valid MAC, used counter)', (_, channel) => channel.requests.at(-2)!, 'E_REPLAY'],
    ['the observer flag set', (r) => flip(r, 5, flagObserve), 'E_SIGNATURE'],
    ['a reserved bit set', (r) => flip(r, 7), 'E_SIGNATURE'],
    ['the counter raised', (r) => flip(r, 8), 'E_SIGNATURE'],
    ["the node's last reply as the request", (_, __, lastReply) => lastReply, 'E_VERSION'],
  ];
  for (const [name, tamper, code] of cases) {
    const node = testNode(8);
    const { client, channel } = await openCoreClient(node);
    let lastReply: Buffer = Buffer.alloc(0);
    channel.replyHook = (reply) => ((lastReply = reply), [reply]);
    t.equal(await outcome(client.batch([write(0, 1)])), 'resolved');
    const before = storeDigest(node.core.store);
    const executed = node.core.stats.batchesExecuted;
    const tampered = channel.requests.length;
    channel.requestHook = (request, index) => (index === tampered ? tamper(request, channel, lastReply) : request);
    t.equal(await outcome(client.batch([write(0, 2)])), 'E_CLOSED', `${name}: the batch fails E_CLOSED`);
    t.equal(channel.closedBy, code, `${name}: the node closed with ${code}`);
    t.equal(node.core.stats.batchesExecuted, executed, `${name}: nothing ran`);
    t.equal(storeDigest(node.core.store), before, `${name}: the store is unchanged`);
  }
});

t.test('a HELLO whose instance key is a low-order X25519 point: E_ATTESTATION before anything is sent', async (t) => {
  const node = testNode(8);
  for (const [name, point] of lowOrderX25519) {
    const channel = new CoreChannel(node.core);
    channel.helloHook = (hello) => Buffer.concat([hello.subarray(0, 64), point]);
    t.equal(await outcome(NodeClient.open(channel, testClientOptions(node.manager, 5000))), 'E_ATTESTATION', `${name}: E_ATTESTATION`);
    t.same([channel.requests.length, channel.closed], [0, true], `${name}: nothing sent, channel closed`);
  }
  t.equal(node.core.stats.batchesExecuted, 0n);
});

t.test('a HELLO with another instance key: a relay that cannot MAC fails on the MAC, one that can fails on the evidence; no store-changing batch is sent', async (t) => {
  const node = testNode(8);
  const other = testNode(8, 4096, node.manager);
  const cases: [string, (channel: CoreChannel) => void][] = [
    ["another genuine instance's key, the replies untouched", (channel) => (channel.helloHook = (h) => Buffer.concat([h.subarray(0, 64), other.core.instancePublicKey]))],
    ["the relay's own key, the replies re-MACed under the keys it gives", (channel) => void substituteInstanceKey(channel)],
  ];
  for (const [name, attack] of cases) {
    const before = storeDigest(node.core.store);
    const channel = new CoreChannel(node.core);
    attack(channel);
    const opened = NodeClient.open(channel, testClientOptions(node.manager, 5000));
    const err = await opened.then(() => undefined, (e: unknown) => e as NodeError);
    t.equal(err?.code, 'E_ATTESTATION', `${name}: E_ATTESTATION (${err?.message})`);
    t.ok(channel.closed, `${name}: channel closed`);
    t.ok(channel.requests.every((r, i) => decodeRequest(r, 4096, i === 0).commands.every((c) => readOnlyOps.has(c.op))), `${name}: every frame sent is read-only`);
    t.equal(channel.requests.length, 1, `${name}: only the open frame`);
    t.equal(storeDigest(node.core.store), before, `${name}: the store is unchanged`);
  }
});

function flip(frame: Buffer, at: number, mask = 0x01): Buffer {
  const copy = Buffer.from(frame);
  copy[at] ^= mask;
  return copy;
}

