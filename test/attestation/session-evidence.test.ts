// Session evidence end to end in process: a disk-node core on the simulated
// TEE answers ATTEST with the platform's report over SHA-256("teearray/
// session/v2" || challenge || nonce || instance key || launch config). The
// evidence verifies for exactly that session: change any one input and the
// verifier refuses it with E_ATT_REPORT_DATA, evidence of another session or
// another instance is refused, and NodeClient.open refuses a node whose
// evidence does not verify.
import t from 'tap';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { Op } from '../../array-manager/node-client/frame-codec.ts';
import { attestedEvidenceVerifier } from '../../array-manager/node-client/attested-connector.ts';
import type { AttestationProvider } from '../../attestation/provider.ts';
import { createSimProvider } from '../../attestation/sim-provider.ts';
import { verifyEvidence } from '../../attestation/verifier.ts';
import { DiskNodeCore } from '../../disk-node/node-core.ts';
import { encodeLaunch, sessionReportData } from '../../disk-node/wire.ts';
import { exchange, managerKeys, openTestSession, type TestNode, type TestSession } from '../disk-node/fixtures.ts';
import { openCoreClient } from '../node-client/core-channel.ts';
import { simSetup } from './sim-setup.ts';

/** A core on the sim TEE, launched for a manager whose private key the test holds; `provider` may wrap the sim one. */
function simNode(s = simSetup(), manager = managerKeys(), wrap = (p: AttestationProvider) => p): TestNode {
  const config = { ...s.config, managerPublicKey: manager.publicRaw, sectorCount: 64 };
  const provider = wrap(createSimProvider({ chip: s.chip, buildDigest: s.buildDigest, config }));
  return { core: new DiskNodeCore(config, provider), provider, manager, config };
}

/** The session's ATTEST: its evidence and the nonce the manager sent with it. */
function attest(node: TestNode, session: TestSession): { evidence: Buffer; nonce: Buffer } {
  const reply = exchange(node, session, [{ op: Op.attest }]);
  const [result] = reply.results;
  if (result.op !== Op.attest) throw new Error('ATTEST answered with another result');
  return { evidence: result.evidence, nonce: Buffer.from(reply.ids.nonce) };
}

interface Binding {
  challenge: Buffer;
  nonce: Buffer;
  instancePublicKey: Buffer;
  launch: Buffer;
}

const flipped = (b: Buffer): Buffer => Buffer.concat([b.subarray(0, -1), Buffer.from([b[b.length - 1] ^ 1])]);

t.test('session report data is SHA-256 of the label, challenge, nonce, instance key and launch config (checked with @noble)', async (t) => {
  const [challenge, nonce, key] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2), Buffer.alloc(32, 3)];
  const launch = encodeLaunch({ managerPublicKey: Buffer.alloc(32, 4), sectorBytes: 4096, sectorCount: 64 });
  t.equal(launch.toString('hex'), `${'04'.repeat(32)}0000100000000040`, 'launch config: manager key, sector bytes, sector count');
  const expected = nobleSha256(Buffer.concat([Buffer.from('teearray/session/v2'), challenge, nonce, key, launch]));
  t.same(sessionReportData(challenge, nonce, key, launch), Buffer.from(expected));
});

t.test('ATTEST evidence binds challenge, nonce, instance key and launch config', async (t) => {
  const s = simSetup();
  const node = simNode(s);
  const session = openTestSession(node);
  const { evidence, nonce } = attest(node, session);
  const genuine: Binding = { challenge: session.hello.challenge, nonce, instancePublicKey: session.hello.instancePublicKey, launch: encodeLaunch(node.config) };
  const verify = (b: Binding, bytes: Uint8Array = evidence) =>
    verifyEvidence(bytes, s.manifest, {
      managerPublicKey: node.config.managerPublicKey,
      sectorBytes: node.config.sectorBytes,
      reportData: sessionReportData(b.challenge, b.nonce, b.instancePublicKey, b.launch),
    });
  t.same(verify(genuine).config, node.config, 'the genuine session verifies');
  const changes: [string, Partial<Binding>][] = [
    ['another challenge', { challenge: flipped(genuine.challenge) }],
    ['another nonce', { nonce: flipped(genuine.nonce) }],
    ['another instance key', { instancePublicKey: flipped(genuine.instancePublicKey) }],
    ['another sector count in the launch config', { launch: encodeLaunch({ ...node.config, sectorCount: node.config.sectorCount + 1 }) }],
    ['another manager key in the launch config', { launch: encodeLaunch({ ...node.config, managerPublicKey: managerKeys().publicRaw }) }],
  ];
  for (const [name, change] of changes) {
    t.throws(() => verify({ ...genuine, ...change }), { code: 'E_ATT_REPORT_DATA' }, name);
  }

  const later = openTestSession(node);
  t.throws(() => verify(genuine, attest(node, later).evidence), { code: 'E_ATT_REPORT_DATA' }, 'evidence of another session of the same node');
  const sibling = simNode(s, node.manager);
  t.throws(() => verify(genuine, attest(sibling, openTestSession(sibling)).evidence), { code: 'E_ATT_REPORT_DATA' }, 'evidence of another instance on the same chip');
});

t.test('NodeClient.open verifies the session evidence and refuses a node whose evidence does not verify', async (t) => {
  const s = simSetup();
  const node = simNode(s);
  const { client } = await openCoreClient(node, { verifyEvidence: attestedEvidenceVerifier(s.manifest) });
  t.same(client.peer, { instanceId: node.core.instanceId, instancePublicKey: node.core.instancePublicKey, platform: 'sim-tee-v1' }, 'the peer is the attested instance');
  client.close();

  const otherBuild = { ...s.manifest, builds: [{ ...s.manifest.builds[0], buildDigest: new Uint8Array(32) }] };
  // A node whose platform hands out the evidence of its first session ever after (a replaying relay).
  let first: Uint8Array | undefined;
  const replaying = simNode(s, managerKeys(), (p) => ({ platform: p.platform, report: (data) => (first ??= p.report(data)) }));
  await openCoreClient(replaying, { verifyEvidence: attestedEvidenceVerifier(s.manifest) });
  const cases: [string, TestNode, typeof s.manifest, string][] = [
    ['a manifest that accepts another build', node, otherBuild, 'E_ATT_BUILD'],
    ['stale evidence of an earlier session', replaying, s.manifest, 'E_ATT_REPORT_DATA'],
  ];
  for (const [name, target, manifest, code] of cases) {
    const opened = openCoreClient(target, { verifyEvidence: attestedEvidenceVerifier(manifest) });
    await t.rejects(opened, { code }, name);
  }
});
