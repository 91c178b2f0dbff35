// Produces the worked example in docs/PROTOCOL.md: a small request batch and
// the node's reply, made by the real encoder (frame-codec.ts) and the real
// protocol core (node-core.ts), dumped field by field, with the batch digest
// (header, each command's fixed fields, the SHA-256 of each data part) and
// the signed messages. Everything is fixed (Ed25519 keys from constant seeds,
// the session challenge and sequence number, the nonce; Ed25519 signatures
// are deterministic), so the output never changes unless the protocol does;
// protocol-example.test.ts checks the document against it.
// The core draws its instance key itself at construction (node:crypto
// generateKeyPairSync); the example pins it by handing the core the key of a
// constant seed for that one call (withCrypto), and checks the core took it.
//   node --import tsx test/disk-node/protocol-example.ts
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import type * as nodeCrypto from 'node:crypto';
import { encodeRequest, type Command } from '../../array-manager/node-client/frame-codec.ts';
import type { AttestationProvider } from '../../attestation/provider.ts';
import { DiskNodeCore } from '../../disk-node/node-core.ts';
import { protocolVersion } from '../../disk-node/limits.ts';
import { Op, batchDomain, replyDomain, sha256, signatureBytes } from '../../disk-node/wire.ts';
import { withCrypto } from './fixtures.ts';

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows (RFC 8410 §7). */
const pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
const keyFromSeed = (byte: number): KeyObject => createPrivateKey({ key: Buffer.concat([pkcs8Prefix, Buffer.alloc(32, byte)]), format: 'der', type: 'pkcs8' });
const rawPublic = (key: KeyObject): Buffer => createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(12);

export const example = {
  managerSeedByte: 0x01,
  instanceSeedByte: 0x02,
  challenge: Buffer.alloc(32, 0x04),
  sessionSeq: 1n,
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
  /** The batch digest the encoder computed and the manager signed. */
  batchDigest: Buffer;
  reply: Buffer;
  managerPublicKey: Buffer;
  instancePublicKey: Buffer;
  instanceId: Buffer;
  /** The WRITE's data, also what the READ returns. */
  data: Buffer;
}

/** A core whose instance key is `instanceKey`, the one key pair it draws at construction. */
function coreWithInstanceKey(config: ConstructorParameters<typeof DiskNodeCore>[0], provider: AttestationProvider, instanceKey: KeyObject): DiskNodeCore {
  const pinned = (() => ({ privateKey: instanceKey, publicKey: createPublicKey(instanceKey) })) as unknown as typeof nodeCrypto.generateKeyPairSync;
  const core = withCrypto({ generateKeyPairSync: pinned }, () => new DiskNodeCore(config, provider));
  if (!core.instancePublicKey.equals(rawPublic(instanceKey))) throw new Error('the core did not take the pinned instance key');
  return core;
}

/** The example's request, encoded by the real encoder, and the real core's reply to it. */
export function exampleFrames(): ExampleFrames {
  const e = example;
  const manager = keyFromSeed(e.managerSeedByte);
  const provider: AttestationProvider = {
    platform: 'sim-tee-v1',
    report: () => {
      throw new Error('the example sends no ATTEST');
    },
  };
  const config = { managerPublicKey: rawPublic(manager), sectorBytes: e.sectorBytes, sectorCount: e.sectorCount };
  const core = coreWithInstanceKey(config, provider, keyFromSeed(e.instanceSeedByte));
  const data = Buffer.alloc(e.sectorBytes, 0xab);
  const commands: Command[] = [
    { op: Op.write, sector: 2, count: 1, data },
    { op: Op.copy, src: 2, dst: 5, count: 1 },
    { op: Op.read, sector: 5, count: 1 },
  ];
  const ids = { flags: 0, counter: e.counter, session: e.challenge, nonce: e.nonce };
  const { frame: request, digest: batchDigest } = encodeRequest(ids, commands, (m) => sign(null, m, manager));
  // A session object made by hand so the challenge is fixed; openSession would draw a random one.
  const reply = core.handle({ challenge: e.challenge, seq: e.sessionSeq, lastCounter: 0n }, request);
  if (!Buffer.isBuffer(reply)) throw new Error(`the core closed the session: ${reply.close}`);
  return { request, batchDigest, reply, managerPublicKey: config.managerPublicKey, instancePublicKey: core.instancePublicKey, instanceId: core.instanceId, data };
}

/** The example as Markdown: request and reply dumps, with the digests and signed messages. */
export function protocolExample(): string {
  const e = example;
  const { request, batchDigest, reply, managerPublicKey, instancePublicKey, instanceId, data } = exampleFrames();
  const requestEnd = request.length - signatureBytes;
  const replyEnd = reply.length - signatureBytes;
  const replyDigest = sha256(reply.subarray(0, replyEnd));
  const header = (type: number, count: number, fields: Segment[]): Segment[] => [
    ['version', Buffer.from([protocolVersion])],
    [`type (${type === 2 ? 'request' : 'reply'})`, Buffer.from([type])],
    ['command count', u16(count)],
    ...fields,
    ['counter', u64(e.counter)],
  ];
  const write: Segment[] = [
    ['0: op WRITE', Buffer.from([Op.write])],
    ['0: sector, count', Buffer.concat([u32(2), u32(1)])],
  ];
  const copyRead: Segment[] = [
    ['1: op COPY', Buffer.from([Op.copy])],
    ['1: src, dst, count', Buffer.concat([u32(2), u32(5), u32(1)])],
    ['2: op READ', Buffer.from([Op.read])],
    ['2: sector, count', Buffer.concat([u32(5), u32(1)])],
  ];
  const requestHeader = header(2, 3, [
    ['flags', u16(0)],
    ['reserved', u16(0)],
  ]);
  const requestDump = dump('request', request, [
    ...requestHeader,
    ['session (HELLO challenge)', e.challenge],
    ['nonce', e.nonce],
    ...write,
    ['0: data', data],
    ...copyRead,
    ['manager signature', request.subarray(requestEnd)],
  ]);
  // The batch digest: every byte before the signature, except that a data part enters as its SHA-256.
  const headerEnd = 80;
  const dataStart = headerEnd + 9;
  const dataEnd = dataStart + data.length;
  const digestInput = [request.subarray(0, dataStart), sha256(data), request.subarray(dataEnd, requestEnd)];
  if (!sha256(...digestInput).equals(batchDigest)) throw new Error('the batch digest is not the documented one');
  const replyDump = dump('reply', reply, [
    ...header(3, 3, [
      ['batch status (OK)', u16(0)],
      ['reserved', u16(0)],
    ]),
    ['request batch digest', batchDigest],
    ['0: op WRITE, status OK', Buffer.from([Op.write, 0])],
    ['1: op COPY, status OK', Buffer.from([Op.copy, 0])],
    ['2: op READ, status OK', Buffer.from([Op.read, 0])],
    ['2: data', data],
    ['instance signature', reply.subarray(replyEnd)],
  ]);
  const seed = (byte: number) => `Ed25519 seed ${byte.toString(16).padStart(2, '0')} × 32`;
  return [
    '```',
    `manager key: ${seed(e.managerSeedByte)}, public ${managerPublicKey.toString('hex')}`,
    `instance key: ${seed(e.instanceSeedByte)}, public ${instancePublicKey.toString('hex')}`,
    `instance id = SHA-256(instance public key)[0..15] = ${instanceId.toString('hex')}`,
    `session ${e.sessionSeq}, challenge ${e.challenge.subarray(0, 1).toString('hex')} × 32; ${e.sectorCount} sectors of ${e.sectorBytes} bytes`,
    '',
    requestDump,
    '',
    `SHA-256(0: data, bytes ${dataStart}..${dataEnd - 1}) = ${digestInput[1].toString('hex')}`,
    `batch digest = SHA-256(bytes 0..${dataStart - 1} || SHA-256(0: data) || bytes ${dataEnd}..${requestEnd - 1})`,
    `             = ${batchDigest.toString('hex')}`,
    `manager signs "${batchDomain}" || batch digest`,
    '',
    replyDump,
    '',
    `reply digest = SHA-256(bytes 0..${replyEnd - 1}) = ${replyDigest.toString('hex')}`,
    `instance key signs "${replyDomain}" || reply digest`,
    '```',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(protocolExample());
