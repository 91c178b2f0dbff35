// Produces the worked example in docs/PROTOCOL.md: a small request batch and
// the node's reply, made by the real encoder (frame-codec.ts) and the real
// protocol core (node-core.ts), dumped field by field. Everything is fixed
// (Ed25519 keys from constant seeds, session challenge, nonce, instance id;
// Ed25519 signatures are deterministic), so the output never changes unless
// the protocol does; protocol-example.test.ts checks the document against it.
//   node --import tsx test/disk-node/protocol-example.ts
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { encodeRequest, type Command } from '../../array-manager/node-client/frame-codec.ts';
import type { AttestationProvider } from '../../attestation/provider.ts';
import { reportMessage } from '../../attestation/report.ts';
import { DiskNodeCore } from '../../disk-node/node-core.ts';
import { Op, batchSignatureDomain, sha256, signatureBytes } from '../../disk-node/wire.ts';

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows (RFC 8410 §7). */
const pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
const keyFromSeed = (byte: number): KeyObject => createPrivateKey({ key: Buffer.concat([pkcs8Prefix, Buffer.alloc(32, byte)]), format: 'der', type: 'pkcs8' });
const rawPublic = (key: KeyObject): Buffer => createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(12);

export const example = {
  managerSeedByte: 0x01,
  attestationSeedByte: 0x02,
  instanceId: Buffer.alloc(16, 0x03),
  challenge: Buffer.alloc(32, 0x04),
  nonce: Buffer.alloc(32, 0x05),
  counter: 1n,
  sectorBytes: 512,
  sectorCount: 16,
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
  request: Buffer;
  reply: Buffer;
  managerPublicKey: Buffer;
  attestationPublicKey: Buffer;
  /** The WRITE's data, also what the READ returns. */
  data: Buffer;
}

/** The example's request, encoded by the real encoder, and the real core's reply to it. */
export function exampleFrames(): ExampleFrames {
  const e = example;
  const manager = keyFromSeed(e.managerSeedByte);
  const attestation = keyFromSeed(e.attestationSeedByte);
  const provider: AttestationProvider = {
    platform: 'sim-tee-v1',
    evidence: new Uint8Array(0),
    instanceId: e.instanceId,
    sign: (reportData) => sign(null, reportMessage(e.instanceId, reportData), attestation),
  };
  const core = new DiskNodeCore({ managerPublicKey: rawPublic(manager), sectorBytes: e.sectorBytes, sectorCount: e.sectorCount }, provider);
  const data = Buffer.alloc(e.sectorBytes, 0xab);
  const commands: Command[] = [
    { op: Op.write, sector: 2, count: 1, data },
    { op: Op.copy, src: 2, dst: 5, count: 1 },
    { op: Op.read, sector: 5, count: 1 },
  ];
  const request = encodeRequest({ counter: e.counter, session: e.challenge, nonce: e.nonce }, commands, (m) => sign(null, m, manager));
  // A session object made by hand so the challenge is fixed; openSession would draw a random one.
  const reply = core.handle({ challenge: e.challenge, lastCounter: 0n }, request);
  return { request, reply, managerPublicKey: rawPublic(manager), attestationPublicKey: rawPublic(attestation), data };
}

/** The example as Markdown: request and reply dumps, with the digests and signed messages. */
export function protocolExample(): string {
  const e = example;
  const { request, reply, managerPublicKey, attestationPublicKey, data } = exampleFrames();
  const requestEnd = request.length - signatureBytes;
  const replyEnd = reply.length - signatureBytes;
  const requestDigest = sha256(request.subarray(0, requestEnd));
  const replyDigest = sha256(reply.subarray(0, replyEnd));
  const header = (type: number, count: number, second: Buffer): Segment[] => [
    ['version', Buffer.from([1])],
    [`type (${type === 2 ? 'request' : 'reply'})`, Buffer.from([type])],
    ['command count', u16(count)],
    [type === 2 ? 'reserved' : 'batch status, reserved', second],
    ['counter', u64(e.counter)],
  ];
  const requestDump = dump('request', request, [
    ...header(2, 3, u32(0)),
    ['session (HELLO challenge)', e.challenge],
    ['nonce', e.nonce],
    ['0: op WRITE', Buffer.from([Op.write])],
    ['0: sector, count', Buffer.concat([u32(2), u32(1)])],
    ['0: data', data],
    ['1: op COPY', Buffer.from([Op.copy])],
    ['1: src, dst, count', Buffer.concat([u32(2), u32(5), u32(1)])],
    ['2: op READ', Buffer.from([Op.read])],
    ['2: sector, count', Buffer.concat([u32(5), u32(1)])],
    ['manager signature', request.subarray(requestEnd)],
  ]);
  const replyDump = dump('reply', reply, [
    ...header(3, 3, u32(0)),
    ['nonce (echoed)', e.nonce],
    ['0: op WRITE, status OK', Buffer.from([Op.write, 0])],
    ['1: op COPY, status OK', Buffer.from([Op.copy, 0])],
    ['2: op READ, status OK', Buffer.from([Op.read, 0])],
    ['2: data', data],
    ['attestation', reply.subarray(replyEnd)],
  ]);
  return [
    '```',
    `manager key: Ed25519 seed ${e.managerSeedByte.toString(16).padStart(2, '0')} × 32, public ${managerPublicKey.toString('hex')}`,
    `attestation key: Ed25519 seed ${e.attestationSeedByte.toString(16).padStart(2, '0')} × 32, public ${attestationPublicKey.toString('hex')}`,
    `instance id ${e.instanceId.toString('hex')}; ${e.sectorCount} sectors of ${e.sectorBytes} bytes`,
    '',
    requestDump,
    '',
    `request digest = SHA-256(bytes 0..${requestEnd - 1}) = ${requestDigest.toString('hex')}`,
    `manager signs "${batchSignatureDomain}" || request digest`,
    '',
    replyDump,
    '',
    `reply digest = SHA-256(bytes 0..${replyEnd - 1}) = ${replyDigest.toString('hex')}`,
    `attestation key signs "teearray report v1" 00 || instance id || reply digest`,
    '```',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(protocolExample());
