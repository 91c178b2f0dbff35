// Part of `npm run build`: bundles the vault library into dist/vault.mjs, the
// file behind `import ... from 'teearray/vault'` (package.json "exports";
// its types are the sources, vault/index.ts). Packages stay imports.
import { join } from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from '../attestation/disk-node-bundle.ts';
import { distDir } from '../cli/paths.ts';

const outfile = join(distDir, 'vault.mjs');
await build({
  entryPoints: [join(repoRoot, 'vault', 'index.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
process.stdout.write(`built ${outfile}\n`);
