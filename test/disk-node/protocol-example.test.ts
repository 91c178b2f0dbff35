// The worked example in docs/PROTOCOL.md is what protocol-example.ts prints
// (so the document follows the code), and its frames check out with an
// implementation that shares no code with ours: @noble/curves verifies the
// manager's batch signature and the instance key's reply signature over
// digests @noble/hashes recomputes from the documented layout (a WRITE's data
// enters the batch digest as its SHA-256), with keys derived from the
// documented seeds.
import t from 'tap';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../../attestation/disk-node-bundle.ts';
import { example, exampleFrames, protocolExample } from './protocol-example.ts';

const text = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]) => Buffer.concat(parts);

t.test('docs/PROTOCOL.md carries the example exactly as the script prints it', async (t) => {
  const doc = await readFile(join(repoRoot, 'docs/PROTOCOL.md'), 'utf8');
  const block = /<!-- protocol-example:start -->\n([\s\S]*?)\n<!-- protocol-example:end -->/.exec(doc);
  t.ok(block, 'the document has the example markers');
  t.equal(block?.[1], protocolExample());
});

t.test('the example frames verify with @noble', async (t) => {
  const { request, batchDigest, reply, managerPublicKey, instancePublicKey, instanceId, data } = exampleFrames();
  const seeded = (byte: number) => Buffer.from(ed25519.getPublicKey(new Uint8Array(32).fill(byte)));
  t.same(managerPublicKey, seeded(example.managerSeedByte), 'manager key from its seed');
  t.same(instancePublicKey, seeded(example.instanceSeedByte), 'instance key from its seed');
  t.same(instanceId, Buffer.from(sha256(instancePublicKey).subarray(0, 16)), 'instance id: the first 16 bytes of the SHA-256 of the instance key');
  // Request: header (80) | WRITE op, sector, count (9) | data (512) | COPY (13) | READ (9) | signature (64).
  const dataStart = 80 + 9;
  const dataEnd = dataStart + data.length;
  const requestEnd = request.length - 64;
  t.same(request.subarray(dataStart, dataEnd), data, 'the WRITE data where the layout puts it');
  const digest = sha256(concat(request.subarray(0, dataStart), sha256(data), request.subarray(dataEnd, requestEnd)));
  t.same(Buffer.from(digest), batchDigest, 'batch digest: the data part enters as its SHA-256');
  t.ok(ed25519.verify(request.subarray(-64), concat(text('teearray/batch/v2'), digest), managerPublicKey), 'batch signature over "teearray/batch/v2" || batch digest');
  const replyBody = reply.subarray(0, reply.length - 64);
  t.ok(ed25519.verify(reply.subarray(-64), concat(text('teearray/reply/v2'), sha256(replyBody)), instancePublicKey), 'reply signature over "teearray/reply/v2" || SHA-256(reply body)');
  t.same(reply.subarray(16, 48), Buffer.from(digest), 'the reply carries the batch digest of its request');
  t.same(reply.subarray(54, 54 + data.length), data, 'the READ returns the copied sector');
});
