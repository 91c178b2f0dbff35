// Test fixtures for the disk-node protocol: a manager key pair, a minimal
// stand-in attestation provider whose evidence is a MAC over the report data, and a
// helper that builds a session's signed open frame and MACed request frames. The real simulated-TEE provider and
// verifier are exercised in test/attestation/ and the end-to-end tests.
import crypto, { createHash, createHmac, generateKeyPairSync, randomBytes, sign, timingSafeEqual, type KeyObject } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import type { Test } from 'tap';
import type { AttestationProvider, LaunchConfig } from '../../attestation/provider.ts';
import * as realLimits from '../../disk-node/limits.ts';
import type { RunningDiskNode } from '../../disk-node/main.ts';
import { DiskNodeCore } from '../../disk-node/node-core.ts';
import type { SectorStore } from '../../disk-node/store.ts';
import { mac, macBytes, sessionKeys } from '../../disk-node/wire.ts';
import { encodeRequest, decodeHello, decodeReply, NodeError, type Command, type Reply, type RequestIds } from '../../array-manager/node-client/frame-codec.ts';
import type { EvidenceExpectation, NodeClientOptions } from '../../array-manager/node-client/node-client.ts';

export interface ManagerKeys {
  privateKey: KeyObject;
  publicRaw: Buffer;
  sign: (message: Buffer) => Uint8Array;
}

export function managerKeys(): ManagerKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicRaw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  return { privateKey, publicRaw, sign: (m) => sign(null, m, privateKey) };
}

const reportLabel = Buffer.from('test-report');

/**
 * The stand-in platform: one per process, as one platform vouches for many
 * nodes. Its evidence is a 44-byte platform id, the report data, and an
 * HMAC-SHA-256 under the platform's secret over them: unforgeable by a test
 * that does not hold the secret, like a report, and far cheaper than a
 * signature, since the simulator opens thousands of sessions a minute. The
 * real simulated TEE and its verifier are tested in test/attestation/.
 */
const platform = { id: Buffer.concat([Buffer.from('test-platform:'), randomBytes(30)]), secret: randomBytes(32) };
const evidenceTag = (reportData: Uint8Array): Buffer => createHmac('sha256', platform.secret).update(reportLabel).update(reportData).digest();

/** A stand-in platform whose "evidence" is its id, the report data and its MAC over them. */
export function fakeProvider(): AttestationProvider {
  return { platform: 'test', report: (reportData) => Buffer.concat([platform.id, reportData, evidenceTag(reportData)]) };
}

/** Verifies a fake provider's evidence: the platform, its MAC, and that it reports what the session expects. */
export function fakeVerifyEvidence(evidence: Buffer, expected: EvidenceExpectation): { platform: string } {
  if (evidence.length !== 44 + 32 + 32) throw new NodeError('E_ATTESTATION', `fake evidence of ${evidence.length} bytes`);
  if (!evidence.subarray(0, 44).equals(platform.id)) throw new NodeError('E_ATTESTATION', 'fake evidence of another platform');
  const reportData = evidence.subarray(44, 76);
  if (!timingSafeEqual(evidenceTag(reportData), evidence.subarray(76))) throw new NodeError('E_ATTESTATION', 'fake evidence MAC');
  if (!reportData.equals(expected.reportData)) throw new NodeError('E_ATTESTATION', 'fake evidence reports another session');
  return { platform: 'test' };
}

/** Client options for an in-process session with a test node. */
export function testClientOptions(manager: ManagerKeys, timeoutMs: number): NodeClientOptions {
  return { sign: manager.sign, managerPublicKey: manager.publicRaw, verifyEvidence: fakeVerifyEvidence, timeoutMs };
}

export interface TestNode {
  core: DiskNodeCore;
  provider: AttestationProvider;
  manager: ManagerKeys;
  config: LaunchConfig;
}

export function testNode(sectorCount = 64, sectorBytes = 4096, manager = managerKeys(), provider = fakeProvider()): TestNode {
  const config = { managerPublicKey: manager.publicRaw, sectorBytes, sectorCount };
  return { core: new DiskNodeCore(config, provider), provider, manager, config };
}

/** A fresh X25519 key pair with its raw public key, as a manager draws one per session. */
export function sessionKeyPair(): { privateKey: KeyObject; publicRaw: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicRaw: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url') };
}

/**
 * A session on an in-process core with a request builder: the first frame it
 * builds is the open frame (signed, carrying the manager's session key),
 * later ones are MACed with the session's request key; `over` forges any part.
 */
export function openTestSession(node: TestNode) {
  const { session, hello } = node.core.openSession();
  const parsed = decodeHello(hello);
  const own = sessionKeyPair();
  const ids = { challenge: parsed.challenge, managerSessionKey: own.publicRaw, instancePublicKey: parsed.instancePublicKey };
  const keys = sessionKeys(own.privateKey, parsed.instancePublicKey, ids);
  let counter = 0n;
  let opened = false;
  return {
    session,
    hello: parsed,
    ids,
    keys,
    frame(commands: Command[], over: FrameOverrides = {}) {
      const open = over.open ?? !opened;
      opened = true;
      const opening = open ? { session: over.sessionId ?? parsed.challenge, sessionKey: over.sessionKey ?? own.publicRaw } : undefined;
      const ids = { flags: over.flags ?? 0, counter: over.counter ?? ++counter, opening };
      return { ids, ...encodeRequest(ids, commands, open ? { sign: over.sign ?? node.manager.sign } : { key: over.key ?? keys.request }) };
    },
  };
}

export interface FrameOverrides {
  counter?: bigint;
  flags?: number;
  /** Build an open frame (default: only the session's first frame) or a MACed one. */
  open?: boolean;
  /** Open frame: the challenge, the manager's session key, the signer. */
  sessionId?: Uint8Array;
  sessionKey?: Uint8Array;
  sign?: (m: Buffer) => Uint8Array;
  /** Later frames: the MAC key. */
  key?: Uint8Array;
}

/** True iff `reply` ends with the HMAC-SHA-256 under the session's reply key of the reply before it. */
export function replyAuthentic(replyKey: Uint8Array, reply: Buffer): boolean {
  const end = reply.length - macBytes;
  return end >= 0 && timingSafeEqual(mac(replyKey, reply.subarray(0, end)), reply.subarray(end));
}

/** What `core.handle` answered: the reply frame, or the code it closed the session with. */
export function closeCode(answer: Buffer | { close: string }): string {
  return Buffer.isBuffer(answer) ? 'reply' : answer.close;
}

export type TestSession = ReturnType<typeof openTestSession>;

/**
 * Sends `commands` on `s` and returns the decoded reply, after checking that
 * it carries the session's reply MAC and the request's batch digest; throws
 * if the node closed the session instead.
 */
export function exchange(node: TestNode, s: TestSession, commands: Command[], over: FrameOverrides = {}): Reply & { ids: RequestIds } {
  const { frame, digest, ids } = s.frame(commands, over);
  const answer = node.core.handle(s.session, frame);
  if (!Buffer.isBuffer(answer)) throw new Error(`the node closed the session: ${answer.close}`);
  if (!replyAuthentic(s.keys.reply, answer)) throw new Error('reply does not carry the session MAC');
  const reply = decodeReply(answer, commands, node.config.sectorBytes);
  if (!reply.requestDigest.equals(digest)) throw new Error('reply does not carry the request digest');
  return { ...reply, ids };
}

export function pattern(sectorBytes: number, count: number, seed: number): Buffer {
  const b = Buffer.alloc(sectorBytes * count);
  for (let i = 0; i < b.length; i++) b[i] = (seed * 131 + i * 7 + (i >> 9)) & 0xff;
  return b;
}


/** SHA-256 over every sector and the death record: equal digests mean an unchanged store. */
export function storeDigest(store: SectorStore): string {
  const h = createHash('sha256');
  for (const c of store.chunks) h.update(c);
  h.update(`${store.deathVersion}:`);
  h.update(store.deathRecord);
  return h.digest('hex');
}

/**
 * Starts the WebSocket shell (disk-node/main.ts, unchanged) on 127.0.0.1 with
 * an ephemeral port, with some of its limits replaced (tap's mockImport loads
 * a fresh copy of main.ts that imports `limits` instead of limits.ts), so
 * timeouts and bounds can be exercised small and without waiting.
 */
export async function startTestShell(
  t: Test,
  limits: { [K in keyof typeof realLimits]?: number } = {},
  manager = managerKeys(),
): Promise<{ node: RunningDiskNode; manager: ManagerKeys; url: string }> {
  const { startDiskNode } = await t.mockImport<typeof import('../../disk-node/main.ts')>('../../disk-node/main.ts', {
    '../../disk-node/limits.ts': { ...realLimits, ...limits },
  });
  const node = await startDiskNode({ config: { managerPublicKey: manager.publicRaw, sectorBytes: 4096, sectorCount: 16 }, host: '127.0.0.1', port: 0 }, fakeProvider());
  t.teardown(() => node.close());
  return { node, manager, url: `ws://127.0.0.1:${node.port}` };
}

/**
 * Runs `fn` with some node:crypto functions replaced, as every module that
 * imports them (node-core.ts included) sees them, and restores them after.
 * For observing or pinning what the code under test does with node:crypto
 * without changing it.
 */
export function withCrypto<T>(replace: Partial<typeof crypto>, fn: () => T): T {
  const original = Object.fromEntries(Object.keys(replace).map((k) => [k, crypto[k as keyof typeof crypto]]));
  Object.assign(crypto, replace);
  syncBuiltinESMExports();
  try {
    return fn();
  } finally {
    Object.assign(crypto, original);
    syncBuiltinESMExports();
  }
}
