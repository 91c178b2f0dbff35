// The frame codec on both sides of the wire (disk-node/wire.ts and
// array-manager/node-client/frame-codec.ts): what one side encodes the other
// decodes to the same fields, both compute the same batch digest (header,
// each command's fixed fields, the SHA-256 of each data part), and every
// malformed frame (each truncation, trailing bytes, unknown ops, count
// mismatches, wrong version or type) is refused with a typed error rather
// than misread.
import t from 'tap';
import fc from 'fast-check';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { NodeError, decodeHello, decodeReply, encodeRequest, type Command, type OutgoingCommand } from '../../array-manager/node-client/frame-codec.ts';
import { batchCommandsMax, deathRecordBytesMax, evidenceBytesMax, protocolVersion } from '../../disk-node/limits.ts';
import { ed25519PublicKey } from '../../disk-node/node-core.ts';
import {
  FrameType,
  Op,
  Status,
  WireError,
  allocReply,
  batchDomain,
  decodeRequest,
  encodeHello,
  replyDomain,
  requestHeaderBytes,
  sha256,
  signatureBytes,
  statusCodes,
  statusPayloadBytes,
  type ResultSlot,
} from '../../disk-node/wire.ts';
import { commandArb, deathReadPayload } from './arbitraries.ts';
import { managerKeys, replySigned } from './fixtures.ts';

const sectorBytes = 512;
const manager = managerKeys();
const managerKey = ed25519PublicKey(manager.publicRaw);
/** Stands in for a node's instance key: replies here are signed as node-core.ts signs them. */
const instance = generateKeyPairSync('ed25519');
const instancePublicKey = instance.publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
const hello = encodeHello([1 << 20, batchCommandsMax, 8, sectorBytes, 100], Buffer.alloc(32, 7), 3n, instancePublicKey);

/** Signs a reply frame in place the way the node does: "teearray/reply/v2" || SHA-256(reply before the signature). */
function signReply(frame: Buffer): Buffer {
  const end = frame.length - signatureBytes;
  frame.set(sign(null, Buffer.concat([replyDomain, sha256(frame.subarray(0, end))]), instance.privateKey), end);
  return frame;
}

const u32Buffer = (...values: number[]): Buffer => Buffer.concat(values.map((v) => Buffer.from([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff])));

/** The batch digest as docs/PROTOCOL.md defines it, computed from the commands (not from any frame). */
function specDigest(header: Buffer, commands: Command[]): Buffer {
  const parts: Buffer[] = [header];
  for (const c of commands) {
    const op = Buffer.from([c.op]);
    if (c.op === Op.read || c.op === Op.trim) parts.push(op, u32Buffer(c.sector, c.count));
    else if (c.op === Op.write) parts.push(op, u32Buffer(c.sector, c.count), sha256(c.data));
    else if (c.op === Op.copy) parts.push(op, u32Buffer(c.src, c.dst, c.count));
    else if (c.op === Op.deathWrite) {
      const version = Buffer.alloc(8);
      version.writeBigUInt64BE(c.version);
      parts.push(op, version, u32Buffer(c.record.length), sha256(c.record));
    } else parts.push(op);
  }
  return sha256(...parts);
}

const idsArb = fc.record({
  flags: fc.integer({ min: 0, max: 0xffff }),
  counter: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  session: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  nonce: fc.uint8Array({ minLength: 32, maxLength: 32 }),
});
const commandsArb = fc.array(commandArb(sectorBytes), { minLength: 1, maxLength: 8 });
// A reply carries READ data, so its commands read at most 4 sectors each.
const smallReadsArb = commandsArb.map((cs) => cs.map((c): Command => (c.op === Op.read ? { ...c, count: 1 + (c.count % 4) } : c)));

const sample = (): Command[] => [
  { op: Op.write, sector: 3, count: 2, data: Buffer.alloc(2 * sectorBytes, 0xab) },
  { op: Op.read, sector: 3, count: 1 },
  { op: Op.copy, src: 3, dst: 9, count: 2 },
  { op: Op.trim, sector: 4, count: 1 },
  { op: Op.status },
  { op: Op.deathRead },
  { op: Op.deathWrite, version: 9n, record: Buffer.from('record') },
  { op: Op.attest },
];
const sampleIds = { flags: 0, counter: 5n, session: Buffer.alloc(32, 1), nonce: Buffer.alloc(32, 2) };
const sampleEvidence = Buffer.from('evidence of the sample reply');

/** The payload each command's result carries in an OK reply, filled with recognisable bytes. */
function payloadFor(c: Command, i: number): Buffer {
  if (c.op === Op.read) return Buffer.alloc(c.count * sectorBytes, i + 1);
  if (c.op === Op.status) return Buffer.alloc(statusPayloadBytes, i + 1);
  if (c.op === Op.deathRead) return deathReadPayload(BigInt(i), Buffer.alloc(i, 0xee));
  if (c.op === Op.attest) return Buffer.concat([u32Buffer(sampleEvidence.length), sampleEvidence]);
  return Buffer.alloc(0);
}

/** An OK reply to `commands` as the node lays it out, signed with the instance key. */
function okReply(ids: { counter: bigint; digest: Uint8Array }, commands: Command[]): Buffer {
  const payloads = commands.map(payloadFor);
  const slots = commands.map((c, i): ResultSlot => ({ op: c.op, status: Status.ok, payloadBytes: payloads[i].length }));
  const { frame, offsets } = allocReply(ids, Status.ok, slots);
  payloads.forEach((p, i) => frame.set(p, offsets[i]));
  return signReply(frame);
}

const withField = (frame: Buffer, edit: (f: Buffer) => void): Buffer => {
  const copy = Buffer.from(frame);
  edit(copy);
  return copy;
};

t.test('property: encodeRequest -> decodeRequest keeps every field; both sides compute the batch digest of the spec', async (t) => {
  fc.assert(
    fc.property(idsArb, commandsArb, (ids, commands) => {
      const { frame, digest } = encodeRequest(ids, commands, manager.sign);
      const r = decodeRequest(frame, sectorBytes);
      t.same(r.commands, commands);
      return (
        r.flags === ids.flags &&
        r.counter === ids.counter &&
        r.session.equals(ids.session) &&
        r.nonce.equals(ids.nonce) &&
        r.digest.equals(digest) &&
        r.digest.equals(specDigest(frame.subarray(0, requestHeaderBytes), commands)) &&
        verify(null, Buffer.concat([batchDomain, r.digest]), managerKey, r.signature)
      );
    }),
    { numRuns: 150 },
  );
});

t.test('a WRITE in pieces: same frame and digest as the whole WRITE; a given piece digest is what gets signed', async (t) => {
  const data = Buffer.from(Array.from({ length: 3 * sectorBytes }, (_, i) => (i * 7) & 0xff));
  const whole = encodeRequest(sampleIds, [{ op: Op.write, sector: 1, count: 3, data }], manager.sign);
  const pieces = [data.subarray(0, 100), data.subarray(100, 1000), data.subarray(1000)];
  const inPieces = (digest?: Buffer): OutgoingCommand[] => [{ op: Op.write, sector: 1, count: 3, pieces, digest }];
  for (const [name, digest] of [['no digest', undefined], ['the right digest', sha256(data)]] as const) {
    const encoded = encodeRequest(sampleIds, inPieces(digest), manager.sign);
    t.same([encoded.frame, encoded.digest], [whole.frame, whole.digest], `${name}: the same frame and digest`);
  }
  const wrong = encodeRequest(sampleIds, inPieces(sha256(Buffer.from('other data'))), manager.sign);
  t.notSame(wrong.digest, whole.digest, 'a wrong piece digest changes the batch digest');
  t.same(wrong.frame.subarray(0, -signatureBytes), whole.frame.subarray(0, -signatureBytes), 'but not the bytes before the signature');
  const decoded = decodeRequest(wrong.frame, sectorBytes);
  t.notOk(verify(null, Buffer.concat([batchDomain, decoded.digest]), managerKey, decoded.signature), 'so the node finds the signature invalid');
});

t.test('the batch digest covers every field: changing any byte before the signature changes it', async (t) => {
  const { frame, digest } = encodeRequest(sampleIds, sample(), manager.sign);
  const end = frame.length - signatureBytes;
  const unchanged: number[] = [];
  for (let at = 0; at < end; at++) {
    const r = (() => {
      try {
        return decodeRequest(withField(frame, (f) => (f[at] ^= 0x10)), sectorBytes);
      } catch {
        return undefined; // no longer parses: refused before any digest matters
      }
    })();
    if (r && r.digest.equals(digest)) unchanged.push(at);
  }
  t.same(unchanged, [], `every one of the ${end} bytes is covered`);
});

t.test('property: allocReply -> decodeReply returns each payload, the request digest, and a signature by the instance key', async (t) => {
  const digestArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));
  fc.assert(
    fc.property(idsArb, digestArb, smallReadsArb, (ids, digest, commands) => {
      const frame = okReply({ counter: ids.counter, digest }, commands);
      const r = decodeReply(frame, commands, sectorBytes);
      if (r.counter !== ids.counter || !r.requestDigest.equals(digest) || r.batchStatus !== Status.ok) return false;
      if (!replySigned(instancePublicKey, frame) || !r.digest.equals(sha256(frame.subarray(0, -signatureBytes)))) return false;
      t.same(r.statuses, commands.map(() => Status.ok));
      return commands.every((c, i) => {
        const res = r.results[i];
        if (res.op !== c.op) return false;
        if (res.op === Op.read) return res.data.equals(payloadFor(c, i));
        if (res.op === Op.status) return res.status.instanceId.equals(Buffer.alloc(16, i + 1));
        if (res.op === Op.deathRead) return res.version === BigInt(i) && res.record.equals(Buffer.alloc(i, 0xee));
        if (res.op === Op.attest) return res.evidence.equals(sampleEvidence);
        return true;
      });
    }),
    { numRuns: 150 },
  );
});

t.test('property: refused replies carry per-command codes and no payloads', async (t) => {
  const statusArb = fc.integer({ min: 1, max: statusCodes.length - 1 });
  fc.assert(
    fc.property(idsArb, commandsArb, statusArb, fc.boolean(), (ids, commands, batchStatus, perCommand) => {
      const slots = perCommand ? commands.map((c): ResultSlot => ({ op: c.op, status: batchStatus, payloadBytes: 0 })) : [];
      const frame = signReply(allocReply({ counter: ids.counter, digest: ids.nonce }, batchStatus, slots).frame);
      const r = decodeReply(frame, commands, sectorBytes);
      return r.batchStatus === batchStatus && r.results.length === 0 && r.statuses.length === slots.length && replySigned(instancePublicKey, frame);
    }),
    { numRuns: 100 },
  );
  t.pass('every refused reply decoded');
});

t.test('property: encodeHello -> decodeHello keeps every field', async (t) => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  fc.assert(
    fc.property(
      fc.array(u32, { minLength: 5, maxLength: 5 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      (sizes, challenge, seq, key) => {
        const h = decodeHello(encodeHello(sizes, challenge, seq, key));
        t.same([h.frameBytesMax, h.batchCommandsMax, h.inflightBatchesMax, h.sectorBytes, h.sectorCount], sizes);
        return h.challenge.equals(challenge) && h.sessionSeq === seq && h.instancePublicKey.equals(key);
      },
    ),
    { numRuns: 100 },
  );
});

/** The status code decodeRequest refuses `frame` with, 'accepted', or 'untyped' for any other exception. */
function refusal(frame: Buffer): string {
  try {
    decodeRequest(frame, sectorBytes);
    return 'accepted';
  } catch (err) {
    return err instanceof WireError ? statusCodes[err.status] : 'untyped';
  }
}

t.test('every truncation of a valid request is refused with a WireError', async (t) => {
  const { frame } = encodeRequest(sampleIds, sample(), manager.sign);
  const codes = new Set<string>();
  for (let n = 0; n < frame.length; n++) codes.add(refusal(frame.subarray(0, n)));
  t.same([...codes], ['E_FRAME'], `all ${frame.length} truncations refused with E_FRAME`);
});

t.test('every truncation of a valid reply and of HELLO is refused with E_FRAME', async (t) => {
  const commands = sample();
  const reply = okReply({ counter: 5n, digest: sha256() }, commands);
  const codes = new Set<string>();
  for (let n = 0; n < reply.length; n++) {
    try {
      decodeReply(reply.subarray(0, n), commands, sectorBytes);
      codes.add('accepted');
    } catch (err) {
      codes.add(err instanceof NodeError ? err.code : 'untyped');
    }
  }
  t.same([...codes], ['E_FRAME'], `all ${reply.length} reply truncations refused`);
  codes.clear();
  for (let n = 0; n < hello.length; n++) {
    try {
      decodeHello(hello.subarray(0, n));
      codes.add('accepted');
    } catch (err) {
      codes.add(err instanceof NodeError ? err.code : 'untyped');
    }
  }
  t.same([...codes], ['E_FRAME'], `all ${hello.length} HELLO truncations refused`);
});

t.test('request: trailing bytes, unknown op, count mismatch, version, too many commands', async (t) => {
  const commands = sample();
  const { frame } = encodeRequest(sampleIds, commands, manager.sign);
  const end = frame.length - signatureBytes;
  const refuse = (name: string, bad: Buffer, status: number) => t.equal(refusal(bad), statusCodes[status], name);

  refuse('one trailing byte', Buffer.concat([frame, Buffer.alloc(1)]), Status.frame);
  refuse('a trailing byte before the signature', Buffer.concat([frame.subarray(0, end), Buffer.alloc(1), frame.subarray(end)]), Status.frame);
  for (const op of [0, Op.attest + 1, 0x7f, 0xff]) {
    refuse(`unknown op ${op}`, withField(frame, (f) => (f[requestHeaderBytes] = op)), Status.frame);
  }
  refuse('count one above the commands present', withField(frame, (f) => f.writeUInt16BE(commands.length + 1, 2)), Status.frame);
  refuse('count one below the commands present', withField(frame, (f) => f.writeUInt16BE(commands.length - 1, 2)), Status.frame);
  refuse('count above batchCommandsMax', withField(frame, (f) => f.writeUInt16BE(batchCommandsMax + 1, 2)), Status.tooLarge);
  refuse('write claims one more sector than it carries', withField(frame, (f) => f.writeUInt32BE(3, requestHeaderBytes + 5)), Status.frame);
  refuse('death record length past the end', withField(frame, (f) => f.writeUInt32BE(0xffffffff, end - 1 - 6 - 4)), Status.frame);
  refuse(`version ${protocolVersion + 1}`, withField(frame, (f) => (f[0] = protocolVersion + 1)), Status.version);
  refuse(`version ${protocolVersion - 1}`, withField(frame, (f) => (f[0] = protocolVersion - 1)), Status.version);
  refuse('a HELLO where a request belongs', withField(frame, (f) => (f[1] = FrameType.hello)), Status.version);
  refuse('a reply where a request belongs', withField(frame, (f) => (f[1] = FrameType.reply)), Status.version);
  t.equal(decodeRequest(frame, sectorBytes).commands.length, commands.length, 'the unedited frame still decodes');
});

t.test('reply: trailing bytes, count mismatch, wrong op, unknown status, payload sized for another command', async (t) => {
  const commands = sample();
  const reply = okReply({ counter: 5n, digest: sha256(Buffer.from('request')) }, commands);
  const refuse = (name: string, bad: Buffer, cmds: Command[] = commands, code = 'E_FRAME') =>
    t.throws(() => decodeReply(bad, cmds, sectorBytes), { code }, name);

  refuse('one trailing byte', Buffer.concat([reply, Buffer.alloc(1)]));
  refuse('a reply for one command fewer', reply, commands.slice(0, -1));
  refuse('a reply for one command more', reply, [...commands, { op: Op.status }]);
  refuse('count field off by one', withField(reply, (f) => f.writeUInt16BE(commands.length - 1, 2)));
  refuse('first result names another op', withField(reply, (f) => (f[48] = Op.trim)));
  refuse('unknown per-command status', withField(reply, (f) => (f[49] = statusCodes.length)));
  refuse('unknown batch status', withField(reply, (f) => f.writeUInt16BE(statusCodes.length, 4)));
  const readMore = commands.map((c) => (c.op === Op.read ? { ...c, count: 2 } : c));
  refuse('read answered with fewer sectors than asked', reply, readMore);
  const deathBig = okReply({ counter: 5n, digest: sha256() }, [{ op: Op.deathRead }]);
  deathBig.writeUInt32BE(deathRecordBytesMax + 1, 48 + 2 + 8);
  refuse('death record length above the bound', deathBig, [{ op: Op.deathRead }]);
  const attestAt = reply.length - signatureBytes - 4 - sampleEvidence.length;
  refuse('evidence length above evidenceBytesMax', withField(reply, (f) => f.writeUInt32BE(evidenceBytesMax + 1, attestAt)));
  refuse('evidence length one more than carried', withField(reply, (f) => f.writeUInt32BE(sampleEvidence.length + 1, attestAt)));
  refuse('evidence length one less than carried', withField(reply, (f) => f.writeUInt32BE(sampleEvidence.length - 1, attestAt)));
  refuse(`version ${protocolVersion + 1}`, withField(reply, (f) => (f[0] = protocolVersion + 1)), commands, 'E_VERSION');
  refuse('a request where a reply belongs', withField(reply, (f) => (f[1] = FrameType.request)), commands, 'E_VERSION');
  t.throws(() => decodeHello(withField(hello, (f) => (f[1] = FrameType.reply))), { code: 'E_VERSION' }, 'HELLO of another type');
  t.throws(() => decodeHello(Buffer.concat([hello, Buffer.alloc(1)])), { code: 'E_FRAME' }, 'HELLO with a trailing byte');
});

t.test('known layout: a one-command STATUS request, byte by byte', async (t) => {
  // docs/PROTOCOL.md, "Request batch": header fields at fixed offsets, then op 5 with no arguments.
  const ids = { flags: 1, counter: 0x0102030405060708n, session: Buffer.alloc(32, 0xaa), nonce: Buffer.alloc(32, 0xbb) };
  const { frame, digest } = encodeRequest(ids, [{ op: Op.status }], manager.sign);
  t.equal(frame.length, 80 + 1 + 64);
  t.equal(frame.subarray(0, 8).toString('hex'), '0202000100010000', 'version 2, type request, count, flags (observer), reserved');
  t.equal(frame.subarray(8, 16).toString('hex'), '0102030405060708', 'counter');
  t.ok(frame.subarray(16, 48).equals(Buffer.alloc(32, 0xaa)), 'session');
  t.ok(frame.subarray(48, 80).equals(Buffer.alloc(32, 0xbb)), 'nonce');
  t.equal(frame[80], Op.status);
  t.same(digest, sha256(frame.subarray(0, 81)), 'with no data part, the batch digest is the SHA-256 of the frame before the signature');
});

t.test('known layout: HELLO, byte by byte', async (t) => {
  const h = encodeHello([1, 2, 3, 4, 5], Buffer.alloc(32, 0xcc), 0x1112131415161718n, Buffer.alloc(32, 0xdd));
  t.equal(h.length, 96);
  t.equal(h.subarray(0, 4).toString('hex'), '02010000', 'version 2, type HELLO, reserved');
  t.equal(h.subarray(4, 24).toString('hex'), '0000000100000002000000030000000400000005', 'frameBytesMax, batchCommandsMax, inflightBatchesMax, sector bytes, sector count');
  t.ok(h.subarray(24, 56).equals(Buffer.alloc(32, 0xcc)), 'challenge');
  t.equal(h.subarray(56, 64).toString('hex'), '1112131415161718', 'session sequence number');
  t.ok(h.subarray(64, 96).equals(Buffer.alloc(32, 0xdd)), 'instance public key');
});
