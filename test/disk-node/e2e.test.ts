// End to end: real disk-node processes on loopback, each running the measured
// bundle through the sim-TEE launcher (e2e-launcher.ts), reached by the
// manager's attested connector with a manifest for the current build. Three
// good nodes serve write/read/copy/trim/death-record batches and report
// consistent STATUS counters; a manifest for another build, a node certified
// by an untrusted root, a node launched for another manager, a manager signing
// with the wrong key and a killed process are each refused with their code;
// a second manager session on a node fences the first.
import t from 'tap';
import type { Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleDiskNode, repoRoot } from '../../attestation/disk-node-bundle.ts';
import type { ReferenceManifest } from '../../attestation/manifest.ts';
import { simPlatformName } from '../../attestation/platform-name.ts';
import { manifestForCurrentBuild } from '../../attestation/reference-manifest.ts';
import { createSimChip, createSimRoot, saveSimPlatform } from '../../attestation/sim-platform.ts';
import { attestedConnector } from '../../array-manager/node-client/attested-connector.ts';
import { Op, type Command } from '../../array-manager/node-client/frame-codec.ts';
import type { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { tempDir } from '../attestation/bundle-tree.ts';
import { managerKeys, pattern, type ManagerKeys } from './fixtures.ts';

const launcher = join(import.meta.dirname, 'e2e-launcher.ts');
const startTimeoutMs = 30_000;
const sessionTimeoutMs = 5000;
const sectorCount = 1024;
const sectorBytes = 4096;

interface NodeProcess {
  child: ChildProcess;
  endpoint: string;
  instanceId: string;
  buildDigest: string;
}

/** Starts one launcher process; it is killed in teardown whatever happens. */
function spawnNode(t: Test, platformDir: string, bundlePath: string, manager: ManagerKeys): Promise<NodeProcess> {
  const args = ['--import', 'tsx', launcher, platformDir, bundlePath, manager.publicRaw.toString('hex'), String(sectorCount)];
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`launcher reported no port within ${startTimeoutMs} ms: ${err}`));
    }, startTimeoutMs);
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const line = JSON.parse(out.slice(0, nl)) as { port: number; instanceId: string; buildDigest: string };
      resolve({ child, endpoint: `ws://127.0.0.1:${line.port}`, instanceId: line.instanceId, buildDigest: line.buildDigest });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`launcher exited (${code ?? signal}) before reporting a port: ${err}`));
    });
  });
}

/** The code a promise rejected with (for a session the node closed, with its close code and reason), or 'resolved'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    const { code, message } = err as { code?: string; message: string };
    const closedBy = code === 'E_CLOSED' ? / \((\d+ E_[A-Z_]+)\)$/.exec(message) : null;
    return closedBy ? `E_CLOSED: ${closedBy[1]}` : (code ?? `untyped: ${message}`);
  }
}

t.test('measured disk-node processes behind the attested connector', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'teearray-e2e-');
  const root = createSimRoot();
  const platformDir = join(dir, 'platform');
  const rogueDir = join(dir, 'rogue-platform');
  await saveSimPlatform(platformDir, { chip: createSimChip(root) });
  await saveSimPlatform(rogueDir, { chip: createSimChip(createSimRoot()) });
  const bundle = await bundleDiskNode();
  const bundlePath = join(dir, 'disk-node.mjs');
  await writeFile(bundlePath, bundle.bytes);
  const manager = managerKeys();
  const otherManager = managerKeys();

  const [good, rogue, foreign] = await Promise.all([
    Promise.all([0, 1, 2].map(() => spawnNode(t, platformDir, bundlePath, manager))),
    spawnNode(t, rogueDir, bundlePath, manager),
    spawnNode(t, platformDir, bundlePath, otherManager),
  ]);
  const manifest = await manifestForCurrentBuild({ platforms: [{ name: simPlatformName, roots: [root.publicKey] }] });
  const digest = Buffer.from(bundle.buildDigest).toString('hex');
  t.equal(Buffer.from(manifest.builds[0].buildDigest).toString('hex'), digest, 'the manifest names the bundle that was built');
  t.same(good.map((n) => n.buildDigest), [digest, digest, digest], 'each process measured the same bytes');

  /** A session to `endpoint`; an observer one (a status tool's) never fences the serving sessions. */
  const connect = (endpoint: string, m: ReferenceManifest = manifest, signer: ManagerKeys = manager, observe = false): Promise<NodeClient> =>
    attestedConnector({
      endpoints: [endpoint],
      manifest: m,
      managerPrivateKey: signer.privateKey,
      managerPublicKey: manager.publicRaw,
      timeoutMs: sessionTimeoutMs,
      observe,
    }).connect(0);
  const probe = (endpoint: string, m: ReferenceManifest = manifest, signer: ManagerKeys = manager) => outcome(connect(endpoint, m, signer, true));

  const clients = await Promise.all(good.map((n) => connect(n.endpoint)));
  t.teardown(() => clients.forEach((c) => c.close()));

  await t.test('write, read, copy, trim, death record and STATUS on each node', async (t) => {
    await Promise.all(
      clients.map(async (client, i) => {
        t.equal(Buffer.from(client.peer.instanceId).toString('hex'), good[i].instanceId, `node ${i}: attested instance id is the launched one`);
        const data = pattern(sectorBytes, 8, i);
        const [, written] = await client.batch([{ op: Op.write, sector: 0, count: 8, data }, { op: Op.read, sector: 0, count: 8 }]);
        t.ok(written.op === Op.read && written.data.equals(data), `node ${i}: reads back what it wrote`);
        const [, , copied, trimmed] = await client.batch([
          { op: Op.copy, src: 0, dst: 1000, count: 8 },
          { op: Op.trim, sector: 2, count: 1 },
          { op: Op.read, sector: 1000, count: 8 },
          { op: Op.read, sector: 2, count: 1 },
        ]);
        t.ok(copied.op === Op.read && copied.data.equals(data), `node ${i}: copy carried all 8 sectors`);
        t.ok(trimmed.op === Op.read && trimmed.data.equals(Buffer.alloc(sectorBytes)), `node ${i}: trimmed sector reads as zeros`);
        const record = Buffer.from(`membership of node ${i}`);
        const [, death] = await client.batch([{ op: Op.deathWrite, version: 2n, record }, { op: Op.deathRead }]);
        t.ok(death.op === Op.deathRead && death.version === 2n && death.record.equals(record), `node ${i}: death record stored`);
        t.equal(await outcome(client.batch([{ op: Op.read, sector: sectorCount, count: 1 }])), 'E_RANGE', `node ${i}: range refusal`);
        const s = await client.status();
        t.same(
          {
            instanceId: s.instanceId.toString('hex'),
            sectorBytes: s.sectorBytes,
            sectorCount: s.sectorCount,
            batchesExecuted: s.batchesExecuted,
            batchesRefused: s.batchesRefused,
            bytesRead: s.bytesRead,
            bytesWritten: s.bytesWritten,
            deathVersion: s.deathVersion,
          },
          {
            instanceId: good[i].instanceId,
            sectorBytes,
            sectorCount,
            batchesExecuted: 1n + 3n, // the session's ATTEST and three batches
            batchesRefused: 1n,
            bytesRead: BigInt((8 + 8 + 1) * sectorBytes),
            bytesWritten: BigInt(8 * sectorBytes),
            deathVersion: 2n,
          },
          `node ${i}: STATUS counters match the batches sent`,
        );
      }),
    );
    const pipelined = Array.from({ length: 40 }, (_, j): Command[] => [{ op: Op.read, sector: 1000 + (j % 8), count: 1 }]);
    const results = await Promise.all(pipelined.map((cmds) => clients[0].batch(cmds)));
    t.ok(
      results.every(([r], j) => r.op === Op.read && r.data.equals(pattern(sectorBytes, 8, 0).subarray((j % 8) * sectorBytes, (j % 8 + 1) * sectorBytes))),
      '40 pipelined reads each return their own sector',
    );
  });

  await t.test('refusals: other build, untrusted root, other manager, wrong signing key', async (t) => {
    const otherBuild: ReferenceManifest = { ...manifest, builds: [{ ...manifest.builds[0], buildDigest: new Uint8Array(randomBytes(32)) }] };
    t.equal(await probe(good[0].endpoint, otherBuild), 'E_ATT_BUILD', 'a manifest that accepts only another build');
    t.equal(await probe(rogue.endpoint), 'E_ATT_CHAIN', 'a node whose chip an untrusted root certified');
    // A node launched for another manager closes the session on our first batch: its evidence is never sent.
    t.equal(await probe(foreign.endpoint), 'E_CLOSED: 4000 E_SIGNATURE', 'a node launched for another manager key');
    t.equal(await probe(good[1].endpoint, manifest, otherManager), 'E_CLOSED: 4000 E_SIGNATURE', 'batches signed with a key the node was not launched for');
    t.equal(await outcome(clients[1].batch([{ op: Op.status }])), 'resolved', 'the node keeps serving its manager');
  });

  await t.test('a killed node: the open session fails with E_CLOSED, new ones with E_CONNECT', async (t) => {
    const victim = good[2];
    victim.child.kill('SIGKILL');
    await once(victim.child, 'exit');
    for (let i = 0; i < 100 && !clients[2].closed; i++) await new Promise((r) => setTimeout(r, 20));
    t.ok(clients[2].closed, 'the session saw the connection drop');
    t.equal(await outcome(clients[2].batch([{ op: Op.status }])), 'E_CLOSED');
    t.equal(await outcome(connect(victim.endpoint)), 'E_CONNECT');
    t.equal(await outcome(clients[0].batch([{ op: Op.status }])), 'resolved', 'the other nodes are unaffected');
  });

  await t.test('a second manager session fences the first: its next batch closes it with E_FENCED', async (t) => {
    const second = await connect(good[0].endpoint);
    t.teardown(() => second.close());
    t.equal(await outcome(clients[0].batch([{ op: Op.status }])), 'E_CLOSED: 4000 E_FENCED', 'the older session is closed, not answered');
    t.equal(await outcome(second.batch([{ op: Op.status }])), 'resolved', 'the newer session is served');
  });
});
