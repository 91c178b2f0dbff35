// The session rules of protocol v3 on the in-process core (node-core.ts):
// - the fence: once a newer session ran a batch that is not an observer's, a
//   non-observer batch on an older session closes it with E_FENCED and runs
//   nothing; observer batches neither raise nor hit the fence, and may hold
//   only read-only commands (E_READ_ONLY);
// - pre-auth: until a session's open frame verified, a frame that does not
//   parse, is not an open frame, names another session or is not signed by
//   the manager gets no reply (the core answers { close }), and costs no
//   X25519, HKDF or MAC work (at most one Ed25519 verify, none for parse and
//   session failures, and no platform report);
// - the session's state machine: only an open frame until one verified, only
//   MACed request frames after (E_VERSION otherwise); a request frame is
//   accepted only under this session's request key: not the reply key (a
//   reflection), not another session's key (E_SIGNATURE); a replayed counter
//   with a valid MAC is E_REPLAY; an open frame of another session is
//   E_SESSION; an open frame whose session key is a low-order X25519 point is
//   E_FRAME, however validly signed;
// - a man in the middle cannot make the node MAC a refusal of the manager's
//   real batch, nor forge the observer flag;
// - ATTEST returns the platform's report over the session, and the COPY+TRIM
//   work bound refuses a batch before anything runs.
import t from 'tap';
import crypto, { randomBytes } from 'node:crypto';
import { Op, Status, type Command } from '../../array-manager/node-client/frame-codec.ts';
import { batchWorkBytesMax, preAuthFrameBytesMax } from '../../disk-node/limits.ts';
import { encodeLaunch, flagObserve, mac, macBytes, openHeaderBytes, requestHeaderBytes, sessionReportData, signatureBytes } from '../../disk-node/wire.ts';
import type { AttestationProvider } from '../../attestation/provider.ts';
import { lowOrderX25519 } from '../node-client/core-channel.ts';
import {
  closeCode,
  exchange,
  fakeProvider,
  fakeVerifyEvidence,
  managerKeys,
  openTestSession,
  pattern,
  replyAuthentic,
  sessionKeyPair,
  storeDigest,
  testNode,
  withCrypto,
  type TestNode,
} from './fixtures.ts';

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

/** What node:crypto did while `fn` ran, as node-core.ts and wire.ts import it. */
type CryptoWork = { signs: number; verifies: number; dh: number; hkdf: number; hmacs: number };

/** Counts Ed25519 signs and verifies, X25519 agreements, HKDF derivations and HMACs while `fn` runs. */
function countCrypto<T>(fn: () => T): { result: T } & CryptoWork {
  const { sign, verify, diffieHellman, hkdfSync, createHmac } = crypto;
  const counts: CryptoWork = { signs: 0, verifies: 0, dh: 0, hkdf: 0, hmacs: 0 };
  const result = withCrypto(
    {
      sign: (...args: Parameters<typeof sign>) => (counts.signs++, sign(...args)),
      verify: (...args: Parameters<typeof verify>) => (counts.verifies++, verify(...args)),
      diffieHellman: (...args: Parameters<typeof diffieHellman>) => (counts.dh++, diffieHellman(...args)),
      hkdfSync: (...args: Parameters<typeof hkdfSync>) => (counts.hkdf++, hkdfSync(...args)),
      createHmac: (...args: Parameters<typeof createHmac>) => (counts.hmacs++, createHmac(...args)),
    } as Partial<typeof crypto>,
    fn,
  );
  return { result, ...counts };
}

const work = (w: CryptoWork): CryptoWork => ({ signs: w.signs, verifies: w.verifies, dh: w.dh, hkdf: w.hkdf, hmacs: w.hmacs });
const none: CryptoWork = { signs: 0, verifies: 0, dh: 0, hkdf: 0, hmacs: 0 };

/** A fake provider that counts its reports. */
function countingProvider(): AttestationProvider & { reports: number } {
  const inner = fakeProvider();
  const p = { platform: inner.platform, reports: 0, report: (data: Uint8Array) => (p.reports++, inner.report(data)) };
  return p;
}

/** `frame` with the bits of `mask` flipped in byte `at`. */
function flipped(frame: Buffer, at: number, mask = 1): Buffer {
  const copy = Buffer.from(frame);
  copy[at] ^= mask;
  return copy;
}

t.test('the crypto counter sees what the core does: a genuine open frame costs one verify, one X25519, one HKDF and the reply MAC', async (t) => {
  const node = testNode(8);
  const s = openTestSession(node);
  const open = s.frame([{ op: Op.status }]).frame;
  const opened = countCrypto(() => node.core.handle(s.session, open));
  t.ok(Buffer.isBuffer(opened.result) && replyAuthentic(s.keys.reply, opened.result), 'the open frame is answered, MACed under the reply key');
  t.same(work(opened), { signs: 0, verifies: 1, dh: 1, hkdf: 1, hmacs: 1 });
  const later = s.frame([{ op: Op.status }]).frame;
  t.same(work(countCrypto(() => node.core.handle(s.session, later))), { ...none, hmacs: 2 }, 'a request frame: its MAC and the reply MAC, nothing else');
});

t.test('pre-auth failures: { close } with the code, no reply, nothing run, no X25519, HKDF or MAC work; no signature work for parse and session failures', async (t) => {
  const provider = countingProvider();
  const node = testNode(32, sectorBytes, managerKeys(), provider);
  const s = openTestSession(node);
  const big: Command = { op: Op.write, sector: 0, count: 17, data: pattern(sectorBytes, 17, 1) };
  const oversized = s.frame([big], { counter: 1000n, open: true }).frame;
  t.ok(oversized.length > preAuthFrameBytesMax, 'the oversized frame is above the pre-auth bound');
  const genuine = s.frame([write(0, 2), { op: Op.attest }], { counter: 1n, open: true });
  const other = sessionKeyPair();
  const cases: [string, Buffer, string, number][] = [
    ['garbage', Buffer.alloc(200, 0x41), 'E_VERSION', 0],
    ['an empty frame', Buffer.alloc(0), 'E_FRAME', 0],
    ['an open header without a signature', genuine.frame.subarray(0, openHeaderBytes + 10), 'E_FRAME', 0],
    ['an open frame above preAuthFrameBytesMax', oversized, 'E_TOO_LARGE', 0],
    ['a request frame above preAuthFrameBytesMax', s.frame([big], { counter: 1000n, open: false }).frame, 'E_TOO_LARGE', 0],
    ['a request frame MACed with the session\'s own request key, before the open frame', s.frame([write(0, 3)], { open: false }).frame, 'E_VERSION', 0],
    ['a request frame MACed with a random key', s.frame([write(0, 3)], { open: false, key: randomBytes(32) }).frame, 'E_VERSION', 0],
    ['an open frame of another session', s.frame([write(0, 3)], { open: true, sessionId: Buffer.alloc(32, 9) }).frame, 'E_SESSION', 0],
    ['an open frame signed by another key', s.frame([write(0, 3)], { open: true, sign: managerKeys().sign }).frame, 'E_SIGNATURE', 1],
    ["the manager's open frame with one data bit flipped", flipped(genuine.frame, openHeaderBytes + 9), 'E_SIGNATURE', 1],
    ["the manager's open frame with the observer flag set", flipped(genuine.frame, 5, flagObserve), 'E_SIGNATURE', 1],
    ["the manager's open frame with a reserved header bit set", flipped(genuine.frame, 6), 'E_SIGNATURE', 1],
    ["the manager's open frame with another counter", flipped(genuine.frame, 15, 2), 'E_SIGNATURE', 1],
    ["the manager's open frame with the relay's own session key", Buffer.concat([genuine.frame.subarray(0, 48), other.publicRaw, genuine.frame.subarray(80)]), 'E_SIGNATURE', 1],
  ];
  for (const [name, frame, code, verifies] of cases) {
    const refused = node.core.stats.batchesRefused;
    const counted = countCrypto(() => outcome(node, s, frame));
    t.same(counted.result, { answer: code, storeChanged: false }, `${name}: closed with ${code}, store unchanged`);
    t.same(work(counted), { ...none, verifies }, `${name}: ${verifies} signature verified, no X25519, HKDF or MAC`);
    t.equal(node.core.stats.batchesRefused, refused + 1n, `${name}: counted as refused`);
    t.equal(s.session.keys, undefined, `${name}: the session has no keys`);
  }
  t.equal(node.core.stats.batchesExecuted, 0n, 'nothing executed');
  t.equal(provider.reports, 0, 'the platform was never asked for a report');

  t.equal(exchange(node, s, [write(0, 2)], { counter: 1n, open: true }).batchStatus, Status.ok, 'the session still opens afterwards');
  for (const [name, counter] of [['the same counter again', 1n], ['an older counter', 0n]] as const) {
    const { frame } = s.frame([write(0, 4)], { counter });
    const counted = countCrypto(() => outcome(node, s, frame));
    t.same(counted.result, { answer: 'E_REPLAY', storeChanged: false }, `${name}, validly MACed: E_REPLAY`);
    t.same(work(counted), { ...none, hmacs: 1 }, `${name}: its MAC checked, no reply MACed`);
  }
  t.equal(exchange(node, s, [big], { counter: 2n }).batchStatus, Status.ok, 'after the open frame a frame above the pre-auth bound runs');
});

t.test('every version and frame type: only version 3 of the type the session expects gets past the parse; strangers cost no X25519, HKDF or MAC', async (t) => {
  const node = testNode(8);
  const fresh = openTestSession(node);
  const opened = openTestSession(node);
  exchange(node, opened, [{ op: Op.status }]);
  const executed = node.core.stats.batchesExecuted;
  const openBase = fresh.frame([{ op: Op.status }], { open: true, sign: () => randomBytes(signatureBytes) }).frame;
  const requestBase = opened.frame([{ op: Op.status }], { key: randomBytes(32) }).frame;
  for (const [name, s, base, accepted, code, perAccepted] of [
    ['before the open frame', fresh, openBase, 2, 'E_SIGNATURE', { ...none, verifies: 1 }],
    ['after the open frame', opened, requestBase, 4, 'E_SIGNATURE', { ...none, hmacs: 1 }],
  ] as const) {
    const answers = new Map<string, number>();
    const counted = countCrypto(() => {
      const frame = Buffer.from(base);
      for (let version = 0; version < 256; version++) {
        for (let type = 0; type < 256; type++) {
          frame[0] = version;
          frame[1] = type;
          const answer = closeCode(node.core.handle(s.session, frame));
          const expected = version === 3 && type === accepted ? code : 'E_VERSION';
          if (answer !== expected) answers.set(`${version}/${type}: ${answer}`, 1);
        }
      }
    });
    t.same([...answers.keys()], [], `${name}: every (version, type) but (3, ${accepted}) is E_VERSION, and that one ${code}`);
    t.same(work(counted), perAccepted, `${name}: the 65,536 frames cost ${JSON.stringify(perAccepted)} in all`);
  }
  t.equal(fresh.session.keys, undefined, 'the stranger session never got keys');
  t.equal(node.core.stats.batchesExecuted, executed, 'nothing executed');
});

t.test('state machine: a request frame before the open frame, and an open frame after it, are E_VERSION and change nothing', async (t) => {
  const node = testNode(8);
  const s = openTestSession(node);
  for (const [name, key] of [['the request key', s.keys.request], ['the reply key', s.keys.reply], ['a random key', randomBytes(32)]] as const) {
    const frame = s.frame([write(0, 1)], { open: false, key }).frame;
    t.same(outcome(node, s, frame), { answer: 'E_VERSION', storeChanged: false }, `a request frame under ${name} before the open frame`);
  }
  t.equal(s.session.keys, undefined, 'no keys');
  t.equal(s.session.lastCounter, 0n, 'no counter used up');

  const open = s.frame([{ op: Op.status }], { open: true, counter: 1n });
  const first = node.core.handle(s.session, open.frame);
  t.ok(Buffer.isBuffer(first) && replyAuthentic(s.keys.reply, first), 'the open frame opens the session');
  const keys = s.session.keys;
  const fresh = sessionKeyPair();
  const secondOpens: [string, Buffer][] = [
    ['the same open frame again', open.frame],
    ['a new open frame with a higher counter and the same session key', s.frame([write(0, 2)], { open: true, counter: 10n }).frame],
    ['a new open frame with another session key', s.frame([write(0, 2)], { open: true, counter: 11n, sessionKey: fresh.publicRaw }).frame],
  ];
  for (const [name, frame] of secondOpens) {
    const counted = countCrypto(() => outcome(node, s, frame));
    t.same(counted.result, { answer: 'E_VERSION', storeChanged: false }, `${name}: E_VERSION`);
    t.same(work(counted), none, `${name}: not even its signature is verified`);
    t.equal(s.session.keys, keys, `${name}: the session keeps its keys`);
    t.equal(s.session.lastCounter, 1n, `${name}: and its counter`);
  }
  t.equal(exchange(node, s, [write(0, 3)], { counter: 2n }).batchStatus, Status.ok, 'request frames under the original keys still run');
});

t.test('reflection: a request MACed with the reply key, and the node\'s own replies sent back, are refused', async (t) => {
  const node = testNode(8);
  const s = openTestSession(node);
  exchange(node, s, [write(0, 1)]);
  const reply = node.core.handle(s.session, s.frame([{ op: Op.read, sector: 0, count: 1 }]).frame) as Buffer;
  const before = storeDigest(node.core.store);
  const executed = node.core.stats.batchesExecuted;
  t.same(outcome(node, s, s.frame([write(0, 2)], { key: s.keys.reply }).frame), { answer: 'E_SIGNATURE', storeChanged: false }, 'a request MACed with the reply key');
  t.same(outcome(node, s, reply), { answer: 'E_VERSION', storeChanged: false }, 'a reply of the node as a request');
  t.same(outcome(node, s, flipped(reply, 1, 3 ^ 4)), { answer: 'E_FRAME', storeChanged: false }, 'a reply with its type rewritten to request: its results do not parse as commands');
  // A reply built to parse as a request: a reply whose 16 first bytes are a request header, its payload
  // a WRITE command, its MAC the reply key's over what precedes it. Its MAC is over other bytes, under the other key.
  const shaped = s.frame([write(0, 3)], { key: s.keys.reply });
  const asReply = Buffer.from(shaped.frame);
  asReply.set(mac(s.keys.reply, asReply.subarray(0, asReply.length - macBytes)), asReply.length - macBytes);
  t.same(outcome(node, s, asReply), { answer: 'E_SIGNATURE', storeChanged: false }, 'a frame MACed as a reply is (bytes before the MAC, under the reply key)');
  t.equal(storeDigest(node.core.store), before);
  t.equal(node.core.stats.batchesExecuted, executed, 'nothing executed');
  t.equal(exchange(node, s, [{ op: Op.status }]).batchStatus, Status.ok, 'the session is intact (in the core) afterwards');
});

t.test('sessions of the same node: another session\'s request frame, and its open frame, are refused', async (t) => {
  const node = testNode(8);
  const a = openTestSession(node);
  const b = openTestSession(node);
  const unopened = openTestSession(node);
  const aOpen = a.frame([{ op: Op.status }], { flags: flagObserve });
  node.core.handle(a.session, aOpen.frame);
  exchange(node, b, [{ op: Op.status }], { flags: flagObserve });
  t.notSame(a.keys.request, b.keys.request, 'two sessions, two request keys');
  // The same batch with the same counter on both: a request frame names no session, so the digests are equal and only the MAC differs.
  const fromA = a.frame([write(0, 1)], { counter: 5n });
  const fromB = b.frame([write(0, 1)], { counter: 5n });
  t.same(fromA.digest, fromB.digest, 'the same batch digest on both sessions');
  t.notSame(fromA.frame, fromB.frame, 'different MACs');
  t.same(outcome(node, b, fromA.frame), { answer: 'E_SIGNATURE', storeChanged: false }, "A's request frame on B, same counter and digest: E_SIGNATURE");
  t.same(outcome(node, b, a.frame([write(0, 2)], { counter: 9n }).frame), { answer: 'E_SIGNATURE', storeChanged: false }, "A's request frame on B with a counter B has not used");
  t.same(outcome(node, unopened, fromA.frame), { answer: 'E_VERSION', storeChanged: false }, "A's request frame on an unopened session");
  t.same(outcome(node, unopened, aOpen.frame), { answer: 'E_SESSION', storeChanged: false }, "A's open frame on an unopened session: E_SESSION");
  t.equal(unopened.session.keys, undefined, 'which stays unopened');
  t.same(outcome(node, b, aOpen.frame), { answer: 'E_VERSION', storeChanged: false }, "A's open frame on the opened B");
  const elsewhere = testNode(8, sectorBytes, node.manager);
  const there = openTestSession(elsewhere);
  t.same(outcome(elsewhere, there, aOpen.frame), { answer: 'E_SESSION', storeChanged: false }, "A's open frame on another node launched for the same manager");
  t.equal(node.core.stats.batchesExecuted, 2n, 'only the two open frames ran');
});

/** X25519 (RFC 7748) in BigInt, independent of OpenSSL: the u-coordinate of clamp(k) * u. */
function x25519Reference(k: Uint8Array, u: Uint8Array): bigint {
  const P = 2n ** 255n - 19n;
  const mod = (a: bigint) => ((a % P) + P) % P;
  const pow = (b: bigint, e: bigint): bigint => {
    let r = 1n;
    for (b = mod(b); e > 0n; e >>= 1n, b = mod(b * b)) if (e & 1n) r = mod(r * b);
    return r;
  };
  const le = (b: Uint8Array) => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);
  const kc = Buffer.from(k);
  kc[0] &= 248;
  kc[31] = (kc[31] & 127) | 64;
  const uc = Buffer.from(u);
  uc[31] &= 127;
  const n = le(kc);
  const x1 = mod(le(uc));
  let [x2, z2, x3, z3, swap] = [1n, 0n, x1, 1n, 0n];
  for (let i = 254n; i >= 0n; i--) {
    const bit = (n >> i) & 1n;
    if (swap ^ bit) [x2, x3, z2, z3] = [x3, x2, z3, z2];
    swap = bit;
    const [A, B, C, D] = [mod(x2 + z2), mod(x2 - z2), mod(x3 + z3), mod(x3 - z3)];
    const [AA, BB, DA, CB] = [mod(A * A), mod(B * B), mod(D * A), mod(C * B)];
    const E = mod(AA - BB);
    [x3, z3] = [mod((DA + CB) ** 2n), mod(x1 * mod((DA - CB) ** 2n))];
    [x2, z2] = [mod(AA * BB), mod(E * (AA + 121665n * E))];
  }
  if (swap) [x2, z2] = [x3, z3];
  return mod(x2 * pow(z2, P - 2n));
}

t.test('an open frame refused at the fence opens nothing: no keys, its counter used up, only an open frame still expected', async (t) => {
  const node = testNode(8);
  const older = openTestSession(node);
  const newer = openTestSession(node);
  exchange(node, newer, [write(0, 1)]);
  const before = storeDigest(node.core.store);
  const open = older.frame([{ op: Op.attest }, { op: Op.deathRead }], { counter: 3n });
  t.same(outcome(node, older, open.frame), { answer: 'E_FENCED', storeChanged: false }, 'the older session\'s open frame: E_FENCED');
  t.equal(older.session.keys, undefined, 'no keys taken from it');
  t.equal(older.session.lastCounter, 3n, 'its counter is used up');
  t.same(outcome(node, older, older.frame([write(0, 2)], { counter: 4n }).frame), { answer: 'E_VERSION', storeChanged: false }, 'a request frame under the keys it would have given: E_VERSION');
  t.same(outcome(node, older, open.frame), { answer: 'E_REPLAY', storeChanged: false }, 'the same open frame again: E_REPLAY');
  t.equal(storeDigest(node.core.store), before);
});

t.test('low-order session keys: a validly signed open frame whose session key is any low-order X25519 point closes E_FRAME, with no reply and no keys', async (t) => {
  const a = sessionKeyPair();
  const b = sessionKeyPair();
  const bPriv = Buffer.from(b.privateKey.export({ format: 'jwk' }).d!, 'base64url');
  t.equal(x25519Reference(bPriv, a.publicRaw), BigInt('0x' + Buffer.from(crypto.diffieHellman({ privateKey: b.privateKey, publicKey: crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: a.publicRaw.toString('base64url') }, format: 'jwk' }) })).reverse().toString('hex')), 'the reference X25519 agrees with node:crypto');
  t.equal(lowOrderX25519.length, 14, '7 points, each with the top bit clear and set');
  const provider = countingProvider();
  const node = testNode(8, sectorBytes, managerKeys(), provider);
  const before = storeDigest(node.core.store);
  for (const [name, point] of lowOrderX25519) {
    t.equal(x25519Reference(randomBytes(32), point), 0n, `${name}: X25519 of it is zero whatever the scalar`);
    const s = openTestSession(node);
    const frame = s.frame([write(0, 1), { op: Op.attest }], { open: true, sessionKey: point }).frame;
    const counted = countCrypto(() => outcome(node, s, frame));
    t.same(counted.result, { answer: 'E_FRAME', storeChanged: false }, `${name}: E_FRAME, store unchanged`);
    t.same(work(counted), { ...none, verifies: 1, dh: 1 }, `${name}: its signature verified, X25519 tried, no key derived, no MAC`);
    t.equal(s.session.keys, undefined, `${name}: the session has no keys`);
    t.equal(s.session.lastCounter, 0n, `${name}: no counter used up`);
  }
  t.equal(storeDigest(node.core.store), before);
  t.equal(node.core.stats.batchesExecuted, 0n);
  t.equal(provider.reports, 0, 'no platform report');
});

t.test('counter replay with a valid MAC is E_REPLAY and uses nothing up', async (t) => {
  const node = testNode(8);
  const zero = openTestSession(node);
  const zeroOpen = zero.frame([write(0, 9)], { counter: 0n }).frame;
  t.same(outcome(node, zero, zeroOpen), { answer: 'E_REPLAY', storeChanged: false }, 'an open frame with counter 0 (the first batch must be at least 1): E_REPLAY, nothing runs');
  t.equal(node.core.stats.batchesExecuted, 0n);
  t.equal(zero.session.keys, undefined, 'and it did not open the session: keys come only from an open frame that passes the fence');
  const s = openTestSession(node);
  exchange(node, s, [write(0, 1)], { counter: 5n });
  exchange(node, s, [write(0, 2)], { counter: 7n });
  const before = storeDigest(node.core.store);
  for (const counter of [0n, 1n, 5n, 6n, 7n]) {
    const frame = s.frame([write(0, 3)], { counter }).frame;
    t.same(outcome(node, s, frame), { answer: 'E_REPLAY', storeChanged: false }, `counter ${counter} after 7: E_REPLAY`);
    t.equal(s.session.lastCounter, 7n);
  }
  t.equal(storeDigest(node.core.store), before);
  const max = 2n ** 64n - 1n;
  t.equal(exchange(node, s, [write(0, 4)], { counter: max }).batchStatus, Status.ok, 'the largest counter runs once');
  t.same(outcome(node, s, s.frame([write(0, 5)], { counter: max }).frame), { answer: 'E_REPLAY', storeChanged: false }, 'and never again');
});

t.test('the observer flag (and every other header bit) cannot be set on a request frame without the key', async (t) => {
  const node = testNode(8);
  const older = openTestSession(node);
  const newer = openTestSession(node);
  exchange(node, older, [{ op: Op.status }], { flags: flagObserve });
  exchange(node, newer, [write(0, 1)]);
  const before = storeDigest(node.core.store);
  // The older session is fenced; its manager's real batch, re-flagged as an observer's, would get past the fence.
  const real = older.frame([{ op: Op.read, sector: 0, count: 1 }]);
  for (let bit = 0; bit < 16; bit++) {
    const forged = Buffer.from(real.frame);
    forged.writeUInt16BE(forged.readUInt16BE(4) ^ (1 << bit), 4);
    t.same(outcome(node, older, forged), { answer: 'E_SIGNATURE', storeChanged: false }, `flag bit ${bit} flipped: E_SIGNATURE`);
  }
  for (let bit = 0; bit < 16; bit++) {
    t.same(outcome(node, older, flipped(real.frame, 6 + (bit >> 3), 1 << (bit & 7))), { answer: 'E_SIGNATURE', storeChanged: false }, `reserved bit ${bit} flipped: E_SIGNATURE`);
  }
  t.equal(older.session.lastCounter, 1n, 'no forged frame used up a counter');
  t.equal(closeCode(node.core.handle(older.session, real.frame)), 'E_FENCED', 'the real frame is fenced');
  t.same(outcome(node, older, older.frame([{ op: Op.read, sector: 0, count: 1 }], { flags: flagObserve }).frame).answer, 'reply', 'the manager itself may still observe');
  t.equal(storeDigest(node.core.store), before);
});

t.test('a man in the middle cannot get a MACed refusal of the manager batch, open frame or request frame', async (t) => {
  const node = testNode(8);
  const s = openTestSession(node);
  for (const [kind, headerBytes, authBytes] of [
    ['open frame', openHeaderBytes, signatureBytes],
    ['request frame', requestHeaderBytes, macBytes],
  ] as const) {
    const executed = node.core.stats.batchesExecuted;
    const real = s.frame([write(0, 1)]);
    // Every frame a relay can make from the manager's real one without the manager key or the
    // session's request key: keep the header (counter; session and session key), change the rest.
    const header = real.frame.subarray(0, headerBytes);
    const forgeries: [string, Buffer][] = [
      ['the header alone', Buffer.from(header)],
      ['the header and garbage', Buffer.concat([header, Buffer.alloc(300, 0x07)])],
      ['a command out of range, same authenticator', Buffer.from(real.frame).fill(0xff, headerBytes + 1, headerBytes + 5)],
      ['the authenticator zeroed', Buffer.from(real.frame).fill(0, real.frame.length - authBytes)],
      ['the frame with a byte more', Buffer.concat([real.frame, Buffer.alloc(1)])],
      ['the frame with a byte less', real.frame.subarray(0, -1)],
    ];
    for (const [name, frame] of forgeries) {
      const answer = node.core.handle(s.session, frame);
      t.notOk(Buffer.isBuffer(answer), `${kind}, ${name}: no reply frame at all`);
      t.match(answer, { close: /^E_/ }, `${kind}, ${name}: only a close code`);
    }
    t.equal(node.core.stats.batchesExecuted, executed, `${kind}: nothing ran`);
    const answer = node.core.handle(s.session, real.frame);
    t.ok(Buffer.isBuffer(answer) && replyAuthentic(s.keys.reply, answer), `${kind}: the real frame still runs afterwards (in the core; the shell has closed)`);
  }
});

t.test('ATTEST returns the platform report over challenge, manager session key, instance key and launch config', async (t) => {
  const provider = countingProvider();
  const node = testNode(8, sectorBytes, managerKeys(), provider);
  const s = openTestSession(node);
  const reply = exchange(node, s, [{ op: Op.attest }]);
  const [result] = reply.results;
  if (result.op !== Op.attest) throw new Error('ATTEST answered with another result');
  t.same(reply.ids.opening?.sessionKey, s.ids.managerSessionKey, 'the open frame carried the manager session key');
  const reportData = sessionReportData(s.ids, encodeLaunch(node.config));
  t.same(result.evidence.subarray(44, 76), reportData, 'the report data binds the session, the manager session key, the instance key and the launch config');
  t.same(fakeVerifyEvidence(result.evidence, { reportData, hello: s.hello, managerPublicKey: node.manager.publicRaw }), { platform: 'test' });
  t.equal(provider.reports, 1, 'one platform report per ATTEST');
  const later = exchange(node, s, [{ op: Op.attest }]).results[0];
  t.ok(later.op === Op.attest && later.evidence.subarray(44, 76).equals(reportData), 'an ATTEST in a request frame reports the same session');
  const other = openTestSession(node);
  const theirs = exchange(node, other, [{ op: Op.attest }], { flags: flagObserve }).results[0];
  t.ok(theirs.op === Op.attest && !theirs.evidence.subarray(44, 76).equals(reportData), 'another session of the node, another report');
  const refused = exchange(node, s, [{ op: Op.attest }, { op: Op.read, sector: 8, count: 1 }]);
  t.same([refused.batchStatus, refused.results.length], [Status.range, 0], 'a refused batch returns no evidence');
});

t.test('work bound: COPY and TRIM above batchWorkBytesMax are E_TOO_LARGE and nothing runs; exactly the bound runs', async (t) => {
  const sectors = 1024;
  const node = testNode(sectors, sectorBytes);
  const s = openTestSession(node);
  exchange(node, s, [{ op: Op.status }]); // the open frame: the first frame may not exceed preAuthFrameBytesMax
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
