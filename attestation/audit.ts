// The audit report of the disk node: what an auditor must read and what they
// must trust. From one reproducible bundle (disk-node-bundle.ts) it lists the
// project's own source files in the bundle with their non-blank line counts
// against the promised bound, the Node builtins it uses, the optional
// modules it leaves out, the runtime dependency tree (walking the
// package.json of each bundled package and its declared dependencies, with
// versions, licenses and what was inlined), the build digest, and the
// measurement for a launch configuration when one is given.
// Trusts: the tree it is pointed at. Does not handle: reading the code for
// the auditor; type-only imports (erased, so not in the bundle) are not listed.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { Metafile } from 'esbuild';
import { toHex } from './bytes.ts';
import { bundleDiskNode, bundledPackageDir, diskNodeEntry, nodeModulesSegment, repoRoot } from './disk-node-bundle.ts';
import { checkLaunchConfig } from './launch-config.ts';
import { auditLinesMax } from './limits.ts';
import { measurement } from './measurement.ts';
import { platformTrust, type PlatformTrust } from './platform-audit.ts';
import type { LaunchConfig } from './provider.ts';

/** How a package got into the tree; 'undeclared' is bundled code no package.json on the way declares. */
export type DependencyRelation = 'dependency' | 'optional' | 'peer' | 'optional peer' | 'undeclared';

export interface AuditDependency {
  name: string;
  /** null when the package is not installed (an optional one left out). */
  version: string | null;
  license: string | null;
  relation: DependencyRelation;
  /** Bytes of this package's code inlined in the bundle (0: not bundled). */
  bundledBytes: number;
  dependencies: AuditDependency[];
}

export interface AuditReport {
  entry: string;
  sources: { path: string; lines: number }[];
  /** Non-blank lines over all sources. */
  totalLines: number;
  linesMax: number;
  withinBound: boolean;
  /** Node builtins the bundle imports or requires. */
  builtins: string[];
  /** Modules the bundle refers to but leaves out (ws's optional addons). */
  absent: string[];
  dependencies: AuditDependency[];
  bundleBytes: number;
  buildDigest: string;
  launchConfig?: { managerPublicKey: string; sectorBytes: number; sectorCount: number };
  measurement?: string;
  /** What each platform adds to the trusted code in the node's process (platform-audit.ts). */
  platforms: PlatformTrust[];
}

export function countNonBlankLines(text: string): number {
  return text.split(/\r?\n/).filter((line) => line.trim() !== '').length;
}

interface PackageJson {
  name?: string;
  version?: string;
  license?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** Node's lookup: <dir>/node_modules/<name>, then each parent directory's. */
function findPackage(fromDir: string, name: string): string | null {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

function declaredDependencies(pkg: PackageJson): { name: string; relation: DependencyRelation }[] {
  const out: { name: string; relation: DependencyRelation }[] = [];
  for (const name of Object.keys(pkg.dependencies ?? {})) out.push({ name, relation: 'dependency' });
  for (const name of Object.keys(pkg.optionalDependencies ?? {})) out.push({ name, relation: 'optional' });
  for (const name of Object.keys(pkg.peerDependencies ?? {})) {
    out.push({ name, relation: pkg.peerDependenciesMeta?.[name]?.optional ? 'optional peer' : 'peer' });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

interface TreeContext {
  /** Absolute package directory -> bytes of its code in the bundle. */
  bundledBytes: Map<string, number>;
  /** Package directories already placed in the tree. */
  seen: Set<string>;
}

function dependencyNode(
  ctx: TreeContext,
  absDir: string | null,
  name: string,
  relation: DependencyRelation,
  ancestors: Set<string>,
): AuditDependency {
  if (absDir === null) return { name, version: null, license: null, relation, bundledBytes: 0, dependencies: [] };
  ctx.seen.add(absDir);
  const pkg = JSON.parse(readFileSync(join(absDir, 'package.json'), 'utf8')) as PackageJson;
  const node: AuditDependency = {
    name,
    version: pkg.version ?? null,
    license: pkg.license ?? null,
    relation,
    bundledBytes: ctx.bundledBytes.get(absDir) ?? 0,
    dependencies: [],
  };
  // A dependency cycle is listed once; its repetition would add nothing.
  if (ancestors.has(absDir)) return node;
  const below = new Set(ancestors).add(absDir);
  node.dependencies = declaredDependencies(pkg).map((dep) =>
    dependencyNode(ctx, findPackage(absDir, dep.name), dep.name, dep.relation, below),
  );
  return node;
}

function packageName(dir: string): string {
  return dir.slice(dir.lastIndexOf(nodeModulesSegment) + nodeModulesSegment.length);
}

function dependencyTree(root: string, metafile: Metafile): AuditDependency[] {
  const output = Object.values(metafile.outputs)[0];
  const ctx: TreeContext = { bundledBytes: new Map(), seen: new Set() };
  const bundledNames = new Map<string, string>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const dir = bundledPackageDir(input);
    if (dir === null) continue;
    const absDir = resolve(root, dir);
    ctx.bundledBytes.set(absDir, (ctx.bundledBytes.get(absDir) ?? 0) + bytesInOutput);
    bundledNames.set(absDir, packageName(dir));
  }
  // The roots of the tree are the packages the project's own sources import.
  const direct = new Map<string, string>();
  for (const [input, { imports }] of Object.entries(metafile.inputs)) {
    if (bundledPackageDir(input) !== null) continue;
    for (const imported of imports) {
      const dir = imported.external ? null : bundledPackageDir(imported.path);
      if (dir !== null) direct.set(resolve(root, dir), packageName(dir));
    }
  }
  const tree = [...direct]
    .sort((a, b) => a[1].localeCompare(b[1]))
    .map(([absDir, name]) => dependencyNode(ctx, absDir, name, 'dependency', new Set()));
  // Every bundled package is listed, even one no package.json on the way declares.
  for (const [absDir, name] of bundledNames) {
    if (!ctx.seen.has(absDir)) tree.push(dependencyNode(ctx, absDir, name, 'undeclared', new Set()));
  }
  return tree;
}

function externals(metafile: Metafile): { builtins: string[]; absent: string[] } {
  const builtins = new Set<string>();
  const absent = new Set<string>();
  for (const { imports } of Object.values(metafile.inputs)) {
    for (const imported of imports) {
      if (!imported.external) continue;
      if (isBuiltin(imported.path)) builtins.add(imported.path.replace(/^node:/, ''));
      else absent.add(imported.path);
    }
  }
  return { builtins: [...builtins].sort(), absent: [...absent].sort() };
}

export interface AuditOptions {
  root?: string;
  entry?: string;
  /** When given, the report includes the measurement for this launch config. */
  config?: LaunchConfig;
  /** List what each platform adds (default true; a tree without the launcher and reporters says false). */
  platforms?: boolean;
}

export async function auditDiskNode(options: AuditOptions = {}): Promise<AuditReport> {
  const root = options.root ?? repoRoot;
  const entry = options.entry ?? diskNodeEntry;
  const bundle = await bundleDiskNode({ root, entry });
  const sourcePaths = Object.keys(bundle.metafile.inputs).filter((input) => bundledPackageDir(input) === null).sort();
  const sources = await Promise.all(
    sourcePaths.map(async (path) => ({ path, lines: countNonBlankLines(await readFile(join(root, path), 'utf8')) })),
  );
  const totalLines = sources.reduce((sum, s) => sum + s.lines, 0);
  const report: AuditReport = {
    entry,
    sources,
    totalLines,
    linesMax: auditLinesMax,
    withinBound: totalLines <= auditLinesMax,
    ...externals(bundle.metafile),
    dependencies: dependencyTree(root, bundle.metafile),
    bundleBytes: bundle.bytes.length,
    buildDigest: toHex(bundle.buildDigest),
    platforms: options.platforms === false ? [] : await platformTrust(sourcePaths, root),
  };
  if (options.config) {
    checkLaunchConfig(options.config);
    report.launchConfig = {
      managerPublicKey: toHex(options.config.managerPublicKey),
      sectorBytes: options.config.sectorBytes,
      sectorCount: options.config.sectorCount,
    };
    report.measurement = toHex(measurement(bundle.buildDigest, options.config));
  }
  return report;
}

function renderDependency(dep: AuditDependency, depth: number, lines: string[]): void {
  const relation = dep.relation === 'dependency' ? '' : ` (${dep.relation})`;
  const what =
    dep.version === null
      ? `${dep.name}${relation}: not installed`
      : `${dep.name}@${dep.version}${relation} license ${dep.license ?? 'unknown'}, ` +
        (dep.bundledBytes > 0 ? `${dep.bundledBytes} bytes bundled` : 'not bundled');
  lines.push(`${'  '.repeat(depth + 1)}${what}`);
  for (const child of dep.dependencies) renderDependency(child, depth + 1, lines);
}

export function renderAudit(report: AuditReport): string {
  const width = Math.max(...report.sources.map((s) => s.path.length), 5);
  const lines = [`disk-node audit: ${report.entry}`, '', 'Sources (non-blank lines):'];
  for (const source of report.sources) lines.push(`  ${source.path.padEnd(width)} ${String(source.lines).padStart(5)}`);
  const verdict = report.withinBound ? 'within' : 'OVER';
  lines.push(`  ${'total'.padEnd(width)} ${String(report.totalLines).padStart(5)}  (${verdict} the bound of ${report.linesMax})`, '');
  lines.push('Runtime dependencies:');
  if (report.dependencies.length === 0) lines.push('  none');
  for (const dep of report.dependencies) renderDependency(dep, 0, lines);
  lines.push(`Node builtins: ${report.builtins.join(', ') || 'none'}`);
  lines.push(`Left out (refused at run time): ${report.absent.join(', ') || 'none'}`, '');
  lines.push(`Bundle: ${report.bundleBytes} bytes`, `Build digest: ${report.buildDigest}`, '');
  lines.push('Each platform adds, in the node\'s process (launcher, evidence envelope, reporter; non-blank lines):');
  const fileWidth = Math.max(...report.platforms.flatMap((p) => p.files.map((f) => f.path.length)), 5);
  for (const p of report.platforms) {
    lines.push(`  --platform ${p.platform} (${p.attests}): ${p.totalLines} lines in ${p.files.length} files`);
    for (const f of p.files) lines.push(`    ${f.path.padEnd(fileWidth)} ${String(f.lines).padStart(5)}`);
    for (const o of p.outside) lines.push(`    and, outside this tree: ${o}`);
  }
  if (report.launchConfig && report.measurement) {
    const c = report.launchConfig;
    lines.push(`Launch config: manager ${c.managerPublicKey}, ${c.sectorCount} sectors of ${c.sectorBytes} bytes`);
    lines.push(`Measurement: ${report.measurement}`);
  }
  return `${lines.join('\n')}\n`;
}
