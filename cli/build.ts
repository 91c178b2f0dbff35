// `npm run build` (also npm's prepare step): writes dist/disk-node.mjs, the
// measured disk-node artifact (byte-for-byte reproducible, see
// attestation/disk-node-bundle.ts), and dist/teearray.mjs, the CLI, with
// packages left as imports from node_modules.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { bundleDiskNode, repoRoot } from '../attestation/disk-node-bundle.ts';
import { buildDigest } from '../attestation/measurement.ts';
import { diskNodeBundlePath, distDir } from './paths.ts';

await mkdir(distDir, { recursive: true });
const node = await bundleDiskNode();
await writeFile(diskNodeBundlePath, node.bytes);
const cli = join(distDir, 'teearray.mjs');
await build({
  entryPoints: [join(repoRoot, 'cli', 'teearray.ts')],
  outfile: cli,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
await chmod(cli, 0o755);
process.stdout.write(`built ${diskNodeBundlePath} (build digest ${Buffer.from(buildDigest(node.bytes)).toString('hex')}) and ${cli}\n`);
