// The disk-node protocol core, driven in process: every command, every way an
// authentic batch is refused, that a refused batch changes nothing, and that a
// frame which is not an authentic, fresh batch gets no reply at all (the
// session is closed): a session's open frame must carry its challenge and the
// manager's signature, every later frame its request key's MAC. The session
// rules of v3 (fence, observer batches, pre-auth work, the open/request state
// machine, reflection, low-order keys, ATTEST, work bound) are in
// session-rules.test.ts.
import t from 'tap';
import fc from 'fast-check';
import { createHash, randomBytes } from 'node:crypto';
import { Op, Status, decodeReply, type Command } from '../../array-manager/node-client/frame-codec.ts';
import { deathRecordBytesMax, batchCommandsMax } from '../../disk-node/limits.ts';
import { closeCode, exchange, managerKeys, openTestSession, pattern, replyAuthentic, storeDigest, testNode, type FrameOverrides } from './fixtures.ts';

t.test('write, read, copy, trim, status, death record', async (t) => {
  const node = testNode(32);
  const s = openTestSession(node);
  const data = pattern(4096, 3, 1);
  let reply = exchange(node, s, [{ op: Op.write, sector: 5, count: 3, data }, { op: Op.read, sector: 5, count: 3 }]);
  t.equal(reply.batchStatus, Status.ok);
  const read = reply.results[1];
  t.ok(read.op === Op.read && read.data.equals(data), 'read returns what was written in the same batch');

  reply = exchange(node, s, [
    { op: Op.copy, src: 5, dst: 20, count: 3 },
    { op: Op.trim, sector: 6, count: 1 },
    { op: Op.read, sector: 5, count: 3 },
    { op: Op.read, sector: 20, count: 3 },
  ]);
  const [, , a, b] = reply.results;
  t.ok(a.op === Op.read && a.data.subarray(4096, 8192).every((x) => x === 0), 'trim zeroes memory');
  t.ok(a.op === Op.read && a.data.subarray(0, 4096).equals(data.subarray(0, 4096)));
  t.ok(b.op === Op.read && b.data.equals(data), 'copy copies');

  reply = exchange(node, s, [
    { op: Op.deathWrite, version: 3n, record: Buffer.from('members v3') },
    { op: Op.deathRead },
    { op: Op.status },
  ]);
  const [, death, status] = reply.results;
  t.ok(death.op === Op.deathRead && death.version === 3n && death.record.toString() === 'members v3');
  t.ok(status.op === Op.status && status.status.deathVersion === 3n && status.status.sectorCount === 32);
  t.ok(status.op === Op.status && status.status.bytesWritten === 3n * 4096n);
  t.ok(status.op === Op.status && status.status.instanceId.equals(node.core.instanceId), 'STATUS names the instance');
});

t.test('the instance id is the digest of the instance key HELLO announces; each boot draws a new key', async (t) => {
  const node = testNode(4);
  const { hello } = openTestSession(node);
  t.same(hello.instancePublicKey, node.core.instancePublicKey);
  t.same(node.core.instanceId, createHash('sha256').update(hello.instancePublicKey).digest().subarray(0, 16));
  t.notSame(testNode(4, 4096, node.manager).core.instancePublicKey, node.core.instancePublicKey, 'another boot, another key');
  t.ok(openTestSession(node).hello.sessionSeq > hello.sessionSeq, 'a later session has a higher sequence number');
});

t.test('death record only moves forward', async (t) => {
  const node = testNode(8);
  const s = openTestSession(node);
  t.equal(exchange(node, s, [{ op: Op.deathWrite, version: 5n, record: Buffer.from('a') }]).batchStatus, Status.ok);
  for (const version of [5n, 4n, 0n]) {
    const r = exchange(node, s, [{ op: Op.deathWrite, version, record: Buffer.from('b') }]);
    t.equal(r.batchStatus, Status.deathVersion, `version ${version} refused`);
  }
  const twice = exchange(node, s, [
    { op: Op.deathWrite, version: 7n, record: Buffer.from('c') },
    { op: Op.deathWrite, version: 6n, record: Buffer.from('d') },
  ]);
  t.equal(twice.batchStatus, Status.deathVersion, 'second write in a batch must exceed the first');
  t.equal(node.core.store.deathVersion, 5n, 'refused batch left the record alone');
  const big = exchange(node, s, [{ op: Op.deathWrite, version: 9n, record: Buffer.alloc(deathRecordBytesMax + 1) }]);
  t.equal(big.batchStatus, Status.tooLarge);
});

t.test('authentic refusals change nothing; unauthentic frames close the session and change nothing', async (t) => {
  const node = testNode(16);
  const s = openTestSession(node);
  exchange(node, s, [{ op: Op.write, sector: 0, count: 2, data: pattern(4096, 2, 9) }]);
  const before = storeDigest(node.core.store);
  const writeAll: Command = { op: Op.write, sector: 0, count: 16, data: pattern(4096, 16, 3) };
  const refused: [string, Command[], number][] = [
    ['out of range read', [writeAll, { op: Op.read, sector: 15, count: 2 }], Status.range],
    ['out of range write', [{ op: Op.write, sector: 16, count: 1, data: pattern(4096, 1, 1) }], Status.range],
    ['empty range', [writeAll, { op: Op.trim, sector: 3, count: 0 }], Status.range],
    ['copy past end', [writeAll, { op: Op.copy, src: 0, dst: 10, count: 7 }], Status.range],
  ];
  for (const [name, commands, status] of refused) {
    t.equal(exchange(node, s, commands).batchStatus, status, name);
    t.equal(storeDigest(node.core.store), before, `${name}: store unchanged`);
  }
  const r = exchange(node, s, [writeAll, { op: Op.read, sector: 99, count: 1 }]);
  t.same(r.statuses, [Status.notExecuted, Status.range], 'per-command codes name the culprit');

  // Open frames, each on a session of its own that has not opened yet (and below the pre-auth frame bound).
  const writeSome: Command = { op: Op.write, sector: 0, count: 8, data: pattern(4096, 8, 4) };
  const openClosed: [string, FrameOverrides, string][] = [
    ['forged signature on the open frame', { sign: managerKeys().sign }, 'E_SIGNATURE'],
    ['open frame naming another session', { sessionId: openTestSession(node).hello.challenge }, 'E_SESSION'],
  ];
  for (const [name, over, code] of openClosed) {
    const fresh = openTestSession(node);
    t.equal(closeCode(node.core.handle(fresh.session, fresh.frame([writeSome], over).frame)), code, `${name}: closed with ${code}`);
    t.equal(storeDigest(node.core.store), before, `${name}: store unchanged`);
  }
  // Request frames on the opened session: the MAC equivalents.
  const other = openTestSession(node);
  const requestClosed: [string, FrameOverrides, string][] = [
    ['a MAC under a random key', { key: randomBytes(32) }, 'E_SIGNATURE'],
    ["a MAC under another session's request key", { key: other.keys.request }, 'E_SIGNATURE'],
    ["a MAC under this session's reply key", { key: s.keys.reply }, 'E_SIGNATURE'],
    ['a second open frame, validly signed', { open: true }, 'E_VERSION'],
  ];
  for (const [name, over, code] of requestClosed) {
    t.equal(closeCode(node.core.handle(s.session, s.frame([writeAll], over).frame)), code, `${name}: closed with ${code}`);
    t.equal(storeDigest(node.core.store), before, `${name}: store unchanged`);
  }
});

t.test('replayed and reordered batches close the session', async (t) => {
  const node = testNode(4);
  const s = openTestSession(node);
  const write = (seed: number): Command[] => [{ op: Op.write, sector: 0, count: 1, data: pattern(4096, 1, seed) }];
  const open = s.frame([{ op: Op.status }]);
  t.equal(decodeReply(node.core.handle(s.session, open.frame) as Buffer, [{ op: Op.status }], 4096).batchStatus, Status.ok, 'the open frame');
  const first = s.frame(write(1));
  const second = s.frame(write(2));
  const answer = node.core.handle(s.session, second.frame) as Buffer;
  t.ok(replyAuthentic(s.keys.reply, answer), 'a later counter runs, MACed');
  t.equal(decodeReply(answer, write(2), 4096).batchStatus, Status.ok);
  const before = storeDigest(node.core.store);
  t.equal(closeCode(node.core.handle(s.session, first.frame)), 'E_REPLAY', 'older counter');
  t.equal(closeCode(node.core.handle(s.session, second.frame)), 'E_REPLAY', 'same frame again');
  t.equal(storeDigest(node.core.store), before);
  const other = openTestSession(node);
  t.equal(closeCode(node.core.handle(other.session, second.frame)), 'E_VERSION', 'a request frame of one session on another not yet opened');
  t.equal(closeCode(node.core.handle(other.session, open.frame)), 'E_SESSION', "one session's open frame on another");
  exchange(node, other, [{ op: Op.status }], { flags: 1 });
  t.equal(closeCode(node.core.handle(other.session, second.frame)), 'E_SIGNATURE', 'a request frame of one session on another, opened');
  t.equal(storeDigest(node.core.store), before);
});

t.test('a node launched for another manager closes on our open frame', async (t) => {
  const ours = managerKeys();
  const node = testNode(4, 4096, managerKeys());
  const s = openTestSession(node);
  t.equal(closeCode(node.core.handle(s.session, s.frame([{ op: Op.status }], { sign: ours.sign }).frame)), 'E_SIGNATURE');
  t.equal(s.session.keys, undefined, 'no session keys');
  t.equal(node.core.stats.batchesExecuted, 0n);
});

t.test('bounds: too many commands and malformed frames close, a reply too large is refused', async (t) => {
  const node = testNode(1100);
  const s = openTestSession(node);
  const huge: Command[] = [{ op: Op.read, sector: 0, count: 1024 }, { op: Op.read, sector: 0, count: 100 }];
  t.equal(exchange(node, s, huge).batchStatus, Status.tooLarge, 'reply would exceed the frame bound');
  const many: Command[] = Array.from({ length: batchCommandsMax + 1 }, () => ({ op: Op.status }));
  t.equal(closeCode(node.core.handle(s.session, s.frame(many).frame)), 'E_TOO_LARGE', 'more commands than batchCommandsMax');
  const { frame } = s.frame([{ op: Op.status }]);
  for (const bad of [Buffer.alloc(0), frame.subarray(0, 10), frame.subarray(0, frame.length - 1), Buffer.concat([frame, Buffer.alloc(1)])]) {
    t.equal(closeCode(node.core.handle(s.session, bad)), 'E_FRAME', `malformed frame of ${bad.length} bytes closes`);
  }
  t.equal(node.core.stats.batchesExecuted, 0n);
});

t.test('property: any sequence of valid batches matches a model', async (t) => {
  const sectors = 24;
  const sectorBytes = 512;
  const cmd = fc.oneof(
    fc.record({ op: fc.constant(Op.write), sector: fc.nat(sectors - 1), count: fc.integer({ min: 1, max: 4 }), seed: fc.nat(255) }),
    fc.record({ op: fc.constant(Op.copy), src: fc.nat(sectors - 1), dst: fc.nat(sectors - 1), count: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ op: fc.constant(Op.trim), sector: fc.nat(sectors - 1), count: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ op: fc.constant(Op.read), sector: fc.nat(sectors - 1), count: fc.integer({ min: 1, max: 5 }) }),
  );
  fc.assert(
    fc.property(fc.array(fc.array(cmd, { minLength: 1, maxLength: 6 }), { maxLength: 12 }), (batches) => {
      const node = testNode(sectors, sectorBytes);
      const s = openTestSession(node);
      const model = Buffer.alloc(sectors * sectorBytes);
      for (const batch of batches) {
        const commands = batch.map((c): Command =>
          c.op === Op.write ? { op: Op.write, sector: c.sector, count: c.count, data: pattern(sectorBytes, c.count, c.seed) } : (c as Command),
        );
        const valid = commands.every((c) =>
          c.op === Op.copy
            ? c.src + c.count <= sectors && c.dst + c.count <= sectors
            : 'sector' in c && c.sector + c.count <= sectors,
        );
        const reply = exchange(node, s, commands);
        if (!valid) {
          if (reply.batchStatus !== Status.range) return false;
          continue;
        }
        let r = 0;
        for (const c of commands) {
          if (c.op === Op.write) model.set(c.data, c.sector * sectorBytes);
          if (c.op === Op.copy) model.copyWithin(c.dst * sectorBytes, c.src * sectorBytes, (c.src + c.count) * sectorBytes);
          if (c.op === Op.trim) model.fill(0, c.sector * sectorBytes, (c.sector + c.count) * sectorBytes);
          const res = reply.results[r++];
          if (c.op === Op.read && !(res.op === Op.read && res.data.equals(model.subarray(c.sector * sectorBytes, (c.sector + c.count) * sectorBytes)))) return false;
        }
      }
      return Buffer.concat(node.core.store.chunks).equals(model);
    }),
    { numRuns: 200 },
  );
  t.pass('model agreed on every run');
});
