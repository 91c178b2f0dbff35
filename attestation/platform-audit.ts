// What each platform adds to the disk node's trusted code. The disk-node
// bundle is the same on every platform; next to it, in the node's process,
// run the launcher (it measures and loads the bundle), the evidence envelope
// and the platform's reporter. This lists, per platform, the project's source
// files those modules load (found by esbuild from the modules below, so the
// list follows the imports as they are), with non-blank line counts, minus
// the files already in the disk-node bundle, and what runs outside this tree.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { countNonBlankLines } from './audit.ts';
import { AttestationError } from './errors.ts';
import { loadEsbuild, repoRoot } from './disk-node-bundle.ts';

export interface PlatformTrust {
  /** The --platform name of `teearray disk-node`. */
  platform: string;
  /** What attests: the evidence's platform names. */
  attests: string;
  files: { path: string; lines: number }[];
  totalLines: number;
  /** Trusted code this tree does not hold. */
  outside: string[];
}

/** The modules each platform's node process loads besides the disk-node bundle. */
const platformModules: { platform: string; attests: string; modules: string[]; outside: string[] }[] = [
  {
    platform: 'sim',
    attests: 'sim-tee-v1 (simulated: protects nothing from the host)',
    modules: ['attestation/launch.ts', 'attestation/sim-provider.ts', 'attestation/sim-platform.ts'],
    outside: [],
  },
  {
    platform: 'configfs-tsm',
    attests: 'amd-sev-snp-v1, intel-tdx-v1',
    modules: ['attestation/launch.ts', 'attestation/reporters/configfs-tsm.ts'],
    outside: ['the guest kernel\'s configfs-tsm and sev-guest/tdx-guest drivers (measured with the image)'],
  },
  {
    platform: 'nitro',
    attests: 'aws-nitro-v1',
    modules: ['attestation/launch.ts', 'attestation/reporters/nitro-nsm.ts'],
    outside: ['the NSM helper program (teearray-nsm-attest, built from aws-nitro-enclaves-nsm-api; measured into PCR2 with the image)'],
  },
];

/** The project's own source files `modules` load, relative to `root` (packages are not the project's; the audit lists them). */
async function sourcesOf(root: string, modules: string[]): Promise<string[]> {
  const esbuild = await loadEsbuild();
  try {
    const result = await esbuild.build({
      absWorkingDir: root,
      stdin: { contents: modules.map((m) => `import './${m}';`).join('\n'), resolveDir: root, loader: 'ts', sourcefile: 'platform-entry.ts' },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      packages: 'external',
      metafile: true,
      logLevel: 'silent',
    });
    return Object.keys(result.metafile.inputs).filter((input) => input !== 'platform-entry.ts').sort();
  } catch (error) {
    throw new AttestationError('E_ATT_BUNDLE', `cannot follow the imports of ${modules.join(', ')}: ${(error as Error).message}`, { cause: error });
  }
}

/** Per platform, the files it adds to the `bundled` disk-node sources. */
export async function platformTrust(bundled: string[], root: string = repoRoot): Promise<PlatformTrust[]> {
  const inBundle = new Set(bundled);
  return Promise.all(
    platformModules.map(async ({ platform, attests, modules, outside }) => {
      const paths = (await sourcesOf(root, modules)).filter((path) => !inBundle.has(path));
      const files = await Promise.all(paths.map(async (path) => ({ path, lines: countNonBlankLines(await readFile(join(root, path), 'utf8')) })));
      return { platform, attests, files, totalLines: files.reduce((sum, f) => sum + f.lines, 0), outside };
    }),
  );
}
