// The worked example in docs/PROTOCOL.md is what protocol-example.ts prints
// (so the document follows the code), and its frames check out with an
// implementation that shares no code with ours: @noble/curves verifies the
// manager's batch signature and the node's report signature over digests
// @noble/hashes recomputes, with keys derived from the documented seeds.
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
  const { request, reply, managerPublicKey, attestationPublicKey, data } = exampleFrames();
  t.same(managerPublicKey, Buffer.from(ed25519.getPublicKey(new Uint8Array(32).fill(example.managerSeedByte))), 'manager key from its seed');
  t.same(attestationPublicKey, Buffer.from(ed25519.getPublicKey(new Uint8Array(32).fill(example.attestationSeedByte))), 'attestation key from its seed');
  const requestBody = request.subarray(0, request.length - 64);
  const batchMessage = concat(text('teearray/batch/v1'), sha256(requestBody));
  t.ok(ed25519.verify(request.subarray(-64), batchMessage, managerPublicKey), 'batch signature over "teearray/batch/v1" || SHA-256(request body)');
  const replyBody = reply.subarray(0, reply.length - 64);
  const reportMessage = concat(text('teearray report v1\0'), example.instanceId, sha256(replyBody));
  t.ok(ed25519.verify(reply.subarray(-64), reportMessage, attestationPublicKey), 'report signature over label 00 || instance id || SHA-256(reply body)');
  t.same(reply.subarray(16, 48), example.nonce, 'the reply echoes the nonce');
  t.same(reply.subarray(54, 54 + data.length), data, 'the READ returns the copied sector');
});
