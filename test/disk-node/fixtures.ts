// Test fixtures for the disk-node protocol: a manager key pair, a minimal
// stand-in attestation provider whose evidence is just its public key, and a
// helper that builds signed request frames. The real simulated-TEE provider and
// verifier are exercised in test/attestation/ and the end-to-end tests.
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { AttestationProvider, LaunchConfig } from '../../attestation/provider.ts';
import { DiskNodeCore } from '../../disk-node/node-core.ts';
import type { SectorStore } from '../../disk-node/store.ts';
import { encodeRequest, decodeHello, type Command, type Hello } from '../../array-manager/node-client/frame-codec.ts';
import type { VerifiedPeer } from '../../array-manager/node-client/node-client.ts';

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

/** A provider whose "evidence" is its SPKI attestation public key followed by its instance id. */
export function fakeProvider(): AttestationProvider {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const instanceId = randomBytes(16);
  return {
    platform: 'test',
    evidence: Buffer.concat([publicKey.export({ format: 'der', type: 'spki' }), instanceId]),
    instanceId,
    sign: (reportData) => sign(null, Buffer.concat([reportLabel, instanceId, reportData]), privateKey),
  };
}

/** Verifies a fake provider's HELLO by reading the key and instance id out of its evidence. */
export function fakeVerifyHello(hello: Hello): VerifiedPeer {
  const key = createPublicKey({ key: hello.evidence.subarray(0, 44), format: 'der', type: 'spki' });
  const instanceId = hello.evidence.subarray(44);
  return {
    instanceId,
    verifyReport: (reportData, signature) =>
      verify(null, Buffer.concat([reportLabel, instanceId, reportData]), key, signature),
  };
}

export interface TestNode {
  core: DiskNodeCore;
  provider: AttestationProvider;
  manager: ManagerKeys;
  config: LaunchConfig;
}

export function testNode(sectorCount = 64, sectorBytes = 4096, manager = managerKeys()): TestNode {
  const provider = fakeProvider();
  const config = { managerPublicKey: manager.publicRaw, sectorBytes, sectorCount };
  return { core: new DiskNodeCore(config, provider), provider, manager, config };
}

/** A session on an in-process core with a request builder that signs with `signer`. */
export function openTestSession(node: TestNode) {
  const { session, hello } = node.core.openSession();
  const parsed = decodeHello(hello);
  let counter = 0n;
  return {
    session,
    hello: parsed,
    frame(commands: Command[], over: { counter?: bigint; sessionId?: Uint8Array; sign?: (m: Buffer) => Uint8Array } = {}) {
      const ids = { counter: over.counter ?? ++counter, session: over.sessionId ?? parsed.challenge, nonce: randomBytes(32) };
      return { ids, frame: encodeRequest(ids, commands, over.sign ?? node.manager.sign) };
    },
  };
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
