// Helpers for the bundle tests: copy exactly what a bundle was built from
// (the project's source inputs and each bundled package's whole directory)
// into another tree, with node_modules at that tree's root.
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Test } from 'tap';
import type { Metafile } from 'esbuild';
import { bundledPackageDir, nodeModulesSegment } from '../../attestation/disk-node-bundle.ts';

export const fixtureRoot = resolve(import.meta.dirname, 'fixtures/tree');

export async function tempDir(t: Test, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function copyBuildInputs(sourceRoot: string, metafile: Metafile, targetRoot: string): Promise<void> {
  const packages = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const pkg = bundledPackageDir(input);
    if (pkg !== null) packages.add(pkg);
    else {
      await mkdir(dirname(join(targetRoot, input)), { recursive: true });
      await cp(join(sourceRoot, input), join(targetRoot, input));
    }
  }
  for (const pkg of packages) {
    const name = pkg.slice(pkg.lastIndexOf(nodeModulesSegment));
    await cp(join(sourceRoot, pkg), join(targetRoot, name), { recursive: true });
  }
}
