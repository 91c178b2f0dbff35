// The manager's key directory (cli/key-store.ts): generateKeys writes secret
// files with mode 0600 in a 0700 directory and never overwrites a file;
// loadKeys refuses files readable by group or others, missing files (telling
// the operator to run keygen), and malformed keys.
import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeys, loadKeys } from '../../cli/key-store.ts';
import { CliError } from '../../cli/cli-error.ts';

function keyDir(t: Test): string {
  const parent = mkdtempSync(join(tmpdir(), 'teearray-keys-'));
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  return join(parent, 'data');
}

const mode = (path: string) => statSync(path).mode & 0o777;
const secrets = ['manager.key', 'data.key', 'admin.token'];

t.test('generateKeys creates every file with its mode, then loadKeys reads them', async (t) => {
  const dir = keyDir(t);
  const created = await generateKeys(dir);
  t.same(created, ['manager.key', 'manager.pub', 'data.key', 'admin.token', 'platform/']);
  t.equal(mode(dir), 0o700, 'data dir 0700');
  for (const name of secrets) t.equal(mode(join(dir, name)), 0o600, `${name} 0600`);
  t.equal(mode(join(dir, 'manager.pub')), 0o644, 'public key readable');
  t.equal(mode(join(dir, 'platform')), 0o700, 'platform dir 0700');
  const keys = await loadKeys(dir);
  t.equal(keys.managerPublicKey.toString('hex') + '\n', readFileSync(join(dir, 'manager.pub'), 'utf8'), 'manager.pub is the raw public key in hex');
  t.equal(keys.dataKey.length, 32);
  t.ok(keys.adminToken.length >= 16);
  t.equal(keys.platformDir, join(dir, 'platform'));
});

t.test('generateKeys never overwrites, and fills in only what is missing', async (t) => {
  const dir = keyDir(t);
  await generateKeys(dir);
  const before = Object.fromEntries(secrets.map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
  t.same(await generateKeys(dir), [], 'second run creates nothing');
  for (const n of secrets) t.equal(readFileSync(join(dir, n), 'utf8'), before[n], `${n} unchanged`);
  unlinkSync(join(dir, 'admin.token'));
  t.same(await generateKeys(dir), ['admin.token'], 'only the missing file is made');
  t.equal(readFileSync(join(dir, 'data.key'), 'utf8'), before['data.key'], 'data key kept');
  t.not(readFileSync(join(dir, 'admin.token'), 'utf8'), before['admin.token'], 'a fresh token');
});

t.test('loadKeys refuses secret files readable by group or others', async (t) => {
  const dir = keyDir(t);
  await generateKeys(dir);
  for (const name of secrets) {
    for (const bad of [0o640, 0o604, 0o660]) {
      chmodSync(join(dir, name), bad);
      await t.rejects(loadKeys(dir), { message: `${join(dir, name)} is readable by group or others; chmod 600 it` }, `${name} ${bad.toString(8)}`);
    }
    chmodSync(join(dir, name), 0o600);
  }
  chmodSync(join(dir, 'data.key'), 0o400);
  await t.resolves(loadKeys(dir), 'owner-only read is fine');
});

t.test('loadKeys: a missing file says to run keygen', async (t) => {
  const empty = keyDir(t);
  await t.rejects(loadKeys(empty), new CliError(`${join(empty, 'manager.key')} is missing; run \`teearray keygen --data-dir ${empty}\``));
  const dir = keyDir(t);
  await generateKeys(dir);
  for (const name of secrets) {
    const text = readFileSync(join(dir, name));
    unlinkSync(join(dir, name));
    await t.rejects(loadKeys(dir), { message: `${join(dir, name)} is missing; run \`teearray keygen --data-dir ${dir}\`` }, name);
    writeFileSync(join(dir, name), text, { mode: 0o600 });
  }
});

t.test('loadKeys refuses malformed keys, naming the file', async (t) => {
  const dir = keyDir(t);
  await generateKeys(dir);
  const put = (name: string, text: string) => writeFileSync(join(dir, name), text, { mode: 0o600 });
  const good = Object.fromEntries(secrets.map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
  const x25519 = generateKeyPairSync('x25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const cases: [string, string, string][] = [
    ['manager.key', 'not a key', 'is not a PEM private key'],
    ['manager.key', x25519, 'is not an Ed25519 key'],
    ['manager.key', 'x'.repeat(4097), 'is not a key file'],
    ['data.key', 'ab'.repeat(31), 'must hold 64 hex digits'],
    ['data.key', 'AB'.repeat(32), 'must hold 64 hex digits'],
    ['data.key', 'zz'.repeat(32), 'must hold 64 hex digits'],
    ['admin.token', 'short', 'must hold at least 16 characters'],
  ];
  for (const [name, text, why] of cases) {
    put(name, text);
    await t.rejects(loadKeys(dir), { message: `${join(dir, name)} ${why}` }, `${name}: ${why}`);
    put(name, good[name]);
  }
  await t.resolves(loadKeys(dir), 'restored files load');
});
