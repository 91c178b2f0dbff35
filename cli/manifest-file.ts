// The reference values a manager trusts (attestation/manifest.ts): written by
// `keygen`/`local` for the built disk node, the simulated platform root and
// the manager's own key, and read back by `array` and `nbd`.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDigest } from '../attestation/measurement.ts';
import { formatManifest, parseManifest, type ReferenceManifest } from '../attestation/manifest.ts';
import { simPlatformName } from '../attestation/platform-name.ts';
import { loadSimRootPublicKey } from '../attestation/sim-platform.ts';
import { writeManifest } from '../attestation/reference-manifest.ts';
import { CliError } from './cli-error.ts';
import type { KeyStore } from './key-store.ts';
import { diskNodeBundlePath } from './paths.ts';

const manifestBytesMax = 64 * 1024;

/** The manifest for the disk node built in dist/, trusting this data dir's simulated platform. */
export async function localManifest(keys: KeyStore): Promise<ReferenceManifest> {
  let bundle: Buffer;
  try {
    bundle = await readFile(diskNodeBundlePath);
  } catch {
    throw new CliError(`${diskNodeBundlePath} is missing; run \`npm run build\``);
  }
  const pkg = JSON.parse(await readFile(join(diskNodeBundlePath, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return {
    platforms: [{ name: simPlatformName, roots: [await loadSimRootPublicKey(keys.platformDir)] }],
    builds: [{ name: 'disk-node', version: pkg.version, buildDigest: buildDigest(bundle) }],
    managerKeys: [keys.managerPublicKey],
  };
}

export async function saveManifest(path: string, manifest: ReferenceManifest): Promise<void> {
  await writeManifest(path, manifest);
}

export async function loadManifest(path: string): Promise<ReferenceManifest> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new CliError(`cannot read the manifest ${path}`);
  }
  if (text.length > manifestBytesMax) throw new CliError(`${path} is larger than ${manifestBytesMax} bytes`);
  return parseManifest(text);
}

export { formatManifest };
