// Session evidence end to end in process: a disk-node core on the simulated
// TEE answers ATTEST with the platform's report over SHA-256("teearray/
// session/v3" || challenge || manager session key || instance key || launch
// config). The evidence verifies for exactly that session: change any one
// input and the verifier refuses it with E_ATT_REPORT_DATA, evidence of
// another session or another instance is refused, and NodeClient.open refuses
// a node whose evidence does not verify, including a man in the middle who
// puts its own X25519 key in HELLO and MACs the replies with the keys it gives.
import t from 'tap';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { NodeError, Op } from '../../array-manager/node-client/frame-codec.ts';
import { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { attestedEvidenceVerifier } from '../../array-manager/node-client/attested-connector.ts';
import type { AttestationProvider } from '../../attestation/provider.ts';
import { createSimProvider } from '../../attestation/sim-provider.ts';
import { verifyEvidence } from '../../attestation/verifier.ts';
import { DiskNodeCore } from '../../disk-node/node-core.ts';
import { decodeRequest, encodeLaunch, readOnlyOps, sessionReportData, type SessionIds } from '../../disk-node/wire.ts';
import { exchange, managerKeys, openTestSession, storeDigest, testClientOptions, testNode, type TestNode, type TestSession } from '../disk-node/fixtures.ts';
import { CoreChannel, openCoreClient, substituteInstanceKey } from '../node-client/core-channel.ts';
import { simSetup } from './sim-setup.ts';

/** A core on the sim TEE, launched for a manager whose private key the test holds; `provider` may wrap the sim one. */
function simNode(s = simSetup(), manager = managerKeys(), wrap = (p: AttestationProvider) => p): TestNode {
  const config = { ...s.config, managerPublicKey: manager.publicRaw, sectorCount: 64 };
  const provider = wrap(createSimProvider({ chip: s.chip, buildDigest: s.buildDigest, config }));
  return { core: new DiskNodeCore(config, provider), provider, manager, config };
}

/** The session's ATTEST (its open frame): its evidence, and what names the session (the manager session key the open frame carried). */
function attest(node: TestNode, session: TestSession): { evidence: Buffer; ids: SessionIds } {
  const reply = exchange(node, session, [{ op: Op.attest }]);
  const [result] = reply.results;
  if (result.op !== Op.attest) throw new Error('ATTEST answered with another result');
  if (!reply.ids.opening || !Buffer.from(reply.ids.opening.sessionKey).equals(session.ids.managerSessionKey)) throw new Error('ATTEST was not in the open frame');
  return { evidence: result.evidence, ids: session.ids };
}

interface Binding {
  challenge: Buffer;
  managerSessionKey: Buffer;
  instancePublicKey: Buffer;
  launch: Buffer;
}

const flipped = (b: Buffer): Buffer => Buffer.concat([b.subarray(0, -1), Buffer.from([b[b.length - 1] ^ 1])]);

t.test('session report data is SHA-256 of the label, challenge, manager session key, instance key and launch config (checked with @noble)', async (t) => {
  const [challenge, managerSessionKey, instancePublicKey] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2), Buffer.alloc(32, 3)];
  const launch = encodeLaunch({ managerPublicKey: Buffer.alloc(32, 4), sectorBytes: 4096, sectorCount: 64 });
  t.equal(launch.toString('hex'), `${'04'.repeat(32)}0000100000000040`, 'launch config: manager key, sector bytes, sector count');
  const expected = nobleSha256(Buffer.concat([Buffer.from('teearray/session/v3'), challenge, managerSessionKey, instancePublicKey, launch]));
  t.same(sessionReportData({ challenge, managerSessionKey, instancePublicKey }, launch), Buffer.from(expected));
});

t.test('ATTEST evidence binds challenge, manager session key, instance key and launch config', async (t) => {
  const s = simSetup();
  const node = simNode(s);
  const session = openTestSession(node);
  const { evidence, ids } = attest(node, session);
  const genuine: Binding = {
    challenge: Buffer.from(ids.challenge),
    managerSessionKey: Buffer.from(ids.managerSessionKey),
    instancePublicKey: Buffer.from(ids.instancePublicKey),
    launch: encodeLaunch(node.config),
  };
  t.same(genuine.instancePublicKey, node.core.instancePublicKey, "the instance key is the node's");
  const verify = (b: Binding, bytes: Uint8Array = evidence) =>
    verifyEvidence(bytes, s.manifest, {
      managerPublicKey: node.config.managerPublicKey,
      sectorBytes: node.config.sectorBytes,
      reportData: sessionReportData(b, b.launch),
    });
  t.same(verify(genuine).config, node.config, 'the genuine session verifies');
  const changes: [string, Partial<Binding>][] = [
    ['another challenge', { challenge: flipped(genuine.challenge) }],
    ['another manager session key', { managerSessionKey: flipped(genuine.managerSessionKey) }],
    ['another instance key', { instancePublicKey: flipped(genuine.instancePublicKey) }],
    ['the manager session key and the instance key swapped', { managerSessionKey: genuine.instancePublicKey, instancePublicKey: genuine.managerSessionKey }],
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

t.test('a man in the middle who puts its own X25519 key in HELLO: NodeClient.open fails on the evidence, and nothing that changes the store is ever sent', async (t) => {
  const s = simSetup();
  const sim = simNode(s);
  const stand = testNode(64);
  const verifiers: [string, TestNode, ReturnType<typeof attestedEvidenceVerifier>, RegExp][] = [
    ['the sim TEE and the attested verifier', sim, attestedEvidenceVerifier(s.manifest), /^E_ATT_REPORT_DATA: .*report data/],
    ['the stand-in platform and verifier', stand, testClientOptions(stand.manager, 0).verifyEvidence, /^E_ATTESTATION: fake evidence reports another session/],
  ];
  for (const [name, node, verifyEvidence, refusal] of verifiers) {
    const before = storeDigest(node.core.store);
    const executed = node.core.stats.batchesExecuted;
    const channel = new CoreChannel(node.core);
    const mitm = substituteInstanceKey(channel);
    const opts = { ...testClientOptions(node.manager, 5000), verifyEvidence };
    const err = await NodeClient.open(channel, opts).then(
      () => new Error('opened'),
      (e: unknown) => e as Error,
    );
    t.ok(err instanceof NodeError || (err as NodeError).code !== undefined, `${name}: a coded error`);
    t.match(err.message, refusal, `${name}: refused for the report data (${err.message})`);
    t.ok(channel.closed, `${name}: the channel is closed`);
    t.equal(channel.requests.length, 1, `${name}: only the open frame was sent`);
    const open = decodeRequest(channel.requests[0], node.config.sectorBytes, true);
    t.ok(open.commands.every((c) => readOnlyOps.has(c.op)), `${name}: and it holds only read-only commands (${open.commands.map((c) => c.op).join(', ')})`);
    t.equal(node.core.stats.batchesExecuted, executed + 1n, `${name}: the node ran that open frame, ATTEST and DEATH_READ, and nothing else`);
    t.equal(storeDigest(node.core.store), before, `${name}: the store is unchanged`);
    t.notSame(mitm.publicRaw, node.core.instancePublicKey);
  }
});
