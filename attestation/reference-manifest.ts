// Writes the reference-values manifest for the current disk-node build: the
// CLI's way to publish what verifiers should accept. It rebuilds the bundle
// (so the digest is of this tree's code), names it after package.json's
// version, and takes the trusted roots and optional manager keys from the
// caller. Output is the text parseManifest accepts (manifest.ts).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleDiskNode, repoRoot } from './disk-node-bundle.ts';
import { formatManifest } from './manifest.ts';
import type { ManifestPlatform, ReferenceManifest } from './manifest.ts';

export interface CurrentBuildManifestOptions {
  platforms: ManifestPlatform[];
  managerKeys?: Uint8Array[];
  /** Tree to build (default: this repository). */
  root?: string;
}

export async function manifestForCurrentBuild(options: CurrentBuildManifestOptions): Promise<ReferenceManifest> {
  const root = options.root ?? repoRoot;
  const { buildDigest } = await bundleDiskNode({ root });
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version?: unknown };
  const version = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  const manifest: ReferenceManifest = { platforms: options.platforms, builds: [{ name: 'disk-node', version, buildDigest }] };
  if (options.managerKeys) manifest.managerKeys = options.managerKeys;
  return manifest;
}

/** Writes `manifest` as JSON text (checked by parsing it back). */
export async function writeManifest(path: string, manifest: ReferenceManifest): Promise<void> {
  await writeFile(path, formatManifest(manifest), { mode: 0o644 });
}
