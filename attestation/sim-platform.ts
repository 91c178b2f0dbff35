// Keys of the simulated TEE platform. A root key plays the manufacturer: it
// certifies chip keys, and its public key is what manifests trust. A chip key
// plays the hardware: it signs each boot's evidence. Both can be saved to and
// loaded from a directory:
//   root.key   PKCS#8 PEM, the root's private key (keep it off node hosts)
//   root.pub   hex of the raw root public key and a newline (for manifests)
//   chip.key   PKCS#8 PEM, the chip's private key
//   chip.cert  the chip certificate (chip-cert.ts)
// Files are created with mode 0600 and never overwritten; private-key files
// readable by group or others are refused on load, like ssh does.
// Trusts: the directory's owner. Does not handle: key rotation, revocation.
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { equalBytes, fromHex, toHex } from './bytes.ts';
import { certifyChipKey, chipCertValid, decodeChipCert, encodeChipCert } from './chip-cert.ts';
import type { ChipCert } from './chip-cert.ts';
import { generateKeyPair, importPrivateKeyPem, rawPublicKey } from './ed25519.ts';
import { AttestationError } from './errors.ts';
import { keyFileBytesMax, publicKeyBytes } from './limits.ts';
import { simPlatformName } from './platform-name.ts';

export interface SimRoot {
  /** Secret. */
  privateKey: KeyObject;
  publicKey: Uint8Array;
}

export interface SimChip {
  /** Secret: signs evidence; only the provider uses it, at boot. */
  privateKey: KeyObject;
  cert: ChipCert;
}

export const simKeyFiles = { rootKey: 'root.key', rootPub: 'root.pub', chipKey: 'chip.key', chipCert: 'chip.cert' } as const;

export function createSimRoot(): SimRoot {
  return generateKeyPair();
}

/** A new chip key for `platform`, certified by `root`. */
export function createSimChip(root: SimRoot, platform: string = simPlatformName): SimChip {
  const chip = generateKeyPair();
  return { privateKey: chip.privateKey, cert: certifyChipKey(root, platform, chip.publicKey) };
}

function privateKeyPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

async function writeNewFile(dir: string, name: string, data: string | Uint8Array): Promise<void> {
  try {
    await writeFile(join(dir, name), data, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' ? 'already exists; refusing to overwrite a key' : `cannot be written (${code})`;
    throw new AttestationError('E_ATT_KEY_FILE', `${name} in ${dir} ${why}`, { cause: error });
  }
}

/** Saves the root (optional: a node host should not hold it) and the chip. */
export async function saveSimPlatform(dir: string, keys: { root?: SimRoot; chip: SimChip }): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (keys.root) {
    await writeNewFile(dir, simKeyFiles.rootKey, privateKeyPem(keys.root.privateKey));
    await writeNewFile(dir, simKeyFiles.rootPub, `${toHex(keys.root.publicKey)}\n`);
  }
  await writeNewFile(dir, simKeyFiles.chipKey, privateKeyPem(keys.chip.privateKey));
  await writeNewFile(dir, simKeyFiles.chipCert, encodeChipCert(keys.chip.cert));
}

async function readKeyFile(dir: string, name: string, secret: boolean): Promise<Uint8Array> {
  const path = join(dir, name);
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new AttestationError('E_ATT_KEY_FILE', `${path} is not a regular file`);
    if (info.size > keyFileBytesMax) throw new AttestationError('E_ATT_KEY_FILE', `${path} is larger than ${keyFileBytesMax} bytes`);
    if (secret && (info.mode & 0o077) !== 0) {
      throw new AttestationError('E_ATT_KEY_FILE', `${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    return new Uint8Array(await readFile(path));
  } catch (error) {
    if (error instanceof AttestationError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'is missing' : `cannot be read (${code})`;
    throw new AttestationError('E_ATT_KEY_FILE', `${path} ${why}`, { cause: error });
  }
}

async function readPrivateKey(dir: string, name: string): Promise<KeyObject> {
  const key = importPrivateKeyPem(Buffer.from(await readKeyFile(dir, name, true)).toString('utf8'));
  if (key === null) throw new AttestationError('E_ATT_KEY_FILE', `${join(dir, name)} is not a PKCS#8 PEM Ed25519 private key`);
  return key;
}

/** The root public key from root.pub, for manifests. */
export async function loadSimRootPublicKey(dir: string): Promise<Uint8Array> {
  const text = Buffer.from(await readKeyFile(dir, simKeyFiles.rootPub, false)).toString('utf8');
  const key = fromHex(text.replace(/\n$/, ''), publicKeyBytes);
  if (key === null) {
    throw new AttestationError('E_ATT_KEY_FILE', `${join(dir, simKeyFiles.rootPub)} must hold ${publicKeyBytes * 2} lowercase hex digits and a newline`);
  }
  return key;
}

export async function loadSimRoot(dir: string): Promise<SimRoot> {
  const privateKey = await readPrivateKey(dir, simKeyFiles.rootKey);
  const publicKey = await loadSimRootPublicKey(dir);
  if (!equalBytes(rawPublicKey(privateKey), publicKey)) {
    throw new AttestationError('E_ATT_KEY_FILE', `${simKeyFiles.rootPub} in ${dir} is not the public key of ${simKeyFiles.rootKey}`);
  }
  return { privateKey, publicKey };
}

export async function loadSimChip(dir: string): Promise<SimChip> {
  const privateKey = await readPrivateKey(dir, simKeyFiles.chipKey);
  const certPath = join(dir, simKeyFiles.chipCert);
  let cert: ChipCert;
  try {
    cert = decodeChipCert(await readKeyFile(dir, simKeyFiles.chipCert, false));
  } catch (error) {
    if (error instanceof AttestationError && error.code === 'E_ATT_FORMAT') {
      throw new AttestationError('E_ATT_KEY_FILE', `${certPath} is corrupt: ${error.message}`, { cause: error });
    }
    throw error;
  }
  if (!chipCertValid(cert)) throw new AttestationError('E_ATT_KEY_FILE', `${certPath}: the root's signature does not verify`);
  if (!equalBytes(rawPublicKey(privateKey), cert.chipPublicKey)) {
    throw new AttestationError('E_ATT_KEY_FILE', `${simKeyFiles.chipKey} in ${dir} is not the key ${simKeyFiles.chipCert} certifies`);
  }
  return { privateKey, cert };
}
