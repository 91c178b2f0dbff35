// Sim platform key files: save/load round trip with mode 0600, and a clear
// E_ATT_KEY_FILE for each way a directory can be wrong.
import t from 'tap';
import type { Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeChipCert } from '../../attestation/chip-cert.ts';
import { rawPublicKey } from '../../attestation/ed25519.ts';
import {
  createSimChip,
  createSimRoot,
  loadSimChip,
  loadSimRoot,
  loadSimRootPublicKey,
  saveSimPlatform,
  simKeyFiles,
} from '../../attestation/sim-platform.ts';
import { createSimProvider } from '../../attestation/sim-provider.ts';
import { verifyEvidence } from '../../attestation/verifier.ts';
import { simSetup } from './sim-setup.ts';

async function savedPlatform(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'teearray-sim-platform-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const root = createSimRoot();
  const chip = createSimChip(root);
  await saveSimPlatform(dir, { root, chip });
  return { dir, root, chip };
}

t.test('save and load round trip; files are 0600', async (t) => {
  const { dir, root, chip } = await savedPlatform(t);
  for (const name of Object.values(simKeyFiles)) t.equal((await stat(join(dir, name))).mode & 0o777, 0o600, name);
  t.equal((await stat(dir)).mode & 0o777, 0o700);
  t.same(await loadSimRootPublicKey(dir), root.publicKey);
  const loadedRoot = await loadSimRoot(dir);
  t.same(rawPublicKey(loadedRoot.privateKey), root.publicKey);
  const loadedChip = await loadSimChip(dir);
  t.same(loadedChip.cert, chip.cert);
  // A provider on the loaded chip produces evidence a manifest with the saved root accepts.
  const s = simSetup();
  const provider = createSimProvider({ chip: loadedChip, buildDigest: s.buildDigest, config: s.config });
  const manifest = { ...s.manifest, platforms: [{ name: 'sim-tee-v1', roots: [await loadSimRootPublicKey(dir)] }] };
  const reportData = new Uint8Array(32).fill(4);
  t.same(verifyEvidence(provider.report(reportData), manifest, { managerPublicKey: s.managerPublicKey, reportData }).platform, 'sim-tee-v1');
});

t.test('a node host can hold the chip without the root', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'teearray-sim-chip-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await saveSimPlatform(dir, { chip: createSimChip(createSimRoot()) });
  t.ok(await loadSimChip(dir));
  await t.rejects(loadSimRoot(dir), { code: 'E_ATT_KEY_FILE', message: /root\.key is missing/ });
});

t.test('existing keys are never overwritten', async (t) => {
  const { dir, chip } = await savedPlatform(t);
  await t.rejects(saveSimPlatform(dir, { chip }), { code: 'E_ATT_KEY_FILE', message: /chip\.key .* already exists/ });
});

t.test('missing, corrupt, mismatched and too-open files', async (t) => {
  const other = createSimChip(createSimRoot());
  const at = (dir: string, name: string) => join(dir, name);
  type Case = [string, (dir: string) => Promise<unknown>, (dir: string) => Promise<unknown>, RegExp];
  const cases: Case[] = [
    ['missing chip.key', (d) => unlink(at(d, 'chip.key')), loadSimChip, /chip\.key is missing/],
    ['missing chip.cert', (d) => unlink(at(d, 'chip.cert')), loadSimChip, /chip\.cert is missing/],
    ['corrupt PEM', (d) => writeFile(at(d, 'chip.key'), 'not a key\n'), loadSimChip, /not a PKCS#8 PEM Ed25519/],
    [
      'an X25519 key in place of Ed25519',
      (d) => writeFile(at(d, 'chip.key'), x25519Pem()),
      loadSimChip,
      /not a PKCS#8 PEM Ed25519/,
    ],
    [
      'truncated cert',
      async (d) => writeFile(at(d, 'chip.cert'), (await readFile(at(d, 'chip.cert'))).subarray(0, 50)),
      loadSimChip,
      /chip\.cert is corrupt/,
    ],
    [
      'cert with a bad signature',
      async (d) => {
        const bytes = await readFile(at(d, 'chip.cert'));
        bytes[bytes.length - 1] ^= 1;
        await writeFile(at(d, 'chip.cert'), bytes);
      },
      loadSimChip,
      /signature does not verify/,
    ],
    ['cert for another chip', (d) => writeFile(at(d, 'chip.cert'), encodeChipCert(other.cert)), loadSimChip, /is not the key chip\.cert certifies/],
    ['group-readable key', (d) => chmod(at(d, 'chip.key'), 0o640), loadSimChip, /readable by group or others \(mode 640\)/],
    ['oversized file', (d) => writeFile(at(d, 'chip.key'), 'x'.repeat(5000)), loadSimChip, /larger than 4096 bytes/],
    ['a directory instead of a file', async (d) => (await unlink(at(d, 'chip.cert')), mkdir(at(d, 'chip.cert'))), loadSimChip, /not a regular file/],
    ['root.pub not hex', (d) => writeFile(at(d, 'root.pub'), 'zz\n'), loadSimRootPublicKey, /root\.pub must hold 64 lowercase hex/],
    ['root.pub of another key', (d) => writeFile(at(d, 'root.pub'), `${'00'.repeat(32)}\n`), loadSimRoot, /root\.pub .* is not the public key of root\.key/],
    ['missing directory', (d) => rm(d, { recursive: true }), loadSimChip, /chip\.key is missing/],
  ];
  for (const [name, damage, load, message] of cases) {
    const { dir } = await savedPlatform(t);
    await damage(dir);
    await t.rejects(load(dir), { code: 'E_ATT_KEY_FILE', message }, name);
  }
});

function x25519Pem(): string {
  return generateKeyPairSync('x25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}
