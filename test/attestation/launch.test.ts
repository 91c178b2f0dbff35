// The launcher measures the bundle bytes and runs exactly those bytes: the
// evidence names the digest of what was loaded, and the running node's
// behaviour follows the bytes (a rewritten marker shows up in its replies).
// The real disk node, once written, launches the same way, and a manager
// session's ATTEST evidence from it verifies for that session.
import t from 'tap';
import type { Test } from 'tap';
import { existsSync } from 'node:fs';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { bundleDiskNode, diskNodeEntry, repoRoot } from '../../attestation/disk-node-bundle.ts';
import { launchDiskNode, loadBundle } from '../../attestation/launch.ts';
import type { LaunchedDiskNode } from '../../attestation/launch.ts';
import { buildDigest } from '../../attestation/measurement.ts';
import { bundleBytesMax } from '../../attestation/limits.ts';
import { verifyEvidence } from '../../attestation/verifier.ts';
import { fixtureRoot, tempDir } from './bundle-tree.ts';
import { simSetup } from './sim-setup.ts';
import { simReporterFor } from '../../attestation/sim-provider.ts';

const testTimeoutMs = 20_000;

/** Sends one message and resolves with the first reply, or the first frame when `message` is null. */
function exchange(port: number, message: Uint8Array | string | null): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}`);
    socket.once('error', reject);
    socket.once('message', (data: Buffer) => {
      socket.close();
      resolve(data);
    });
    if (message !== null) socket.once('open', () => socket.send(message));
  });
}

async function launchFixture(t: Test, bytes: Uint8Array, s = simSetup(buildDigest(bytes))): Promise<LaunchedDiskNode> {
  const bundlePath = join(await tempDir(t, 'teearray-launch-'), 'disk-node.mjs');
  await writeFile(bundlePath, bytes);
  const lines: string[] = [];
  const launched = await launchDiskNode({ bundlePath, reporterFor: simReporterFor(s.chip), config: s.config, host: '127.0.0.1', port: 0, log: (l) => lines.push(l) });
  t.teardown(() => launched.node.close());
  t.same(lines, [`fixture listening for ${s.config.sectorCount} sectors`], 'the node got the launch options');
  return launched;
}

t.test('the fixture runs from its measured bytes and attests with the sim provider', { timeout: testTimeoutMs }, async (t) => {
  const bundle = await bundleDiskNode({ root: fixtureRoot });
  const s = simSetup(bundle.buildDigest);
  const launched = await launchFixture(t, bundle.bytes, s);
  t.same(launched.buildDigest, bundle.buildDigest);
  t.same(launched.instanceId, launched.node.core.instanceId, 'the launcher reports the running node\'s instance id');
  const reportData = new Uint8Array(32).fill(0x5a);
  const evidence = new Uint8Array(await exchange(launched.node.port, reportData));
  const node = verifyEvidence(evidence, s.manifest, { managerPublicKey: s.managerPublicKey, reportData });
  t.same([node.buildDigest, node.reportData], [bundle.buildDigest, reportData], 'the evidence names the loaded bytes and reports the data asked for');
  t.throws(() => verifyEvidence(evidence, s.manifest, { managerPublicKey: s.managerPublicKey, reportData: new Uint8Array(32) }), { code: 'E_ATT_REPORT_DATA' });
  t.match((await exchange(launched.node.port, 'hello')).toString(), /^fixture-A [0-9a-f]{64}$/);
});

t.test('changed bytes are what runs, and the evidence says so', { timeout: testTimeoutMs }, async (t) => {
  const bundle = await bundleDiskNode({ root: fixtureRoot });
  const text = new TextDecoder().decode(bundle.bytes);
  t.equal(text.split('fixture-A').length, 2, 'the marker occurs once');
  const changed = new TextEncoder().encode(text.replace('fixture-A', 'fixture-B'));
  const s = simSetup(bundle.buildDigest); // the manifest accepts only the original build
  const launched = await launchFixture(t, changed, s);
  t.same(launched.buildDigest, buildDigest(changed));
  t.match((await exchange(launched.node.port, 'hello')).toString(), /^fixture-B /);
  const evidence = new Uint8Array(await exchange(launched.node.port, new Uint8Array(32)));
  t.throws(() => verifyEvidence(evidence, s.manifest, { managerPublicKey: s.managerPublicKey }), { code: 'E_ATT_BUILD' });
});

t.test('unloadable bundles are E_ATT_BUNDLE', { timeout: testTimeoutMs }, async (t) => {
  const enc = (src: string) => new TextEncoder().encode(src);
  await t.rejects(loadBundle(enc('export const other = 1;')), { code: 'E_ATT_BUNDLE', message: /does not export startDiskNode/ });
  await t.rejects(loadBundle(enc('export const startDiskNode = ;')), { code: 'E_ATT_BUNDLE', message: /failed to load/ });
  // Only builtins resolve from a data: URL module: a bundle cannot reach into node_modules.
  await t.rejects(loadBundle(enc("import 'ws'; export function startDiskNode() {}")), { code: 'E_ATT_BUNDLE', message: /failed to load/ });
  const s = simSetup();
  const missing = join(await tempDir(t, 'teearray-launch-missing-'), 'absent.mjs');
  await t.rejects(launchDiskNode({ bundlePath: missing, reporterFor: simReporterFor(s.chip), config: s.config, host: '127.0.0.1', port: 0 }), {
    code: 'E_ATT_BUNDLE',
    message: /cannot read bundle/,
  });
  const oversized = join(await tempDir(t, 'teearray-launch-big-'), 'big.mjs');
  await writeFile(oversized, '');
  await truncate(oversized, bundleBytesMax + 1); // sparse: no 16 MiB written
  await t.rejects(launchDiskNode({ bundlePath: oversized, reporterFor: simReporterFor(s.chip), config: s.config, host: '127.0.0.1', port: 0 }), {
    code: 'E_ATT_BUNDLE',
    message: /larger than 16777216 bytes/,
  });
});

const diskNodeWritten = existsSync(join(repoRoot, diskNodeEntry));
t.test(
  'the real disk node launches and a manager session verifies its evidence',
  { timeout: testTimeoutMs, skip: diskNodeWritten ? false : `${diskNodeEntry} is not written yet` },
  async (t) => {
    // Imported here so this file does not depend on the manager while the disk node is absent.
    const { attestedConnector } = await import('../../array-manager/node-client/attested-connector.ts');
    const { generateKeyPairSync } = await import('node:crypto');
    const manager = generateKeyPairSync('ed25519');
    const managerPublicKey = new Uint8Array(manager.publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
    const bundle = await bundleDiskNode();
    const s = simSetup(bundle.buildDigest);
    const config = { ...s.config, managerPublicKey };
    const bundlePath = join(await tempDir(t, 'teearray-launch-real-'), 'disk-node.mjs');
    await writeFile(bundlePath, bundle.bytes);
    const launched = await launchDiskNode({ bundlePath, reporterFor: simReporterFor(s.chip), config, host: '127.0.0.1', port: 0 });
    t.teardown(() => launched.node.close());
    const connector = attestedConnector({
      endpoints: [`ws://127.0.0.1:${launched.node.port}`],
      manifest: s.manifest,
      managerPrivateKey: manager.privateKey,
      managerPublicKey,
    });
    const client = await connector.connect(0);
    t.teardown(() => client.close());
    t.same(client.peer.instanceId, launched.instanceId, 'the session attested the launched instance');
    t.equal(client.peer.platform, 'sim-tee-v1');
  },
);
