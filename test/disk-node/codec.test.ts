// The frame codec on both sides of the wire (disk-node/wire.ts and
// array-manager/node-client/frame-codec.ts), protocol version 3: what one
// side encodes the other decodes to the same fields, for both request frame
// types (a session's signed open frame, every later MACed frame); both sides
// compute the same batch digest (header, each command's fixed fields, the
// SHA-256 of each data part); the trailer is the manager's signature (64
// bytes) on an open frame and the request key's HMAC (32 bytes) on a later
// one; replies carry the reply key's HMAC over every byte before it; both
// ends derive the same session keys; and every malformed frame (each
// truncation, trailing bytes, unknown ops, count mismatches, a trailer of the
// other frame type's length, wrong version or type, a frame of one request
// type where the other belongs) is refused with a typed error rather than
// misread.
import t from 'tap';
import fc from 'fast-check';
import { createHmac, diffieHellman, hkdfSync, verify } from 'node:crypto';
import { NodeError, decodeHello, decodeReply, encodeRequest, type Command, type OutgoingCommand, type RequestIds } from '../../array-manager/node-client/frame-codec.ts';
import { batchCommandsMax, deathRecordBytesMax, evidenceBytesMax, protocolVersion } from '../../disk-node/limits.ts';
import {
  FrameType,
  Op,
  Status,
  WireError,
  allocReply,
  decodeRequest,
  encodeHello,
  encodeLaunch,
  keysDomain,
  mac,
  macBytes,
  openDomain,
  openHeaderBytes,
  rawPublicKey,
  replyHeaderBytes,
  requestHeaderBytes,
  sessionDomain,
  sessionKeys,
  sessionReportData,
  sha256,
  signatureBytes,
  statusCodes,
  statusPayloadBytes,
  type ResultSlot,
} from '../../disk-node/wire.ts';
import { commandArb, deathReadPayload } from './arbitraries.ts';
import { closeCode, managerKeys, openTestSession, replyAuthentic, sessionKeyPair, testNode } from './fixtures.ts';

const sectorBytes = 512;
const manager = managerKeys();
const managerKey = rawPublicKey('Ed25519', manager.publicRaw);
/** Stands in for a node's X25519 instance key; `managerSession` for the manager's session key. */
const instance = sessionKeyPair();
const managerSession = sessionKeyPair();
const challenge = Buffer.alloc(32, 7);
const ids = { challenge, managerSessionKey: managerSession.publicRaw, instancePublicKey: instance.publicRaw };
/** The session's keys as the node derives them (its instance key, the manager's session public key). */
const keys = sessionKeys(instance.privateKey, managerSession.publicRaw, ids);
const hello = encodeHello([1 << 20, batchCommandsMax, 8, sectorBytes, 100], challenge, 3n, instance.publicRaw);

const signer = { sign: manager.sign };
const macer = { key: keys.request };

/** MACs a reply frame in place the way the node does: HMAC-SHA-256(reply key, every byte before the MAC). */
function sealReply(frame: Buffer, key: Uint8Array = keys.reply): Buffer {
  const end = frame.length - macBytes;
  frame.set(createHmac('sha256', key).update(frame.subarray(0, end)).digest(), end);
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

/** Bytes the commands take on the wire, from the command table of docs/PROTOCOL.md. */
function specCommandBytes(commands: Command[]): number {
  let n = 0;
  for (const c of commands) {
    if (c.op === Op.read || c.op === Op.trim) n += 9;
    else if (c.op === Op.write) n += 9 + c.data.length;
    else if (c.op === Op.copy) n += 13;
    else if (c.op === Op.deathWrite) n += 13 + c.record.length;
    else n += 1;
  }
  return n;
}

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));
const headArb = { flags: fc.integer({ min: 0, max: 0xffff }), counter: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) };
const openIdsArb = fc.record({ ...headArb, opening: fc.record({ session: bytes32, sessionKey: bytes32 }) });
const macedIdsArb = fc.record(headArb);
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
const sampleOpenIds: RequestIds = { flags: 0, counter: 1n, opening: { session: challenge, sessionKey: managerSession.publicRaw } };
const sampleMacedIds: RequestIds = { flags: 0, counter: 5n };
const sampleEvidence = Buffer.from('evidence of the sample reply');

/** Both request frame types, with what differs between them. */
const kinds = [
  { name: 'open frame', opening: true, ids: sampleOpenIds, auth: signer, type: FrameType.open, header: openHeaderBytes, trailer: signatureBytes },
  { name: 'MACed frame', opening: false, ids: sampleMacedIds, auth: macer, type: FrameType.request, header: requestHeaderBytes, trailer: macBytes },
] as const;

/** True iff `auth` authenticates `digest` as the kind of frame it came in: the manager key's signature, or the request key's MAC. */
function authentic(opening: boolean, digest: Buffer, auth: Buffer): boolean {
  if (opening) return verify(null, Buffer.concat([openDomain, digest]), managerKey, auth);
  return auth.equals(createHmac('sha256', keys.request).update(digest).digest());
}

/** The payload each command's result carries in an OK reply, filled with recognisable bytes. */
function payloadFor(c: Command, i: number): Buffer {
  if (c.op === Op.read) return Buffer.alloc(c.count * sectorBytes, i + 1);
  if (c.op === Op.status) return Buffer.alloc(statusPayloadBytes, i + 1);
  if (c.op === Op.deathRead) return deathReadPayload(BigInt(i), Buffer.alloc(i, 0xee));
  if (c.op === Op.attest) return Buffer.concat([u32Buffer(sampleEvidence.length), sampleEvidence]);
  return Buffer.alloc(0);
}

/** An OK reply to `commands` as the node lays it out, MACed with the reply key. */
function okReply(ids: { counter: bigint; digest: Uint8Array }, commands: Command[]): Buffer {
  const payloads = commands.map(payloadFor);
  const slots = commands.map((c, i): ResultSlot => ({ op: c.op, status: Status.ok, payloadBytes: payloads[i].length }));
  const { frame, offsets } = allocReply(ids, Status.ok, slots);
  payloads.forEach((p, i) => frame.set(p, offsets[i]));
  return sealReply(frame);
}

const withField = (frame: Buffer, edit: (f: Buffer) => void): Buffer => {
  const copy = Buffer.from(frame);
  edit(copy);
  return copy;
};

t.test('session keys: both ends derive the same pair from the spec, one key per direction, each input matters', async (t) => {
  const manager = sessionKeys(managerSession.privateKey, instance.publicRaw, ids);
  t.same(manager, keys, 'the manager (its session key, the instance public key) derives what the node derives');
  t.equal(keys.request.length, 32);
  t.equal(keys.reply.length, 32);
  t.notSame(keys.request, keys.reply, 'request and reply keys differ');
  const secret = diffieHellman({ privateKey: instance.privateKey, publicKey: rawPublicKey('X25519', managerSession.publicRaw) });
  const okm = Buffer.from(hkdfSync('sha256', secret, challenge, Buffer.concat([Buffer.from('teearray/keys/v3'), managerSession.publicRaw, instance.publicRaw]), 64));
  t.same([keys.request, keys.reply], [okm.subarray(0, 32), okm.subarray(32)], 'HKDF-SHA-256(X25519 secret, salt challenge, info "teearray/keys/v3" || session key || instance key): request key first');
  t.equal(keysDomain.toString(), 'teearray/keys/v3');
  const other = sessionKeyPair().publicRaw;
  const variants: [string, Buffer][] = [
    ['another challenge', sessionKeys(instance.privateKey, managerSession.publicRaw, { ...ids, challenge: Buffer.alloc(32, 8) }).request],
    ['another session key named in the info', sessionKeys(instance.privateKey, managerSession.publicRaw, { ...ids, managerSessionKey: other }).request],
    ['another instance key named in the info', sessionKeys(instance.privateKey, managerSession.publicRaw, { ...ids, instancePublicKey: other }).request],
    ['another peer key', sessionKeys(instance.privateKey, other, ids).request],
  ];
  for (const [name, request] of variants) t.notSame(request, keys.request, `${name}: other keys`);
  for (const [name, peer] of [
    ['an all-zero X25519 key (low order: no secret)', Buffer.alloc(32)],
    ['the X25519 point of order 8 (no secret)', Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex')],
    ['a 31-byte key', Buffer.alloc(31, 9)],
  ] as const) {
    t.throws(() => sessionKeys(instance.privateKey, peer, ids), new WireError(Status.frame, 'session key is not a valid X25519 key'), `${name}: E_FRAME`);
  }
});

t.test('session report data: SHA-256 of "teearray/session/v3", challenge, manager session key, instance key, launch config', async (t) => {
  const launch = encodeLaunch({ managerPublicKey: manager.publicRaw, sectorBytes, sectorCount: 100 });
  t.same(launch, Buffer.concat([manager.publicRaw, u32Buffer(sectorBytes, 100)]), 'launch config: manager key, sector bytes, sector count');
  const expected = sha256(Buffer.from('teearray/session/v3'), challenge, managerSession.publicRaw, instance.publicRaw, launch);
  t.same(sessionReportData(ids, launch), expected);
  t.equal(sessionDomain.toString(), 'teearray/session/v3');
  const other = Buffer.alloc(32, 0x55);
  for (const [name, changed] of [
    ['challenge', sessionReportData({ ...ids, challenge: other }, launch)],
    ['manager session key', sessionReportData({ ...ids, managerSessionKey: other }, launch)],
    ['instance key', sessionReportData({ ...ids, instancePublicKey: other }, launch)],
    ['launch config', sessionReportData(ids, encodeLaunch({ managerPublicKey: manager.publicRaw, sectorBytes, sectorCount: 101 }))],
  ] as const) {
    t.notSame(changed, expected, `another ${name}: other report data`);
  }
});

t.test('property: an open frame round-trips every field; both sides compute the batch digest of the spec; the manager signs it', async (t) => {
  fc.assert(
    fc.property(openIdsArb, commandsArb, (ids, commands) => {
      const { frame, digest } = encodeRequest(ids, commands, signer);
      const r = decodeRequest(frame, sectorBytes, true);
      t.same(r.commands, commands);
      return (
        frame.length === openHeaderBytes + specCommandBytes(commands) + signatureBytes &&
        frame[0] === 3 &&
        frame[1] === FrameType.open &&
        r.flags === ids.flags &&
        r.counter === ids.counter &&
        r.opening !== undefined &&
        r.opening.session.equals(ids.opening.session) &&
        r.opening.sessionKey.equals(ids.opening.sessionKey) &&
        r.digest.equals(digest) &&
        r.digest.equals(specDigest(frame.subarray(0, openHeaderBytes), commands)) &&
        r.auth.length === signatureBytes &&
        r.auth.equals(frame.subarray(-signatureBytes)) &&
        verify(null, Buffer.concat([Buffer.from('teearray/open/v3'), r.digest]), managerKey, r.auth)
      );
    }),
    { numRuns: 150 },
  );
});

t.test('property: a MACed frame round-trips every field; its trailer is HMAC-SHA-256(request key, batch digest)', async (t) => {
  fc.assert(
    fc.property(macedIdsArb, commandsArb, (ids, commands) => {
      const { frame, digest } = encodeRequest(ids, commands, macer);
      const r = decodeRequest(frame, sectorBytes, false);
      t.same(r.commands, commands);
      return (
        frame.length === requestHeaderBytes + specCommandBytes(commands) + macBytes &&
        frame[0] === 3 &&
        frame[1] === FrameType.request &&
        r.flags === ids.flags &&
        r.counter === ids.counter &&
        r.opening === undefined &&
        r.digest.equals(digest) &&
        r.digest.equals(specDigest(frame.subarray(0, requestHeaderBytes), commands)) &&
        r.auth.length === macBytes &&
        r.auth.equals(frame.subarray(-macBytes)) &&
        r.auth.equals(createHmac('sha256', keys.request).update(r.digest).digest()) &&
        !r.auth.equals(mac(keys.reply, r.digest))
      );
    }),
    { numRuns: 150 },
  );
});

t.test('a WRITE in pieces: same frame and digest as the whole WRITE; a given piece digest is what gets authenticated', async (t) => {
  const data = Buffer.from(Array.from({ length: 3 * sectorBytes }, (_, i) => (i * 7) & 0xff));
  const pieces = [data.subarray(0, 100), data.subarray(100, 1000), data.subarray(1000)];
  const inPieces = (digest?: Buffer): OutgoingCommand[] => [{ op: Op.write, sector: 1, count: 3, pieces, digest }];
  for (const k of kinds) {
    const whole = encodeRequest(k.ids, [{ op: Op.write, sector: 1, count: 3, data }], k.auth);
    for (const [name, digest] of [['no digest', undefined], ['the right digest', sha256(data)]] as const) {
      const encoded = encodeRequest(k.ids, inPieces(digest), k.auth);
      t.same([encoded.frame, encoded.digest], [whole.frame, whole.digest], `${k.name}, ${name}: the same frame and digest`);
    }
    const wrong = encodeRequest(k.ids, inPieces(sha256(Buffer.from('other data'))), k.auth);
    t.notSame(wrong.digest, whole.digest, `${k.name}: a wrong piece digest changes the batch digest`);
    t.same(wrong.frame.subarray(0, -k.trailer), whole.frame.subarray(0, -k.trailer), `${k.name}: but not the bytes before the trailer`);
    const decoded = decodeRequest(wrong.frame, sectorBytes, k.opening);
    t.ok(authentic(k.opening, whole.digest, whole.frame.subarray(-k.trailer)), `${k.name}: the whole WRITE is authentic`);
    t.notOk(authentic(k.opening, decoded.digest, decoded.auth), `${k.name}: so the node finds the trailer invalid`);
  }
});

t.test('the batch digest covers every field: changing any byte before the trailer changes it; the trailer authenticates it', async (t) => {
  for (const k of kinds) {
    const { frame, digest } = encodeRequest(k.ids, sample(), k.auth);
    const end = frame.length - k.trailer;
    const unchanged: number[] = [];
    for (let at = 0; at < end; at++) {
      const r = (() => {
        try {
          return decodeRequest(withField(frame, (f) => (f[at] ^= 0x10)), sectorBytes, k.opening);
        } catch {
          return undefined; // no longer parses: refused before any digest matters
        }
      })();
      if (r && r.digest.equals(digest)) unchanged.push(at);
    }
    t.same(unchanged, [], `${k.name}: every one of the ${end} bytes is covered`);
    t.ok(authentic(k.opening, digest, frame.subarray(end)), `${k.name}: the trailer authenticates the digest`);
    const forged = (at: number) => decodeRequest(withField(frame, (f) => (f[at] ^= 1)), sectorBytes, k.opening);
    const flips = [end, end + (k.trailer >> 1), frame.length - 1].map(forged);
    t.same(flips.map((r) => r.digest), [digest, digest, digest], `${k.name}: the trailer is not part of the digest`);
    t.same(flips.map((r) => authentic(k.opening, r.digest, r.auth)), [false, false, false], `${k.name}: a flipped trailer bit no longer authenticates it`);
  }
});

t.test('property: allocReply -> decodeReply returns each payload, the request digest, and a MAC under the reply key', async (t) => {
  fc.assert(
    fc.property(macedIdsArb, bytes32, smallReadsArb, fc.nat(), (ids, digest, commands, flip) => {
      const frame = okReply({ counter: ids.counter, digest }, commands);
      const r = decodeReply(frame, commands, sectorBytes);
      if (r.counter !== ids.counter || !r.requestDigest.equals(digest) || r.batchStatus !== Status.ok) return false;
      if (!r.authenticated.equals(frame.subarray(0, -macBytes)) || !r.mac.equals(frame.subarray(-macBytes)) || r.mac.length !== macBytes) return false;
      // The client's check (node-client.ts): HMAC-SHA-256(reply key, authenticated) equals the MAC.
      if (!mac(keys.reply, r.authenticated).equals(r.mac) || !replyAuthentic(keys.reply, frame)) return false;
      if (replyAuthentic(keys.request, frame)) return false; // a request key never authenticates a reply
      const at = flip % frame.length;
      if (replyAuthentic(keys.reply, withField(frame, (f) => (f[at] ^= 1 << (flip & 7))))) return false;
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
    fc.property(macedIdsArb, bytes32, commandsArb, statusArb, fc.boolean(), (ids, digest, commands, batchStatus, perCommand) => {
      const slots = perCommand ? commands.map((c): ResultSlot => ({ op: c.op, status: batchStatus, payloadBytes: 0 })) : [];
      const frame = sealReply(allocReply({ counter: ids.counter, digest }, batchStatus, slots).frame);
      const r = decodeReply(frame, commands, sectorBytes);
      return (
        frame.length === replyHeaderBytes + 2 * slots.length + macBytes &&
        r.batchStatus === batchStatus &&
        r.results.length === 0 &&
        r.statuses.length === slots.length &&
        r.statuses.every((s) => s === batchStatus) &&
        r.requestDigest.equals(digest) &&
        replyAuthentic(keys.reply, frame)
      );
    }),
    { numRuns: 100 },
  );
});

t.test('a real core: the open frame sets the session keys; its replies carry the reply key MAC the manager derives', async (t) => {
  const node = testNode(16, sectorBytes);
  const s = openTestSession(node);
  const commands: Command[] = [{ op: Op.write, sector: 1, count: 1, data: Buffer.alloc(sectorBytes, 0x3c) }, { op: Op.read, sector: 1, count: 1 }];
  for (const [name, open] of [['the open frame', true], ['a MACed frame', false]] as const) {
    const { frame, digest } = s.frame(commands);
    t.equal(frame[1], open ? FrameType.open : FrameType.request, `${name} has its type`);
    const answer = node.core.handle(s.session, frame);
    if (!Buffer.isBuffer(answer)) throw new Error(`closed: ${answer.close}`);
    t.ok(replyAuthentic(s.keys.reply, answer), `${name}: the reply carries HMAC(reply key, reply before it)`);
    t.notOk(replyAuthentic(s.keys.request, answer), `${name}: not under the request key`);
    const r = decodeReply(answer, commands, sectorBytes);
    t.same([r.batchStatus, r.requestDigest], [Status.ok, digest], `${name}: OK, answering this request`);
    const flips = Array.from({ length: answer.length }, (_, at) => replyAuthentic(s.keys.reply, withField(answer, (f) => (f[at] ^= 0x80))));
    t.equal(flips.indexOf(true), -1, `${name}: a flipped bit anywhere in the reply breaks its MAC`);
  }
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
function refusal(frame: Buffer, opening: boolean): string {
  try {
    decodeRequest(frame, sectorBytes, opening);
    return 'accepted';
  } catch (err) {
    return err instanceof WireError ? statusCodes[err.status] : 'untyped';
  }
}

t.test('every truncation of a valid request of either type is refused with E_FRAME', async (t) => {
  for (const k of kinds) {
    const { frame } = encodeRequest(k.ids, sample(), k.auth);
    const codes = new Set<string>();
    for (let n = 0; n < frame.length; n++) codes.add(refusal(frame.subarray(0, n), k.opening));
    t.same([...codes], ['E_FRAME'], `${k.name}: all ${frame.length} truncations refused with E_FRAME`);
    t.equal(refusal(frame, k.opening), 'accepted', `${k.name}: the whole frame decodes`);
  }
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

t.test('request, either type: trailing bytes, unknown op, count mismatch, version, type, too many commands', async (t) => {
  const commands = sample();
  for (const k of kinds) {
    const { frame } = encodeRequest(k.ids, commands, k.auth);
    const end = frame.length - k.trailer;
    const refuse = (name: string, bad: Buffer, status: number) => t.equal(refusal(bad, k.opening), statusCodes[status], `${k.name}: ${name}`);

    refuse('one trailing byte', Buffer.concat([frame, Buffer.alloc(1)]), Status.frame);
    refuse('a trailing byte before the trailer', Buffer.concat([frame.subarray(0, end), Buffer.alloc(1), frame.subarray(end)]), Status.frame);
    for (const op of [0, Op.attest + 1, 0x7f, 0xff]) {
      refuse(`unknown op ${op}`, withField(frame, (f) => (f[k.header] = op)), Status.frame);
    }
    refuse('count one above the commands present', withField(frame, (f) => f.writeUInt16BE(commands.length + 1, 2)), Status.frame);
    refuse('count one below the commands present', withField(frame, (f) => f.writeUInt16BE(commands.length - 1, 2)), Status.frame);
    refuse('count above batchCommandsMax', withField(frame, (f) => f.writeUInt16BE(batchCommandsMax + 1, 2)), Status.tooLarge);
    refuse('write claims one more sector than it carries', withField(frame, (f) => f.writeUInt32BE(3, k.header + 5)), Status.frame);
    refuse('write claims one sector fewer than it carries', withField(frame, (f) => f.writeUInt32BE(1, k.header + 5)), Status.frame);
    refuse('death record length past the end', withField(frame, (f) => f.writeUInt32BE(0xffffffff, end - 1 - 6 - 4)), Status.frame);
    refuse(`version ${protocolVersion + 1}`, withField(frame, (f) => (f[0] = protocolVersion + 1)), Status.version);
    refuse(`version ${protocolVersion - 1} (the protocol before sessions had keys)`, withField(frame, (f) => (f[0] = protocolVersion - 1)), Status.version);
    refuse('a HELLO where a request belongs', withField(frame, (f) => (f[1] = FrameType.hello)), Status.version);
    refuse('a reply where a request belongs', withField(frame, (f) => (f[1] = FrameType.reply)), Status.version);
    refuse('type 0', withField(frame, (f) => (f[1] = 0)), Status.version);
    const otherType = k.opening ? FrameType.request : FrameType.open;
    refuse(`the other request type (${otherType}) in the type byte`, withField(frame, (f) => (f[1] = otherType)), Status.version);
    t.equal(decodeRequest(frame, sectorBytes, k.opening).commands.length, commands.length, `${k.name}: the unedited frame still decodes`);
  }
});

t.test('trailer lengths: 64 (signature) on an open frame, 32 (MAC) on a later one; the other length is a malformed frame', async (t) => {
  const commands = sample();
  const open = encodeRequest(sampleOpenIds, commands, signer);
  const maced = encodeRequest(sampleMacedIds, commands, macer);
  const body = specCommandBytes(commands);
  t.equal(open.frame.length, openHeaderBytes + body + 64, 'open frame: 80-byte header, commands, 64-byte signature');
  t.equal(maced.frame.length, requestHeaderBytes + body + 32, 'MACed frame: 16-byte header, commands, 32-byte MAC');
  t.same(open.frame.subarray(openHeaderBytes, -64), maced.frame.subarray(requestHeaderBytes, -32), 'the same commands between header and trailer');
  t.same(decodeRequest(open.frame, sectorBytes, true).auth, open.frame.subarray(-64));
  t.same(decodeRequest(maced.frame, sectorBytes, false).auth, maced.frame.subarray(-32));
  const openWithMac = Buffer.concat([open.frame.subarray(0, -64), mac(keys.request, open.digest)]);
  t.equal(refusal(openWithMac, true), 'E_FRAME', 'an open frame with a 32-byte trailer');
  const macedWithSignature = Buffer.concat([maced.frame.subarray(0, -32), manager.sign(Buffer.concat([openDomain, maced.digest]))]);
  t.equal(refusal(macedWithSignature, false), 'E_FRAME', 'a MACed frame with a 64-byte trailer');
  t.equal(refusal(Buffer.alloc(openHeaderBytes + signatureBytes - 1), true), 'E_FRAME', 'an open frame shorter than header + signature');
  t.equal(refusal(Buffer.alloc(requestHeaderBytes + macBytes - 1), false), 'E_FRAME', 'a MACed frame shorter than header + MAC');
  const emptyOpen = encodeRequest(sampleOpenIds, [], signer).frame;
  const emptyMaced = encodeRequest(sampleMacedIds, [], macer).frame;
  t.same([emptyOpen.length, emptyMaced.length], [144, 48], 'with no command: the shortest frames');
  t.same([refusal(emptyOpen, true), refusal(emptyMaced, false)], ['accepted', 'accepted'], 'decode with no command');
});

t.test('type mismatch: a MACed frame where the open frame belongs and an open frame where a MACed one belongs are E_VERSION', async (t) => {
  const commands = sample();
  const open = encodeRequest(sampleOpenIds, commands, signer).frame;
  const maced = encodeRequest(sampleMacedIds, commands, macer).frame;
  t.equal(refusal(maced, true), 'E_VERSION', 'a MACed frame decoded as an open frame');
  t.equal(refusal(open, false), 'E_VERSION', 'an open frame decoded as a MACed frame');
  // The length check comes first: a MACed frame too short to be any open frame is malformed as one.
  const short = encodeRequest(sampleMacedIds, [{ op: Op.status }], macer).frame;
  t.equal(short.length, 49);
  t.equal(refusal(short, true), 'E_FRAME', 'a MACed frame shorter than 144 bytes decoded as an open frame');

  // The node expects the open frame until a session has its keys, a MACed frame after.
  const node = testNode(16, sectorBytes);
  const write: Command[] = [{ op: Op.write, sector: 0, count: 1, data: Buffer.alloc(sectorBytes, 1) }];
  const first = openTestSession(node);
  t.equal(closeCode(node.core.handle(first.session, first.frame(write, { open: false }).frame)), 'E_VERSION', 'a MACed first frame: the session is closed with E_VERSION');
  t.equal(first.session.keys, undefined, 'and it has no keys');
  const second = openTestSession(node);
  t.equal(closeCode(node.core.handle(second.session, second.frame(write).frame)), 'reply', 'an open frame opens the session');
  t.equal(closeCode(node.core.handle(second.session, second.frame(write, { open: true }).frame)), 'E_VERSION', 'a second open frame on it: E_VERSION');
  const third = openTestSession(node);
  t.equal(closeCode(node.core.handle(third.session, third.frame(write).frame)), 'reply');
  t.equal(closeCode(node.core.handle(third.session, third.frame(write).frame)), 'reply', 'a MACed frame after the open frame runs');
  t.equal(node.core.stats.batchesExecuted, 3n, 'only the three well-typed frames ran');
});

t.test('reply: trailing bytes, count mismatch, wrong op, unknown status, payload sized for another command', async (t) => {
  const commands = sample();
  const reply = okReply({ counter: 5n, digest: sha256(Buffer.from('request')) }, commands);
  const refuse = (name: string, bad: Buffer, cmds: Command[] = commands, code = 'E_FRAME') =>
    t.throws(() => decodeReply(bad, cmds, sectorBytes), { code }, name);

  refuse('one trailing byte', Buffer.concat([reply, Buffer.alloc(1)]));
  refuse('a 64-byte trailer (a v2 signature) instead of the MAC', Buffer.concat([reply, Buffer.alloc(32)]));
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
  const attestAt = reply.length - macBytes - 4 - sampleEvidence.length;
  refuse('evidence length above evidenceBytesMax', withField(reply, (f) => f.writeUInt32BE(evidenceBytesMax + 1, attestAt)));
  refuse('evidence length one more than carried', withField(reply, (f) => f.writeUInt32BE(sampleEvidence.length + 1, attestAt)));
  refuse('evidence length one less than carried', withField(reply, (f) => f.writeUInt32BE(sampleEvidence.length - 1, attestAt)));
  refuse(`version ${protocolVersion + 1}`, withField(reply, (f) => (f[0] = protocolVersion + 1)), commands, 'E_VERSION');
  refuse(`version ${protocolVersion - 1}`, withField(reply, (f) => (f[0] = protocolVersion - 1)), commands, 'E_VERSION');
  refuse('a MACed request where a reply belongs', withField(reply, (f) => (f[1] = FrameType.request)), commands, 'E_VERSION');
  refuse('an open frame where a reply belongs', withField(reply, (f) => (f[1] = FrameType.open)), commands, 'E_VERSION');
  t.same(decodeReply(reply, commands, sectorBytes).statuses.length, commands.length, 'the unedited reply still decodes');
  t.throws(() => decodeHello(withField(hello, (f) => (f[1] = FrameType.reply))), { code: 'E_VERSION' }, 'HELLO of another type');
  t.throws(() => decodeHello(withField(hello, (f) => (f[0] = protocolVersion - 1))), { code: 'E_VERSION' }, 'HELLO of version 2');
  t.throws(() => decodeHello(Buffer.concat([hello, Buffer.alloc(1)])), { code: 'E_FRAME' }, 'HELLO with a trailing byte');
});

t.test('known layout: a one-command STATUS open frame, byte by byte', async (t) => {
  // docs/PROTOCOL.md, "Open frame": header fields at fixed offsets, then op 5 with no arguments, then the signature.
  const ids = { flags: 1, counter: 0x0102030405060708n, opening: { session: Buffer.alloc(32, 0xaa), sessionKey: Buffer.alloc(32, 0xbb) } };
  const { frame, digest } = encodeRequest(ids, [{ op: Op.status }], signer);
  t.equal(frame.length, 80 + 1 + 64);
  t.equal(frame.subarray(0, 8).toString('hex'), '0302000100010000', 'version 3, type open, count, flags (observer), reserved');
  t.equal(frame.subarray(8, 16).toString('hex'), '0102030405060708', 'counter');
  t.ok(frame.subarray(16, 48).equals(Buffer.alloc(32, 0xaa)), 'challenge');
  t.ok(frame.subarray(48, 80).equals(Buffer.alloc(32, 0xbb)), "manager's session key");
  t.equal(frame[80], Op.status);
  t.same(digest, sha256(frame.subarray(0, 81)), 'with no data part, the batch digest is the SHA-256 of the frame before the signature');
  t.ok(verify(null, Buffer.concat([Buffer.from('teearray/open/v3'), digest]), managerKey, frame.subarray(81)), 'signature over "teearray/open/v3" || batch digest');
  t.notOk(verify(null, digest, managerKey, frame.subarray(81)), 'not over the bare digest');
});

t.test('known layout: a one-command STATUS MACed frame, byte by byte', async (t) => {
  // docs/PROTOCOL.md, "Later request frames": a 16-byte header, then op 5, then the MAC.
  const { frame, digest } = encodeRequest({ flags: 1, counter: 0x0102030405060708n }, [{ op: Op.status }], macer);
  t.equal(frame.length, 16 + 1 + 32);
  t.equal(frame.subarray(0, 8).toString('hex'), '0304000100010000', 'version 3, type request, count, flags (observer), reserved');
  t.equal(frame.subarray(8, 16).toString('hex'), '0102030405060708', 'counter');
  t.equal(frame[16], Op.status);
  t.same(digest, sha256(frame.subarray(0, 17)), 'with no data part, the batch digest is the SHA-256 of the frame before the MAC');
  t.same(frame.subarray(17), createHmac('sha256', keys.request).update(digest).digest(), 'MAC = HMAC-SHA-256(request key, batch digest)');
});

t.test('known layout: a one-result TRIM reply, byte by byte', async (t) => {
  const digest = Buffer.alloc(32, 0xcd);
  const { frame } = allocReply({ counter: 0x0102030405060708n, digest }, Status.ok, [{ op: Op.trim, status: Status.ok, payloadBytes: 0 }]);
  sealReply(frame);
  t.equal(frame.length, 48 + 2 + 32);
  t.equal(frame.subarray(0, 16).toString('hex'), '03030001000000000102030405060708', 'version 3, type reply, count, batch status OK, reserved, counter');
  t.ok(frame.subarray(16, 48).equals(digest), 'request batch digest');
  t.equal(frame.subarray(48, 50).toString('hex'), '0400', 'op TRIM, status OK');
  t.same(frame.subarray(50), createHmac('sha256', keys.reply).update(frame.subarray(0, 50)).digest(), 'MAC = HMAC-SHA-256(reply key, bytes 0..49)');
});

t.test('known layout: HELLO, byte by byte', async (t) => {
  const h = encodeHello([1, 2, 3, 4, 5], Buffer.alloc(32, 0xcc), 0x1112131415161718n, Buffer.alloc(32, 0xdd));
  t.equal(h.length, 96);
  t.equal(h.subarray(0, 4).toString('hex'), '03010000', 'version 3, type HELLO, reserved');
  t.equal(h.subarray(4, 24).toString('hex'), '0000000100000002000000030000000400000005', 'frameBytesMax, batchCommandsMax, inflightBatchesMax, sector bytes, sector count');
  t.ok(h.subarray(24, 56).equals(Buffer.alloc(32, 0xcc)), 'challenge');
  t.equal(h.subarray(56, 64).toString('hex'), '1112131415161718', 'session sequence number');
  t.ok(h.subarray(64, 96).equals(Buffer.alloc(32, 0xdd)), 'instance public key (X25519)');
});
