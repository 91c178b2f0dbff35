// Builds the disk-node bundle: disk-node/main.ts and everything it imports
// (ws and the @noble packages inlined) as one ESM file whose SHA-256 is the
// build digest. The recipe is fixed here so that anyone with the same tree
// and the same node_modules (npm ci from package-lock.json; esbuild is
// pinned) gets the same bytes: paths in the output are relative to the tree
// root, esbuild writes no timestamps, and the TypeScript settings are given
// inline so no tsconfig.json outside the recipe can change the output.
// The bundle loads nothing from outside itself except Node builtins: a
// banner defines the `require` that esbuild's CommonJS wrappers call (ws is
// CommonJS) as a lookup of builtins only, so ws's optional native addons
// (bufferutil, utf-8-validate) are left out and ws falls back to its JS code.
// Not handled: signing the bundle, or pinning Node itself (the runtime is
// part of the platform image, not of this measurement).
import type { Metafile } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { AttestationError } from './errors.ts';
import { buildDigest } from './measurement.ts';

/** Entry point of the disk node, relative to the tree root. */
export const diskNodeEntry = 'disk-node/main.ts';

/** The repository this module lives in. */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

// ws's optional native addons: never bundled, and refused by the banner's
// `require` at run time, which ws catches before using its JS fallback.
const absentOptionalModules = ['bufferutil', 'utf-8-validate'];

// process.getBuiltinModule returns builtins only (Node >= 20.16); a data: URL
// module has no path to resolve anything else from, and should not.
const requireBanner = [
  '// Node builtins are the only modules this bundle loads from outside itself.',
  'const require = (id) => {',
  '  const m = process.getBuiltinModule(id);',
  '  if (m === undefined) throw new Error(`module "${id}" is not part of the disk-node bundle`);',
  '  return m;',
  '};',
].join('\n');

export interface DiskNodeBundle {
  bytes: Uint8Array;
  buildDigest: Uint8Array;
  /** esbuild's record of every input and import, paths relative to the tree root. */
  metafile: Metafile;
}

export interface BundleOptions {
  /** Tree root holding the entry and node_modules (default: this repository). */
  root?: string;
  /** Entry point relative to root (default: disk-node/main.ts). */
  entry?: string;
}

export const nodeModulesSegment = 'node_modules/';

/** "node_modules/@noble/hashes/sha2.js" -> its package directory "node_modules/@noble/hashes". */
export function bundledPackageDir(input: string): string | null {
  const at = input.lastIndexOf(nodeModulesSegment);
  if (at < 0) return null;
  const rest = input.slice(at + nodeModulesSegment.length).split('/');
  const nameParts = rest[0].startsWith('@') ? 2 : 1;
  return input.slice(0, at + nodeModulesSegment.length) + rest.slice(0, nameParts).join('/');
}

/**
 * esbuild is a development dependency: loaded only when a bundle is built
 * (npm run build, teearray audit), so a CLI installed without it still runs.
 */
export async function loadEsbuild(): Promise<typeof import('esbuild')> {
  try {
    return await import('esbuild');
  } catch (error) {
    throw new AttestationError('E_ATT_BUNDLE', 'building the disk node needs esbuild: run `npm ci` (it is a development dependency)', { cause: error });
  }
}

export async function bundleDiskNode(options: BundleOptions = {}): Promise<DiskNodeBundle> {
  const root = options.root ?? repoRoot;
  const entry = options.entry ?? diskNodeEntry;
  let result;
  try {
    result = await (await loadEsbuild()).build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile: 'disk-node.mjs',
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      banner: { js: requireBanner },
      external: absentOptionalModules,
      metafile: true,
      sourcemap: false,
      minify: false,
      charset: 'utf8',
      legalComments: 'eof',
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true, strict: true } },
      logLevel: 'silent',
    });
  } catch (error) {
    const errors = (error as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const detail = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)).join('; ');
    throw new AttestationError('E_ATT_BUNDLE', `cannot bundle ${entry} in ${root}: ${detail || String(error)}`, { cause: error });
  }
  const bytes = result.outputFiles[0].contents;
  return { bytes, buildDigest: buildDigest(bytes), metafile: result.metafile };
}
