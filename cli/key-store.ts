// The manager's keys on disk (docs/CLI.md), in one data directory:
//
//   manager.key   Ed25519 private key (PKCS#8 PEM, 0600): signs every session's open frame
//   manager.pub   its raw public key in hex: the key nodes are launched with
//   data.key      32-byte data key in hex (0600): every array key derives from it
//   admin.token   bearer token for the admin API (0600)
//   platform/     simulated-TEE root and chip keys, for nodes run by `local`
//
// Files are created once and never overwritten; secret files must not be
// readable by group or others.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSimChip, createSimRoot, saveSimPlatform } from '../attestation/sim-platform.ts';
import { CliError } from './cli-error.ts';

export interface KeyStore {
  dir: string;
  managerPrivateKey: KeyObject;
  managerPublicKey: Buffer;
  dataKey: Buffer;
  adminToken: string;
  platformDir: string;
}

const keyFileBytesMax = 4096;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readSecret(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new CliError(`${path} is missing; run \`teearray keygen --data-dir ${dir}\``);
  }
  if (!info.isFile() || info.size > keyFileBytesMax) throw new CliError(`${path} is not a key file`);
  if ((info.mode & 0o077) !== 0) throw new CliError(`${path} is readable by group or others; chmod 600 it`);
  return (await readFile(path, 'utf8')).trim();
}

/** Creates whatever keys are missing in `dir`; returns the names created. */
export async function generateKeys(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  const write = async (name: string, text: string, mode: number) => {
    await writeFile(join(dir, name), text, { mode, flag: 'wx' });
    created.push(name);
  };
  if (!(await exists(join(dir, 'manager.key')))) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    await write('manager.key', privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
    await write('manager.pub', publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex') + '\n', 0o644);
  }
  if (!(await exists(join(dir, 'data.key')))) await write('data.key', randomBytes(32).toString('hex') + '\n', 0o600);
  if (!(await exists(join(dir, 'admin.token')))) await write('admin.token', randomBytes(24).toString('base64url') + '\n', 0o600);
  if (!(await exists(join(dir, 'platform')))) {
    const root = createSimRoot();
    await saveSimPlatform(join(dir, 'platform'), { root, chip: createSimChip(root) });
    created.push('platform/');
  }
  return created;
}

export async function loadKeys(dir: string): Promise<KeyStore> {
  const pem = await readSecret(dir, 'manager.key');
  let managerPrivateKey: KeyObject;
  try {
    managerPrivateKey = createPrivateKey(pem);
  } catch {
    throw new CliError(`${join(dir, 'manager.key')} is not a PEM private key`);
  }
  if (managerPrivateKey.asymmetricKeyType !== 'ed25519') throw new CliError(`${join(dir, 'manager.key')} is not an Ed25519 key`);
  const dataKeyHex = await readSecret(dir, 'data.key');
  if (!/^[0-9a-f]{64}$/.test(dataKeyHex)) throw new CliError(`${join(dir, 'data.key')} must hold 64 hex digits`);
  const adminToken = await readSecret(dir, 'admin.token');
  if (adminToken.length < 16) throw new CliError(`${join(dir, 'admin.token')} must hold at least 16 characters`);
  const spki = createPublicKey(managerPrivateKey).export({ format: 'der', type: 'spki' });
  return {
    dir,
    managerPrivateKey,
    managerPublicKey: Buffer.from(spki.subarray(12)),
    dataKey: Buffer.from(dataKeyHex, 'hex'),
    adminToken,
    platformDir: join(dir, 'platform'),
  };
}
