// The session rules of protocol v2 on the in-process core (node-core.ts):
// - the fence: once a newer session ran a batch that is not an observer's, a
//   non-observer batch on an older session closes it with E_FENCED and runs
//   nothing; observer batches neither raise nor hit the fence, and may hold
//   only read-only commands (E_READ_ONLY);
// - pre-auth: a frame that does not parse, names another session, is not
//   signed by the manager or is not fresh gets no reply (the core answers
//   { close }), and the parse and session failures cost no signature work
//   (no Ed25519 sign or verify, no platform report);
// - a man in the middle cannot make the node sign a refusal of the manager's
//   real batch;
// - ATTEST returns the platform's report over the session, and the COPY+TRIM
//   work bound refuses a batch before anything runs.
import t from 'tap';
import crypto from 'node:crypto';
import { Op, Status, type Command } from '../../array-manager/node-client/frame-codec.ts';
import { batchWorkBytesMax, preAuthFrameBytesMax } from '../../disk-node/limits.ts';
import { encodeLaunch, flagObserve, sessionReportData, signatureBytes, requestHeaderBytes } from '../../disk-node/wire.ts';
import type { AttestationProvider } from '../../attestation/provider.ts';
import { closeCode, exchange, fakeProvider, fakeVerifyEvidence, managerKeys, openTestSession, pattern, storeDigest, testNode, withCrypto, type TestNode } from './fixtures.ts';

const sectorBytes = 4096;
const write = (sector: number, seed: number): Command => ({ op: Op.write, sector, count: 1, data: pattern(sectorBytes, 1, seed) });
const observe = { flags: flagObserve };

/** The core's answer to `frame` on session `s`: 'reply' or the code it closed with, and whether the store changed. */
function outcome(node: TestNode, s: ReturnType<typeof openTestSession>, frame: Buffer): { answer: string; storeChanged: boolean } {
  const before = storeDigest(node.core.store);
  const answer = closeCode(node.core.handle(s.session, frame));
  return { answer, storeChanged: storeDigest(node.core.store) !== before };
}

t.test('fence: a newer session that ran a batch fences older sessions; nothing of theirs runs', async (t) => {
  const node = testNode(8);
  const older = openTestSession(node);
  const old2 = openTestSession(node);
  const newer = openTestSession(node);
  t.equal(exchange(node, older, [write(0, 1)]).batchStatus, Status.ok, 'the older session runs while no newer one has');
  t.equal(exchange(node, newer, [write(1, 2)]).batchStatus, Status.ok, 'the newer session runs');
  const executed = node.core.stats.batchesExecuted;
  t.same(outcome(node, older, older.frame([write(0, 3)]).frame), { answer: 'E_FENCED', storeChanged: false }, 'an older session that ran before');
  t.same(outcome(node, old2, old2.frame([{ op: Op.status }]).frame), { answer: 'E_FENCED', storeChanged: false }, 'an older session that never ran, even for STATUS');
  t.equal(node.core.stats.batchesExecuted, executed, 'no fenced batch executed');
  t.equal(exchange(node, newer, [write(0, 4)]).batchStatus, Status.ok, 'the newer session keeps running');
  t.equal(exchange(node, openTestSession(node), [write(0, 5)]).batchStatus, Status.ok, 'a session opened later runs, and fences in turn');
  t.equal(closeCode(node.core.handle(newer.session, newer.frame([write(0, 6)]).frame)), 'E_FENCED', 'the once-newer session is fenced now');
});

t.test('observer batches: run on fenced sessions, never fence, and hold only read-only commands', async (t) => {
  const node = testNode(8);
  const older = openTestSession(node);
  const newer = openTestSession(node);
  exchange(node, newer, [write(2, 7)]);
  const read = exchange(node, older, [{ op: Op.read, sector: 2, count: 1 }, { op: Op.status }, { op: Op.deathRead }, { op: Op.attest }], observe);
  t.equal(read.batchStatus, Status.ok, 'an observer batch on a fenced session runs');
  t.ok(read.results[0].op === Op.read && read.results[0].data.equals(pattern(sectorBytes, 1, 7)), 'and reads what the newer session wrote');

  const watcher = openTestSession(node);
  t.equal(exchange(node, watcher, [{ op: Op.status }], observe).batchStatus, Status.ok, 'a newest session runs an observer batch');
  t.equal(exchange(node, newer, [write(3, 8)]).batchStatus, Status.ok, 'it did not fence the older serving session');

  const before = storeDigest(node.core.store);
  const executed = node.core.stats.batchesExecuted;
  const mutating: [string, Command][] = [
    ['WRITE', write(0, 9)],
    ['COPY', { op: Op.copy, src: 2, dst: 4, count: 1 }],
    ['TRIM', { op: Op.trim, sector: 2, count: 1 }],
    ['DEATH_WRITE', { op: Op.deathWrite, version: 5n, record: Buffer.from('x') }],
  ];
  for (const [name, command] of mutating) {
    const r = exchange(node, watcher, [{ op: Op.read, sector: 2, count: 1 }, command], observe);
    t.equal(r.batchStatus, Status.readOnly, `${name} in an observer batch is E_READ_ONLY`);
    t.same(r.statuses, [Status.notExecuted, Status.readOnly], `${name}: the READ before it did not run`);
  }
  t.equal(storeDigest(node.core.store), before, 'no read-only refusal changed the store');
  t.equal(node.core.stats.batchesExecuted, executed);
  t.equal(exchange(node, newer, [write(4, 10)]).batchStatus, Status.ok, 'refused observer batches did not fence either');
});

/** Counts Ed25519 signs and verifies (node:crypto, as node-core.ts imports it) while `fn` runs. */
function countCrypto<T>(fn: () => T): { result: T; signs: number; verifies: number } {
  const { sign, verify } = crypto;
  const counts = { signs: 0, verifies: 0 };
  const result = withCrypto(
    {
      sign: (...args: Parameters<typeof sign>) => (counts.signs++, sign(...args)),
      verify: (...args: Parameters<typeof verify>) => (counts.verifies++, verify(...args)),
    } as Partial<typeof crypto>,
    fn,
  );
  return { result, ...counts };
}

/** A fake provider that counts its reports. */
function countingProvider(): AttestationProvider & { reports: number } {
  const inner = fakeProvider();
  const p = { platform: inner.platform, reports: 0, report: (data: Uint8Array) => (p.reports++, inner.report(data)) };
  return p;
}

t.test('pre-auth failures: { close } with the code, no reply, nothing run, no signature work for parse and session failures', async (t) => {
  t.equal(countCrypto(() => crypto.verify(null, Buffer.alloc(1), crypto.generateKeyPairSync('ed25519').publicKey, Buffer.alloc(64))).verifies, 1, 'the counter sees node:crypto calls');
  const provider = countingProvider();
  const node = testNode(32, sectorBytes, managerKeys(), provider);
  const s = openTestSession(node);
  const big: Command = { op: Op.write, sector: 0, count: 17, data: pattern(sectorBytes, 17, 1) };
  const oversized = s.frame([big], { counter: 1000n }).frame;
  t.ok(oversized.length > preAuthFrameBytesMax, 'the oversized frame is above the pre-auth bound');
  const genuine = s.frame([write(0, 2), { op: Op.attest }], { counter: 1n });
  const tampered = Buffer.from(genuine.frame);
  tampered[requestHeaderBytes + 9] ^= 1; // one bit of the WRITE's data: counter, session and nonce untouched
  const cases: [string, Buffer, string, { verifies: number }][] = [
    ['garbage', Buffer.alloc(200, 0x41), 'E_VERSION', { verifies: 0 }],
    ['an empty frame', Buffer.alloc(0), 'E_FRAME', { verifies: 0 }],
    ['a header without a signature', genuine.frame.subarray(0, requestHeaderBytes + 10), 'E_FRAME', { verifies: 0 }],
    ['a first frame above preAuthFrameBytesMax', oversized, 'E_TOO_LARGE', { verifies: 0 }],
    ['another session', s.frame([write(0, 3)], { sessionId: Buffer.alloc(32, 9) }).frame, 'E_SESSION', { verifies: 0 }],
    ['a signature by another key', s.frame([write(0, 3)], { sign: managerKeys().sign }).frame, 'E_SIGNATURE', { verifies: 1 }],
    ["the manager's frame with one data bit flipped", tampered, 'E_SIGNATURE', { verifies: 1 }],
  ];
  for (const [name, frame, code, { verifies }] of cases) {
    const refused = node.core.stats.batchesRefused;
    const work = countCrypto(() => outcome(node, s, frame));
    t.same(work.result, { answer: code, storeChanged: false }, `${name}: closed with ${code}, store unchanged`);
    t.same([work.signs, work.verifies], [0, verifies], `${name}: no reply signed, ${verifies} signature verified`);
    t.equal(node.core.stats.batchesRefused, refused + 1n, `${name}: counted as refused`);
  }
  t.equal(node.core.stats.batchesExecuted, 0n, 'nothing executed');
  t.equal(provider.reports, 0, 'the platform was never asked for a report');

  t.equal(exchange(node, s, [write(0, 2)], { counter: 1n }).batchStatus, Status.ok, 'the session still authenticates afterwards');
  for (const [name, counter] of [['the same counter again', 1n], ['an older counter', 0n]] as const) {
    const { frame } = s.frame([write(0, 4)], { counter });
    const work = countCrypto(() => outcome(node, s, frame));
    t.same(work.result, { answer: 'E_REPLAY', storeChanged: false }, `${name}: E_REPLAY`);
    t.same([work.signs, work.verifies], [0, 1], `${name}: no reply signed`);
  }
  t.equal(exchange(node, s, [big], { counter: 2n }).batchStatus, Status.ok, 'after authentication a frame above the pre-auth bound runs');
});

t.test('a man in the middle cannot get a signed refusal of the manager batch', async (t) => {
  const node = testNode(8);
  const s = openTestSession(node);
  const real = s.frame([write(0, 1)]);
  // Every frame a relay can make from the manager's real one without the manager key: keep the header
  // (counter, session, nonce), change the rest.
  const header = real.frame.subarray(0, requestHeaderBytes);
  const forgeries: [string, Buffer][] = [
    ['the header alone', Buffer.from(header)],
    ['the header and garbage', Buffer.concat([header, Buffer.alloc(300, 0x07)])],
    ['a command out of range, same signature', Buffer.from(real.frame).fill(0xff, requestHeaderBytes + 1, requestHeaderBytes + 5)],
    ['the signature zeroed', Buffer.from(real.frame).fill(0, real.frame.length - signatureBytes)],
    ['the frame with a byte more', Buffer.concat([real.frame, Buffer.alloc(1)])],
  ];
  for (const [name, frame] of forgeries) {
    const answer = node.core.handle(s.session, frame);
    t.notOk(Buffer.isBuffer(answer), `${name}: no reply frame at all`);
    t.match(answer, { close: /^E_/ }, `${name}: only a close code`);
  }
  t.equal(node.core.stats.batchesExecuted, 0n);
});

t.test('ATTEST returns the platform report over challenge, nonce, instance key and launch config', async (t) => {
  const provider = countingProvider();
  const node = testNode(8, sectorBytes, managerKeys(), provider);
  const s = openTestSession(node);
  const reply = exchange(node, s, [{ op: Op.attest }]);
  const [result] = reply.results;
  if (result.op !== Op.attest) throw new Error('ATTEST answered with another result');
  const reportData = sessionReportData(s.hello.challenge, reply.ids.nonce, s.hello.instancePublicKey, encodeLaunch(node.config));
  t.same(result.evidence.subarray(44, 76), reportData, 'the report data binds the session, the nonce, the instance key and the launch config');
  t.same(fakeVerifyEvidence(result.evidence, { reportData, hello: s.hello, managerPublicKey: node.manager.publicRaw }), { platform: 'test' });
  t.equal(provider.reports, 1, 'one platform report per ATTEST');
  const refused = exchange(node, s, [{ op: Op.attest }, { op: Op.read, sector: 8, count: 1 }]);
  t.same([refused.batchStatus, refused.results.length], [Status.range, 0], 'a refused batch returns no evidence');
});

t.test('work bound: COPY and TRIM above batchWorkBytesMax are E_TOO_LARGE and nothing runs; exactly the bound runs', async (t) => {
  const sectors = 1024;
  const node = testNode(sectors, sectorBytes);
  const s = openTestSession(node);
  exchange(node, s, [{ op: Op.status }]); // authenticates: the first frame may not exceed preAuthFrameBytesMax
  exchange(node, s, [{ op: Op.write, sector: 0, count: 512, data: pattern(sectorBytes, 512, 3) }]);
  const half = 512 * sectorBytes;
  const copies = batchWorkBytesMax / half / 2;
  const atBound: Command[] = [
    ...Array.from({ length: copies }, (): Command => ({ op: Op.copy, src: 0, dst: 512, count: 512 })),
    ...Array.from({ length: copies }, (): Command => ({ op: Op.trim, sector: 512, count: 512 })),
  ];
  const before = storeDigest(node.core.store);
  for (const [name, extra] of [
    ['one more TRIM sector', { op: Op.trim, sector: 0, count: 1 }],
    ['one more COPY sector', { op: Op.copy, src: 0, dst: 1, count: 1 }],
  ] as const) {
    const r = exchange(node, s, [write(1000, 9), ...atBound, extra]);
    t.equal(r.batchStatus, Status.tooLarge, `${name}: E_TOO_LARGE`);
    t.equal(r.statuses.at(-1), Status.tooLarge, `${name}: the command past the bound is the culprit`);
    t.equal(r.statuses[0], Status.notExecuted, `${name}: the WRITE before it did not run`);
    t.equal(storeDigest(node.core.store), before, `${name}: store unchanged`);
  }
  const ok = exchange(node, s, [...atBound, { op: Op.read, sector: 512, count: 1 }]);
  t.equal(ok.batchStatus, Status.ok, `${batchWorkBytesMax} bytes of COPY and TRIM run`);
  const last = ok.results.at(-1);
  t.ok(last?.op === Op.read && last.data.equals(Buffer.alloc(sectorBytes)), 'and the READ after them sees the last TRIM');
});
