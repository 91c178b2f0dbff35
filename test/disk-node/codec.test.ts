// The frame codec on both sides of the wire (disk-node/wire.ts and
// array-manager/node-client/frame-codec.ts): what one side encodes the other
// decodes to the same fields, and every malformed frame (each truncation,
// trailing bytes, unknown ops, count mismatches, wrong version or type) is
// refused with a typed error rather than misread.
import t from 'tap';
import fc from 'fast-check';
import { verify } from 'node:crypto';
import { NodeError, decodeHello, decodeReply, encodeRequest, type Command } from '../../array-manager/node-client/frame-codec.ts';
import { batchCommandsMax, deathRecordBytesMax, protocolVersion } from '../../disk-node/limits.ts';
import { ed25519PublicKey } from '../../disk-node/node-core.ts';
import {
  FrameType,
  Op,
  Status,
  WireError,
  allocReply,
  batchSignatureDomain,
  decodeRequest,
  encodeHello,
  requestHeaderBytes,
  sha256,
  signFrame,
  signatureBytes,
  statusCodes,
  statusPayloadBytes,
  type ResultSlot,
} from '../../disk-node/wire.ts';
import { commandArb, deathReadPayload } from './arbitraries.ts';
import { fakeProvider, fakeVerifyHello, managerKeys } from './fixtures.ts';

const sectorBytes = 512;
const manager = managerKeys();
const managerKey = ed25519PublicKey(manager.publicRaw);
const provider = fakeProvider();
const attest = (digest: Buffer) => provider.sign(digest);
const hello = encodeHello(
  { frameBytesMax: 1 << 20, batchCommandsMax, inflightBatchesMax: 8, sectorBytes, sectorCount: 100, challenge: Buffer.alloc(32, 7), evidence: provider.evidence },
  attest,
);
const peer = fakeVerifyHello(decodeHello(hello));

const idsArb = fc.record({
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
];
const sampleIds = { counter: 5n, session: Buffer.alloc(32, 1), nonce: Buffer.alloc(32, 2) };

/** The payload each command's result carries in an OK reply, filled with recognisable bytes. */
function payloadFor(c: Command, i: number): Buffer {
  if (c.op === Op.read) return Buffer.alloc(c.count * sectorBytes, i + 1);
  if (c.op === Op.status) return Buffer.alloc(statusPayloadBytes, i + 1);
  if (c.op === Op.deathRead) return deathReadPayload(BigInt(i), Buffer.alloc(i, 0xee));
  return Buffer.alloc(0);
}

/** An OK reply to `commands` as the node lays it out, attested by the fake provider. */
function okReply(ids: { counter: bigint; nonce: Uint8Array }, commands: Command[]): Buffer {
  const payloads = commands.map(payloadFor);
  const slots = commands.map((c, i): ResultSlot => ({ op: c.op, status: Status.ok, payloadBytes: payloads[i].length }));
  const { frame, offsets } = allocReply(ids, Status.ok, slots);
  payloads.forEach((p, i) => frame.set(p, offsets[i]));
  return signFrame(frame, attest);
}

const withField = (frame: Buffer, edit: (f: Buffer) => void): Buffer => {
  const copy = Buffer.from(frame);
  edit(copy);
  return copy;
};

t.test('property: encodeRequest -> decodeRequest keeps every field and the signature verifies', async (t) => {
  fc.assert(
    fc.property(idsArb, commandsArb, (ids, commands) => {
      const frame = encodeRequest(ids, commands, manager.sign);
      const r = decodeRequest(frame, sectorBytes);
      t.same(r.commands, commands);
      const end = frame.length - signatureBytes;
      return (
        r.counter === ids.counter &&
        r.session.equals(ids.session) &&
        r.nonce.equals(ids.nonce) &&
        r.digest.equals(sha256(frame.subarray(0, end))) &&
        verify(null, Buffer.concat([batchSignatureDomain, r.digest]), managerKey, r.signature)
      );
    }),
    { numRuns: 150 },
  );
});

t.test('property: allocReply/signFrame -> decodeReply returns each payload and an attested digest', async (t) => {
  fc.assert(
    fc.property(idsArb, smallReadsArb, (ids, commands) => {
      const frame = okReply(ids, commands);
      const r = decodeReply(frame, commands, sectorBytes);
      if (r.counter !== ids.counter || !r.nonce.equals(ids.nonce) || r.batchStatus !== Status.ok) return false;
      if (!peer.verifyReport(r.digest, r.signature)) return false;
      t.same(r.statuses, commands.map(() => Status.ok));
      return commands.every((c, i) => {
        const res = r.results[i];
        if (res.op !== c.op) return false;
        if (res.op === Op.read) return res.data.equals(payloadFor(c, i));
        if (res.op === Op.status) return res.status.instanceId.equals(Buffer.alloc(16, i + 1));
        if (res.op === Op.deathRead) return res.version === BigInt(i) && res.record.equals(Buffer.alloc(i, 0xee));
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
      const r = decodeReply(signFrame(allocReply(ids, batchStatus, slots).frame, attest), commands, sectorBytes);
      return r.batchStatus === batchStatus && r.results.length === 0 && r.statuses.length === slots.length && peer.verifyReport(r.digest, r.signature);
    }),
    { numRuns: 100 },
  );
  t.pass('every refused reply decoded');
});

t.test('property: encodeHello -> decodeHello keeps every field', async (t) => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  fc.assert(
    fc.property(
      fc.record({
        frameBytesMax: u32,
        batchCommandsMax: u32,
        inflightBatchesMax: u32,
        sectorBytes: u32,
        sectorCount: u32,
        challenge: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        evidence: fc.uint8Array({ maxLength: 600 }),
      }),
      (f) => {
        const h = decodeHello(encodeHello(f, attest));
        t.same(
          [h.frameBytesMax, h.batchCommandsMax, h.inflightBatchesMax, h.sectorBytes, h.sectorCount],
          [f.frameBytesMax, f.batchCommandsMax, f.inflightBatchesMax, f.sectorBytes, f.sectorCount],
        );
        return h.challenge.equals(f.challenge) && h.evidence.equals(f.evidence) && peer.verifyReport(h.digest, h.signature);
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
  const frame = encodeRequest(sampleIds, sample(), manager.sign);
  const codes = new Set<string>();
  for (let n = 0; n < frame.length; n++) codes.add(refusal(frame.subarray(0, n)));
  t.same([...codes], ['E_FRAME'], `all ${frame.length} truncations refused with E_FRAME`);
});

t.test('every truncation of a valid reply and of HELLO is refused with E_FRAME', async (t) => {
  const commands = sample();
  const reply = okReply(sampleIds, commands);
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
  const frame = encodeRequest(sampleIds, commands, manager.sign);
  const end = frame.length - signatureBytes;
  const refuse = (name: string, bad: Buffer, status: number) => t.equal(refusal(bad), statusCodes[status], name);

  refuse('one trailing byte', Buffer.concat([frame, Buffer.alloc(1)]), Status.frame);
  refuse('a trailing byte before the signature', Buffer.concat([frame.subarray(0, end), Buffer.alloc(1), frame.subarray(end)]), Status.frame);
  for (const op of [0, 8, 0x7f, 0xff]) {
    refuse(`unknown op ${op}`, withField(frame, (f) => (f[requestHeaderBytes] = op)), Status.frame);
  }
  refuse('count one above the commands present', withField(frame, (f) => f.writeUInt16BE(commands.length + 1, 2)), Status.frame);
  refuse('count one below the commands present', withField(frame, (f) => f.writeUInt16BE(commands.length - 1, 2)), Status.frame);
  refuse('count above batchCommandsMax', withField(frame, (f) => f.writeUInt16BE(batchCommandsMax + 1, 2)), Status.tooLarge);
  refuse('write claims one more sector than it carries', withField(frame, (f) => f.writeUInt32BE(3, requestHeaderBytes + 5)), Status.frame);
  refuse('death record length past the end', withField(frame, (f) => f.writeUInt32BE(0xffffffff, end - 6 - 4)), Status.frame);
  refuse('version 2', withField(frame, (f) => (f[0] = protocolVersion + 1)), Status.version);
  refuse('a HELLO where a request belongs', withField(frame, (f) => (f[1] = FrameType.hello)), Status.version);
  refuse('a reply where a request belongs', withField(frame, (f) => (f[1] = FrameType.reply)), Status.version);
  t.equal(decodeRequest(frame, sectorBytes).commands.length, commands.length, 'the unedited frame still decodes');
});

t.test('reply: trailing bytes, count mismatch, wrong op, unknown status, payload sized for another command', async (t) => {
  const commands = sample();
  const reply = okReply(sampleIds, commands);
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
  const deathBig = okReply(sampleIds, [{ op: Op.deathRead }]);
  deathBig.writeUInt32BE(deathRecordBytesMax + 1, 48 + 2 + 8);
  refuse('death record length above the bound', deathBig, [{ op: Op.deathRead }]);
  refuse('version 2', withField(reply, (f) => (f[0] = protocolVersion + 1)), commands, 'E_VERSION');
  refuse('a request where a reply belongs', withField(reply, (f) => (f[1] = FrameType.request)), commands, 'E_VERSION');
  t.throws(() => decodeHello(withField(hello, (f) => (f[1] = FrameType.reply))), { code: 'E_VERSION' }, 'HELLO of another type');
  t.throws(() => decodeHello(Buffer.concat([hello, Buffer.alloc(1)])), { code: 'E_FRAME' }, 'HELLO with a trailing byte');
});

t.test('known layout: a one-command STATUS request, byte by byte', async (t) => {
  // docs/PROTOCOL.md, "Request batch": header fields at fixed offsets, then op 5 with no arguments.
  const frame = encodeRequest({ counter: 0x0102030405060708n, session: Buffer.alloc(32, 0xaa), nonce: Buffer.alloc(32, 0xbb) }, [{ op: Op.status }], manager.sign);
  t.equal(frame.length, 80 + 1 + 64);
  t.equal(frame.subarray(0, 8).toString('hex'), '0102000100000000', 'version, type, count, reserved');
  t.equal(frame.subarray(8, 16).toString('hex'), '0102030405060708', 'counter');
  t.ok(frame.subarray(16, 48).equals(Buffer.alloc(32, 0xaa)), 'session');
  t.ok(frame.subarray(48, 80).equals(Buffer.alloc(32, 0xbb)), 'nonce');
  t.equal(frame[80], Op.status);
});
