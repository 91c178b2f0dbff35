// The audit report on trees whose every line and package is known: non-blank
// line counts, what the bundle includes (only imported files), the
// dependency tree walked through package.json files (nested node_modules,
// optional peers, a bundled package nobody declares), builtins, the bound,
// and the measurement.
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { auditDiskNode, countNonBlankLines, renderAudit } from '../../attestation/audit.ts';
import { toHex } from '../../attestation/bytes.ts';
import { bundleDiskNode, diskNodeEntry, repoRoot } from '../../attestation/disk-node-bundle.ts';
import { measurement } from '../../attestation/measurement.ts';
import { tempDir } from './bundle-tree.ts';

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

const pkg = (fields: object) => JSON.stringify(fields);

// main.ts: 3 non-blank lines (blank, spaces-only, tab-only and CRLF lines around them).
// helper.ts: 2 non-blank lines. unused.ts is never imported, so it is not in the bundle.
const tree: Record<string, string> = {
  'disk-node/main.ts': "import { twice } from 'tiny-dep';\n\n   \n\t\nimport { one } from './helper.ts';\r\n\r\nexport const startDiskNode = () => twice(one);\n",
  'disk-node/helper.ts': '// one\nexport const one = 1;\n\n',
  'disk-node/unused.ts': 'export const never = 0;\n',
  'node_modules/tiny-dep/package.json': pkg({
    name: 'tiny-dep',
    version: '1.2.3',
    license: 'ISC',
    main: 'index.js',
    dependencies: { 'nested-dep': '0.0.1' },
    peerDependencies: { 'absent-peer': '*' },
    peerDependenciesMeta: { 'absent-peer': { optional: true } },
  }),
  'node_modules/tiny-dep/index.js':
    "const os = require('os');\nconst { inc } = require('nested-dep');\nconst { zero } = require('sneaky-dep');\n" +
    'module.exports = { twice: (x) => inc(inc(x)) + zero + os.EOL.length * 0 };\n',
  // Bundled through tiny-dep, which does not declare it: the audit must still list it.
  'node_modules/sneaky-dep/package.json': pkg({ name: 'sneaky-dep', version: '0.1.0', license: 'BSD-2-Clause', main: 'index.js' }),
  'node_modules/sneaky-dep/index.js': 'exports.zero = 0;\n',
  'node_modules/tiny-dep/node_modules/nested-dep/package.json': pkg({ name: 'nested-dep', version: '0.0.1', license: 'MIT', main: 'index.js' }),
  'node_modules/tiny-dep/node_modules/nested-dep/index.js': 'exports.inc = (x) => x + 1;\n',
};

t.test('countNonBlankLines', async (t) => {
  t.equal(countNonBlankLines(''), 0);
  t.equal(countNonBlankLines('\n\n \t \r\n'), 0);
  t.equal(countNonBlankLines('a'), 1);
  t.equal(countNonBlankLines('a\r\n\r\nb\n  c  \n'), 3);
});

t.test('audit of a known tree', async (t) => {
  const root = await tempDir(t, 'teearray-audit-');
  await writeTree(root, tree);
  const config = { managerPublicKey: new Uint8Array(32).fill(3), sectorBytes: 4096, sectorCount: 64 };
  const report = await auditDiskNode({ root, config, platforms: false });
  t.same(report.sources, [
    { path: 'disk-node/helper.ts', lines: 2 },
    { path: 'disk-node/main.ts', lines: 3 },
  ]);
  t.equal(report.totalLines, 5);
  t.equal(report.linesMax, 600);
  t.ok(report.withinBound);
  t.same(report.builtins, ['os']);
  t.same(report.absent, []);
  t.equal(report.dependencies.length, 2);
  const [dep, sneaky] = report.dependencies;
  t.match(sneaky, { name: 'sneaky-dep', version: '0.1.0', license: 'BSD-2-Clause', relation: 'undeclared', dependencies: [] });
  t.ok(sneaky.bundledBytes > 0);
  t.match(dep, { name: 'tiny-dep', version: '1.2.3', license: 'ISC', relation: 'dependency' });
  t.ok(dep.bundledBytes > 0);
  t.same(
    dep.dependencies.map((d) => [d.name, d.version, d.license, d.relation, d.bundledBytes > 0]),
    [
      ['absent-peer', null, null, 'optional peer', false],
      ['nested-dep', '0.0.1', 'MIT', 'dependency', true],
    ],
  );
  const bundle = await bundleDiskNode({ root });
  t.equal(report.buildDigest, toHex(bundle.buildDigest));
  t.equal(report.bundleBytes, bundle.bytes.length);
  t.equal(report.measurement, toHex(measurement(bundle.buildDigest, config)));
  t.same(report.launchConfig, { managerPublicKey: '03'.repeat(32), sectorBytes: 4096, sectorCount: 64 });

  const text = renderAudit(report);
  t.match(text, /disk-node\/main\.ts +3\n/);
  t.match(text, /total +5 +\(within the bound of 600\)/);
  t.match(text, '  tiny-dep@1.2.3 license ISC, ');
  t.match(text, '    absent-peer (optional peer): not installed');
  t.match(text, '    nested-dep@0.0.1 license MIT, ');
  t.match(text, '  sneaky-dep@0.1.0 (undeclared) license BSD-2-Clause, ');
  t.match(text, `Measurement: ${report.measurement}`);
  t.notMatch(text, 'unused.ts');
});

t.test('over the bound is reported, without a measurement when no config is given', async (t) => {
  const root = await tempDir(t, 'teearray-audit-big-');
  const body = Array.from({ length: 601 }, (_, i) => `export const v${i} = ${i};`).join('\n');
  await writeTree(root, { 'disk-node/main.ts': `${body}\nexport const startDiskNode = 0;\n` });
  const report = await auditDiskNode({ root, platforms: false });
  t.equal(report.totalLines, 602);
  t.notOk(report.withinBound);
  t.equal(report.measurement, undefined);
  t.same(report.dependencies, []);
  t.match(renderAudit(report), /total +602 +\(OVER the bound of 600\)/);
  await t.rejects(auditDiskNode({ root, platforms: false, config: { managerPublicKey: new Uint8Array(31), sectorBytes: 1, sectorCount: 1 } }), {
    code: 'E_ATT_CONFIG',
  });
});

t.test(
  'the real disk node stays within the audit bound',
  { skip: existsSync(join(repoRoot, diskNodeEntry)) ? false : `${diskNodeEntry} is not written yet` },
  async (t) => {
    const report = await auditDiskNode();
    t.ok(report.withinBound, `${report.totalLines} non-blank lines`);
    // DESIGN.md: no dependencies beyond the crypto and WebSocket libraries.
    const allowed = ['ws', '@noble/hashes', '@noble/curves', '@noble/ciphers'];
    t.ok(report.dependencies.every((d) => allowed.includes(d.name)), report.dependencies.map((d) => d.name).join(', '));
    t.ok(report.sources.every((s) => s.path.startsWith('disk-node/')), 'only disk-node sources are bundled');
    // What each platform adds: the launcher and envelope everywhere, each reporter only on its platform.
    t.same(report.platforms.map((p) => p.platform), ['sim', 'configfs-tsm', 'nitro']);
    const files = (name: string) => report.platforms.find((p) => p.platform === name)!.files.map((f) => f.path);
    for (const p of report.platforms) {
      t.ok(files(p.platform).includes('attestation/launch.ts') && files(p.platform).includes('attestation/evidence.ts'), `${p.platform}: launcher and envelope`);
      t.equal(p.totalLines, p.files.reduce((sum, f) => sum + f.lines, 0));
      t.ok(p.files.every((f) => !report.sources.some((s) => s.path === f.path)), `${p.platform}: no disk-node file counted twice`);
    }
    t.ok(files('configfs-tsm').includes('attestation/reporters/configfs-tsm.ts') && !files('configfs-tsm').includes('attestation/reporters/nitro-nsm.ts'));
    t.ok(files('nitro').includes('attestation/reporters/nitro-nsm.ts') && !files('nitro').includes('attestation/sim-report.ts'));
    t.ok(files('sim').includes('attestation/sim-report.ts') && !files('sim').some((f) => f.includes('/nitro/') || f.includes('/x509/')), 'no verifier code on a node');
    t.match(renderAudit(report), /--platform nitro \(aws-nitro-v1\): \d+ lines in \d+ files/);
  },
);
