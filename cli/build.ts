// `npm run build` (also npm's prepare step): writes dist/disk-node.mjs, the
// measured disk-node artifact (byte-for-byte reproducible, see
// attestation/disk-node-bundle.ts), and dist/teearray.mjs, the CLI, with
// packages left as imports from node_modules, and dist/crypto-worker.mjs, its
// crypto pool's worker thread.
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
/** An ES module for Node.js with packages left as imports. */
const asModule = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' } as const;
await build({
  entryPoints: [join(repoRoot, 'cli', 'teearray.ts')],
  outfile: cli,
  ...asModule,
  banner: { js: '#!/usr/bin/env node' },
});
await chmod(cli, 0o755);
// The crypto pool's worker thread, which the CLI's CryptoPool finds beside it (crypto-pool.ts, defaultWorkerUrl).
const cryptoWorker = join(distDir, 'crypto-worker.mjs');
await build({
  entryPoints: [join(repoRoot, 'array-manager', 'crypto', 'crypto-worker.ts')],
  outfile: cryptoWorker,
  ...asModule,
});
process.stdout.write(`built ${diskNodeBundlePath} (build digest ${Buffer.from(buildDigest(node.bytes)).toString('hex')}), ${cli} and ${cryptoWorker}\n`);
