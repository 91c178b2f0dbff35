// Where the built artifacts live: dist/ beside the sources (npm's prepare
// step builds them), whether the CLI runs from dist/ or from source.
import { join } from 'node:path';
import { repoRoot } from '../attestation/disk-node-bundle.ts';

export const distDir = join(repoRoot, 'dist');
/** The measured disk-node artifact that nodes run. */
export const diskNodeBundlePath = join(distDir, 'disk-node.mjs');
