// The worked example in docs/PROTOCOL.md is what protocol-example.ts prints
// (so the document follows the code), and its session checks out with an
// implementation that shares no code with ours (nothing below uses
// node:crypto): from the documented private keys, @noble/curves derives the
// public keys and the X25519 shared secret (from both ends), @noble/hashes the
// session keys (HKDF-SHA-256), the instance id and the ATTEST report data;
// @noble/curves verifies the manager's signature on the open frame over the
// batch digest @noble/hashes recomputes from the documented layout, and
// @noble/hashes recomputes the later request's MAC (a WRITE's data enters its
// batch digest as its SHA-256) and both replies' MACs. Every value the
// document prints is checked against those.
import t from 'tap';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../../attestation/disk-node-bundle.ts';
import { example, exampleFrames, protocolExample } from './protocol-example.ts';

const text = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]) => Buffer.concat(parts);
const seed = (byte: number) => new Uint8Array(32).fill(byte);
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
const u32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

t.test('docs/PROTOCOL.md carries the example exactly as the script prints it', async (t) => {
  const doc = await readFile(join(repoRoot, 'docs/PROTOCOL.md'), 'utf8');
  const block = /<!-- protocol-example:start -->\n([\s\S]*?)\n<!-- protocol-example:end -->/.exec(doc);
  t.ok(block, 'the document has the example markers');
  t.equal(block?.[1], protocolExample());
});

t.test('the example session verifies with @noble, independently of node:crypto', async (t) => {
  const f = exampleFrames();
  const printed = protocolExample();
  /** A value computed here must be in the document, where it is said to be. */
  const shows = (label: string, value: Uint8Array) => t.ok(printed.includes(hexOf(value)), `the example prints ${label}`);

  // Keys from the documented private keys.
  const managerPublic = ed25519.getPublicKey(seed(example.managerSeedByte));
  const instancePublic = x25519.getPublicKey(seed(example.instanceSeedByte));
  const sessionPublic = x25519.getPublicKey(seed(example.sessionKeySeedByte));
  t.same(f.managerPublicKey, Buffer.from(managerPublic), 'manager key: Ed25519 from seed 01 × 32');
  t.same(f.instancePublicKey, Buffer.from(instancePublic), 'instance key: X25519 from private key 02 × 32 (the core took the pinned key)');
  t.same(f.managerSessionKey, Buffer.from(sessionPublic), "manager's session key: X25519 from private key 03 × 32");
  const instanceId = sha256(instancePublic).subarray(0, 16);
  t.same(f.instanceId, Buffer.from(instanceId), 'instance id: the first 16 bytes of the SHA-256 of the instance key');
  for (const [label, v] of [['the manager key', managerPublic], ['the instance key', instancePublic], ["the manager's session key", sessionPublic], ['the instance id', instanceId]] as const) shows(label, v);

  // Session keys: X25519 from either end, then HKDF-SHA-256.
  const secret = x25519.getSharedSecret(seed(example.sessionKeySeedByte), instancePublic);
  t.same(Buffer.from(x25519.getSharedSecret(seed(example.instanceSeedByte), sessionPublic)), Buffer.from(secret), 'the node computes the same X25519 secret from its end');
  t.same(f.sharedSecret, Buffer.from(secret), 'shared secret');
  const okm = hkdf(sha256, secret, example.challenge, concat(text('teearray/keys/v3'), sessionPublic, instancePublic), 64);
  const requestKey = okm.subarray(0, 32);
  const replyKey = okm.subarray(32, 64);
  t.same(f.keys.request, Buffer.from(requestKey), 'request key: HKDF bytes 0..31');
  t.same(f.keys.reply, Buffer.from(replyKey), 'reply key: HKDF bytes 32..63');
  for (const [label, v] of [['the shared secret', secret], ['the request key', requestKey], ['the reply key', replyKey]] as const) shows(label, v);

  // ATTEST's report data: the evidence the example platform returns.
  const launch = concat(managerPublic, u32(example.sectorBytes), u32(example.sectorCount));
  t.same(f.launch, launch, 'launch config: manager key, sector bytes, sector count');
  const reportData = sha256(concat(text('teearray/session/v3'), example.challenge, sessionPublic, instancePublic, launch));
  t.same(f.reportData, Buffer.from(reportData), 'report data over the session: challenge, session key, instance key, launch config');
  shows('the report data', reportData);

  // Open frame: 80-byte header | ATTEST (1) | DEATH_READ (1) | signature (64).
  const { open, openReply } = f;
  t.same([open[0], open[1], open.readUInt16BE(2), open.readBigUInt64BE(8)], [3, 2, 2, 1n], 'open frame: version 3, type 2, 2 commands, counter 1');
  t.same(open.subarray(16, 48), example.challenge, 'the challenge at 16');
  t.same(open.subarray(48, 80), Buffer.from(sessionPublic), "the manager's session key at 48");
  t.same([...open.subarray(80, 82)], [8, 6], 'ATTEST, DEATH_READ');
  t.equal(open.length, 80 + 2 + 64);
  const openDigest = sha256(open.subarray(0, 82));
  t.same(f.openDigest, Buffer.from(openDigest), 'open batch digest: the SHA-256 of the frame before the signature (no data part)');
  t.ok(ed25519.verify(open.subarray(82), concat(text('teearray/open/v3'), openDigest), managerPublic), 'signature over "teearray/open/v3" || batch digest, by the manager key');
  t.notOk(ed25519.verify(open.subarray(82), openDigest, managerPublic), 'not over the bare digest');
  shows('the open batch digest', openDigest);

  // Its reply: 48-byte header | ATTEST result | DEATH_READ result | MAC (32).
  t.same([openReply[0], openReply[1], openReply.readUInt16BE(2), openReply.readUInt16BE(4), openReply.readBigUInt64BE(8)], [3, 3, 2, 0, 1n], 'reply: version 3, type 3, 2 results, OK, counter 1');
  t.same(openReply.subarray(16, 48), Buffer.from(openDigest), 'the reply carries the batch digest of the open frame');
  t.same(openReply.subarray(48, 54), Buffer.from([8, 0, 0, 0, 0, 32]), 'ATTEST OK, 32 bytes of evidence');
  t.same(openReply.subarray(54, 86), Buffer.from(reportData), 'the evidence is the report data (the example platform)');
  t.equal(openReply.length, 48 + 2 + 4 + 32 + 2 + 12 + 4096 + 32);
  const openReplyMac = hmac(sha256, replyKey, openReply.subarray(0, -32));
  t.same(openReply.subarray(-32), Buffer.from(openReplyMac), 'reply MAC: HMAC-SHA-256(reply key, all bytes before it)');
  t.notSame(openReply.subarray(-32), Buffer.from(hmac(sha256, requestKey, openReply.subarray(0, -32))), 'not under the request key');
  shows("the open reply's MAC", openReplyMac);

  // Later request: 16-byte header | WRITE op, sector, count (9) | data (512) | COPY (13) | READ (9) | MAC (32).
  const { request, reply } = f;
  const data = example.data;
  t.same([request[0], request[1], request.readUInt16BE(2), request.readBigUInt64BE(8)], [3, 4, 3, 2n], 'later request: version 3, type 4, 3 commands, counter 2');
  t.equal(request.length, 16 + 9 + 512 + 13 + 9 + 32);
  const dataStart = 16 + 9;
  const dataEnd = dataStart + data.length;
  t.same(request.subarray(dataStart, dataEnd), data, 'the WRITE data where the layout puts it');
  const digest = sha256(concat(request.subarray(0, dataStart), sha256(data), request.subarray(dataEnd, request.length - 32)));
  t.same(f.requestDigest, Buffer.from(digest), 'batch digest: the data part enters as its SHA-256');
  const requestMac = hmac(sha256, requestKey, digest);
  t.same(request.subarray(-32), Buffer.from(requestMac), 'request MAC: HMAC-SHA-256(request key, batch digest)');
  t.notSame(request.subarray(-32), Buffer.from(hmac(sha256, replyKey, digest)), 'not under the reply key');
  for (const [label, v] of [['the data digest', sha256(data)], ['the later batch digest', digest], ['the request MAC', requestMac]] as const) shows(label, v);

  // Its reply.
  t.same([reply[0], reply[1], reply.readUInt16BE(2), reply.readUInt16BE(4), reply.readBigUInt64BE(8)], [3, 3, 3, 0, 2n], 'reply: version 3, type 3, 3 results, OK, counter 2');
  t.same(reply.subarray(16, 48), Buffer.from(digest), 'the reply carries the batch digest of its request');
  t.same(reply.subarray(54, 54 + data.length), data, 'the READ returns the copied sector');
  const replyMac = hmac(sha256, replyKey, reply.subarray(0, -32));
  t.same(reply.subarray(-32), Buffer.from(replyMac), 'reply MAC: HMAC-SHA-256(reply key, all bytes before it)');
  shows("the later reply's MAC", replyMac);
});
