// Produces the worked example in docs/PROTOCOL.md: one session of protocol
// v3, made by the real encoder (frame-codec.ts) and the real protocol core
// (node-core.ts), dumped field by field: the session's open frame (signed by
// the manager key, carrying the manager's X25519 session key) and the node's
// reply, then one later request MACed with the session's request key and the
// node's reply, with the session keys derived on the way (X25519, HKDF), the
// batch digests (header, each command's fixed fields, the SHA-256 of each
// data part), the MACs and the signed message. Everything is fixed: the
// manager's Ed25519 key, the node's X25519 instance key and the manager's
// X25519 session key from constant 32-byte private keys, the session
// challenge and sequence number; Ed25519 signatures, X25519, HKDF and HMAC
// are deterministic. So the output never changes unless the protocol does;
// protocol-example.test.ts checks the document against it and every value in
// it with @noble.
// The core draws its instance key itself at construction (node:crypto
// generateKeyPairSync); the example pins it by handing the core the key of a
// constant seed for that one call (withCrypto), and checks the core took it.
// The example platform's evidence is the report data itself (a real
// platform's evidence wraps it, docs/ATTESTATION.md).
//   node --import tsx test/disk-node/protocol-example.ts
import { createPrivateKey, createPublicKey, diffieHellman, sign, type KeyObject } from 'node:crypto';
import type * as nodeCrypto from 'node:crypto';
import { encodeRequest, type Command } from '../../array-manager/node-client/frame-codec.ts';
import type { AttestationProvider } from '../../attestation/provider.ts';
import { DiskNodeCore, type Session } from '../../disk-node/node-core.ts';
import { deathRecordBytesMax, protocolVersion } from '../../disk-node/limits.ts';
import { Op, encodeLaunch, keysDomain, mac, macBytes, openDomain, sessionDomain, sessionKeys, sessionReportData, sha256, signatureBytes } from '../../disk-node/wire.ts';
import { withCrypto } from './fixtures.ts';

/** PKCS#8 DER prefixes of an Ed25519 and an X25519 private key; the 32-byte private key follows (RFC 8410 §7). */
const pkcs8Prefix = { ed25519: Buffer.from('302e020100300506032b657004220420', 'hex'), x25519: Buffer.from('302e020100300506032b656e04220420', 'hex') };
const keyFromSeed = (type: 'ed25519' | 'x25519', byte: number): KeyObject =>
  createPrivateKey({ key: Buffer.concat([pkcs8Prefix[type], Buffer.alloc(32, byte)]), format: 'der', type: 'pkcs8' });
/** The raw 32-byte public key of an Ed25519 or X25519 private key (both SPKIs have a 12-byte prefix). */
const rawPublic = (key: KeyObject): Buffer => createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(12);

export const example = {
  managerSeedByte: 0x01,
  instanceSeedByte: 0x02,
  sessionKeySeedByte: 0x03,
  challenge: Buffer.alloc(32, 0x04),
  sessionSeq: 1n,
  sectorBytes: 512,
  sectorCount: 16,
  /** The open frame asks for the session's evidence and the death record, as NodeClient's does. */
  openCommands: (): Command[] => [{ op: Op.attest }, { op: Op.deathRead }],
  /** The later request writes sector 2, copies it to sector 5 and reads sector 5 back. */
  data: Buffer.alloc(512, 0xab),
  laterCommands: (): Command[] => [
    { op: Op.write, sector: 2, count: 1, data: example.data },
    { op: Op.copy, src: 2, dst: 5, count: 1 },
    { op: Op.read, sector: 5, count: 1 },
  ],
};

type Segment = [label: string, bytes: Buffer];

/** Hex of `b`, with a run of one repeated byte longer than 32 written as "ab × 512". */
function hex(b: Buffer): string[] {
  if (b.length > 32 && b.every((x) => x === b[0])) return [`${b.subarray(0, 1).toString('hex')} × ${b.length}`];
  const lines: string[] = [];
  for (let at = 0; at < b.length; at += 32) lines.push(b.subarray(at, at + 32).toString('hex'));
  return lines;
}

function dump(title: string, frame: Buffer, segments: Segment[]): string {
  const lines = [`${title} (${frame.length} bytes)`, 'offset  bytes  field                       hex'];
  let at = 0;
  for (const [label, bytes] of segments) {
    if (!frame.subarray(at, at + bytes.length).equals(bytes)) throw new Error(`segment "${label}" is not at offset ${at}`);
    hex(bytes).forEach((h, i) => lines.push(`${(i ? '' : String(at)).padEnd(8)}${(i ? '' : String(bytes.length)).padEnd(7)}${(i ? '' : label).padEnd(28)}${h}`));
    at += bytes.length;
  }
  if (at !== frame.length) throw new Error(`segments cover ${at} of ${frame.length} bytes`);
  return lines.join('\n');
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};

export interface ExampleFrames {
  managerPublicKey: Buffer;
  instancePublicKey: Buffer;
  instanceId: Buffer;
  managerSessionKey: Buffer;
  /** X25519 of the manager's session key and the instance public key (node:crypto), what the session keys are derived from. */
  sharedSecret: Buffer;
  /** The session keys as the manager derives them (wire.sessionKeys, node:crypto); the node derived the same or its replies would not check. */
  keys: { request: Buffer; reply: Buffer };
  launch: Buffer;
  reportData: Buffer;
  /** The open frame (counter 1) and the digest the manager signed; the core's reply. */
  open: Buffer;
  openDigest: Buffer;
  openReply: Buffer;
  /** The later request (counter 2) and the digest it MACs; the core's reply. */
  request: Buffer;
  requestDigest: Buffer;
  reply: Buffer;
}

/** A core whose instance key is `instanceKey`, the one key pair it draws at construction. */
function coreWithInstanceKey(config: ConstructorParameters<typeof DiskNodeCore>[0], provider: AttestationProvider, instanceKey: KeyObject): DiskNodeCore {
  const pinned = (() => ({ privateKey: instanceKey, publicKey: createPublicKey(instanceKey) })) as unknown as typeof nodeCrypto.generateKeyPairSync;
  const core = withCrypto({ generateKeyPairSync: pinned }, () => new DiskNodeCore(config, provider));
  if (!core.instancePublicKey.equals(rawPublic(instanceKey))) throw new Error('the core did not take the pinned instance key');
  return core;
}

/** The example's two requests, encoded by the real encoder, and the real core's replies to them, on one session. */
export function exampleFrames(): ExampleFrames {
  const e = example;
  const manager = keyFromSeed('ed25519', e.managerSeedByte);
  const sessionKey = keyFromSeed('x25519', e.sessionKeySeedByte);
  const provider: AttestationProvider = { platform: 'example', report: (reportData) => Buffer.from(reportData) };
  const config = { managerPublicKey: rawPublic(manager), sectorBytes: e.sectorBytes, sectorCount: e.sectorCount };
  const core = coreWithInstanceKey(config, provider, keyFromSeed('x25519', e.instanceSeedByte));
  const managerSessionKey = rawPublic(sessionKey);
  const ids = { challenge: e.challenge, managerSessionKey, instancePublicKey: core.instancePublicKey };
  const keys = sessionKeys(sessionKey, core.instancePublicKey, ids);
  const launch = encodeLaunch(config);
  // A session object made by hand so the challenge is fixed; openSession would draw a random one.
  const session: Session = { challenge: e.challenge, seq: e.sessionSeq, lastCounter: 0n };
  const send = (frame: Buffer): Buffer => {
    const answer = core.handle(session, frame);
    if (!Buffer.isBuffer(answer)) throw new Error(`the core closed the session: ${answer.close}`);
    return answer;
  };
  const opening = { session: e.challenge, sessionKey: managerSessionKey };
  const { frame: open, digest: openDigest } = encodeRequest({ flags: 0, counter: 1n, opening }, e.openCommands(), { sign: (m) => sign(null, m, manager) });
  const openReply = send(open);
  const { frame: request, digest: requestDigest } = encodeRequest({ flags: 0, counter: 2n }, e.laterCommands(), { key: keys.request });
  const reply = send(request);
  for (const r of [openReply, reply]) {
    if (!mac(keys.reply, r.subarray(0, -macBytes)).equals(r.subarray(-macBytes))) throw new Error("a reply does not carry the manager's reply key MAC");
  }
  return {
    managerPublicKey: config.managerPublicKey,
    instancePublicKey: core.instancePublicKey,
    instanceId: core.instanceId,
    managerSessionKey,
    sharedSecret: diffieHellman({ privateKey: sessionKey, publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: core.instancePublicKey.toString('base64url') }, format: 'jwk' }) }),
    keys,
    launch,
    reportData: sessionReportData(ids, launch),
    open,
    openDigest,
    openReply,
    request,
    requestDigest,
    reply,
  };
}

/** The example as Markdown: the session keys, then each request and reply dumped, with the digests, MACs and the signed message. */
export function protocolExample(): string {
  const e = example;
  const f = exampleFrames();
  const { keys, open, openReply, request, reply, reportData } = f;
  const header = (type: number, count: number, counter: bigint, fields: Segment[]): Segment[] => [
    ['version', Buffer.from([protocolVersion])],
    [`type (${['', 'HELLO', 'open', 'reply', 'request'][type]})`, Buffer.from([type])],
    ['command count', u16(count)],
    ...fields,
    ['counter', u64(counter)],
  ];
  const requestFields: Segment[] = [
    ['flags', u16(0)],
    ['reserved', u16(0)],
  ];
  const replyFields: Segment[] = [
    ['batch status (OK)', u16(0)],
    ['reserved', u16(0)],
  ];
  const hmacLine = (what: string, key: string, end: number) => `${what} = HMAC-SHA-256(${key}, bytes 0..${end - 1})`;

  const openEnd = open.length - signatureBytes;
  const openDump = dump('open frame', open, [
    ...header(2, 2, 1n, requestFields),
    ['challenge (HELLO)', e.challenge],
    ["manager's session key", f.managerSessionKey],
    ['0: op ATTEST', Buffer.from([Op.attest])],
    ['1: op DEATH_READ', Buffer.from([Op.deathRead])],
    ['manager signature', open.subarray(openEnd)],
  ]);
  if (!sha256(open.subarray(0, openEnd)).equals(f.openDigest)) throw new Error('the open batch digest is not the documented one');

  const openReplyEnd = openReply.length - macBytes;
  const openReplyDump = dump('reply to the open frame', openReply, [
    ...header(3, 2, 1n, replyFields),
    ['request batch digest', f.openDigest],
    ['0: op ATTEST, status OK', Buffer.from([Op.attest, 0])],
    ['0: evidence length', u32(reportData.length)],
    ['0: evidence (report data)', reportData],
    ['1: op DEATH_READ, status OK', Buffer.from([Op.deathRead, 0])],
    ['1: version', u64(0n)],
    ['1: record length', u32(0)],
    ['1: record, zero padded', Buffer.alloc(deathRecordBytesMax)],
    ['reply MAC', openReply.subarray(openReplyEnd)],
  ]);

  const requestEnd = request.length - macBytes;
  const dataStart = 16 + 9;
  const dataEnd = dataStart + e.data.length;
  const requestDump = dump('later request', request, [
    ...header(4, 3, 2n, requestFields),
    ['0: op WRITE', Buffer.from([Op.write])],
    ['0: sector, count', Buffer.concat([u32(2), u32(1)])],
    ['0: data', e.data],
    ['1: op COPY', Buffer.from([Op.copy])],
    ['1: src, dst, count', Buffer.concat([u32(2), u32(5), u32(1)])],
    ['2: op READ', Buffer.from([Op.read])],
    ['2: sector, count', Buffer.concat([u32(5), u32(1)])],
    ['request MAC', request.subarray(requestEnd)],
  ]);
  // The batch digest: every byte before the MAC, except that a data part enters as its SHA-256.
  const digestInput = [request.subarray(0, dataStart), sha256(e.data), request.subarray(dataEnd, requestEnd)];
  if (!sha256(...digestInput).equals(f.requestDigest)) throw new Error('the batch digest is not the documented one');

  const replyEnd = reply.length - macBytes;
  const replyDump = dump('reply to the later request', reply, [
    ...header(3, 3, 2n, replyFields),
    ['request batch digest', f.requestDigest],
    ['0: op WRITE, status OK', Buffer.from([Op.write, 0])],
    ['1: op COPY, status OK', Buffer.from([Op.copy, 0])],
    ['2: op READ, status OK', Buffer.from([Op.read, 0])],
    ['2: data', e.data],
    ['reply MAC', reply.subarray(replyEnd)],
  ]);

  const seed = (byte: number) => `${byte.toString(16).padStart(2, '0')} × 32`;
  return [
    '```',
    `manager key: Ed25519, seed ${seed(e.managerSeedByte)}, public ${f.managerPublicKey.toString('hex')}`,
    `instance key: X25519, private key ${seed(e.instanceSeedByte)}, public ${f.instancePublicKey.toString('hex')}`,
    `instance id = SHA-256(instance public key)[0..15] = ${f.instanceId.toString('hex')}`,
    `manager's session key: X25519, private key ${seed(e.sessionKeySeedByte)}, public ${f.managerSessionKey.toString('hex')}`,
    `session ${e.sessionSeq}, challenge ${seed(e.challenge[0])}; ${e.sectorCount} sectors of ${e.sectorBytes} bytes`,
    '',
    `shared secret = X25519(instance key, manager's session key)`,
    `              = ${f.sharedSecret.toString('hex')}`,
    `session keys  = HKDF-SHA-256(shared secret, salt = challenge,`,
    `                info = "${keysDomain}" || manager's session key || instance public key, 64 bytes)`,
    `request key   = bytes 0..31  = ${keys.request.toString('hex')}`,
    `reply key     = bytes 32..63 = ${keys.reply.toString('hex')}`,
    `launch config = ${f.launch.toString('hex').slice(0, 64)}`,
    `                ${f.launch.toString('hex').slice(64)} (manager key, sector bytes, sector count)`,
    `report data   = SHA-256("${sessionDomain}" || challenge || manager's session key || instance public key || launch config)`,
    `              = ${reportData.toString('hex')}`,
    '',
    openDump,
    '',
    `batch digest = SHA-256(bytes 0..${openEnd - 1}) = ${f.openDigest.toString('hex')}`,
    `manager signs "${openDomain}" || batch digest`,
    '',
    openReplyDump,
    '',
    hmacLine('reply MAC', 'reply key', openReplyEnd),
    '',
    requestDump,
    '',
    `SHA-256(0: data, bytes ${dataStart}..${dataEnd - 1}) = ${digestInput[1].toString('hex')}`,
    `batch digest = SHA-256(bytes 0..${dataStart - 1} || SHA-256(0: data) || bytes ${dataEnd}..${requestEnd - 1})`,
    `             = ${f.requestDigest.toString('hex')}`,
    'request MAC  = HMAC-SHA-256(request key, batch digest)',
    '',
    replyDump,
    '',
    hmacLine('reply MAC', 'reply key', replyEnd),
    '```',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(protocolExample());
