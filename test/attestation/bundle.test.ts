// The disk-node bundle is byte-for-byte reproducible: the same tree gives the
// same bytes twice, and copies of the tree at different paths give the same
// bytes. Bundling problems surface as E_ATT_BUNDLE.
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleDiskNode, diskNodeEntry, repoRoot } from '../../attestation/disk-node-bundle.ts';
import { buildDigest } from '../../attestation/measurement.ts';
import { parseManifest } from '../../attestation/manifest.ts';
import { manifestForCurrentBuild, writeManifest } from '../../attestation/reference-manifest.ts';
import { copyBuildInputs, fixtureRoot, tempDir } from './bundle-tree.ts';

t.test('fixture tree: same bytes twice and from copies at two different paths', async (t) => {
  const inPlace = await bundleDiskNode({ root: fixtureRoot });
  const first = await tempDir(t, 'teearray-bundle-a-');
  const second = join(await tempDir(t, 'teearray-bundle-b-'), 'deeper', 'elsewhere');
  await copyBuildInputs(fixtureRoot, inPlace.metafile, first);
  await copyBuildInputs(fixtureRoot, inPlace.metafile, second);
  const a1 = await bundleDiskNode({ root: first });
  const a2 = await bundleDiskNode({ root: first });
  const b = await bundleDiskNode({ root: second });
  t.same(a2.bytes, a1.bytes, 'twice in one tree');
  t.same(b.bytes, a1.bytes, 'in a copy at another path');
  t.same(a1.buildDigest, buildDigest(a1.bytes));
  const text = new TextDecoder().decode(a1.bytes);
  t.notOk(text.includes(first) || text.includes(fixtureRoot) || text.includes(repoRoot), 'no absolute paths');
  t.match(text, '// node_modules/ws/lib/websocket.js', 'inputs are named relative to the tree');
  t.notMatch(text, /from ["']ws["']/, 'ws is inlined');
  t.match(text, 'process.getBuiltinModule(id)', 'require is limited to builtins');
});

const diskNodeWritten = existsSync(join(repoRoot, diskNodeEntry));
const skipUnlessWritten = { skip: diskNodeWritten ? false : `${diskNodeEntry} is not written yet` };

t.test('this repository: the disk node reproduces in place and from a copy', skipUnlessWritten, async (t) => {
  const inPlace = await bundleDiskNode();
  const again = await bundleDiskNode();
  t.same(again.bytes, inPlace.bytes);
  const copy = await tempDir(t, 'teearray-bundle-repo-');
  await copyBuildInputs(repoRoot, inPlace.metafile, copy);
  t.same((await bundleDiskNode({ root: copy })).bytes, inPlace.bytes);
});

t.test('bundling failures are E_ATT_BUNDLE and name the cause', async (t) => {
  await t.rejects(bundleDiskNode({ root: fixtureRoot, entry: 'disk-node/absent.ts' }), {
    code: 'E_ATT_BUNDLE',
    message: /absent\.ts/,
  });
  const broken = await tempDir(t, 'teearray-bundle-broken-');
  await mkdir(join(broken, 'disk-node'));
  await writeFile(join(broken, 'disk-node/main.ts'), "import { x } from './missing.ts';\nexport const y = x;\n");
  await t.rejects(bundleDiskNode({ root: broken }), { code: 'E_ATT_BUNDLE', message: /disk-node\/main\.ts:1: .*missing\.ts/ });
});

t.test('the reference manifest for a build names its digest and version and parses back', async (t) => {
  const root = await tempDir(t, 'teearray-manifest-build-');
  await copyBuildInputs(fixtureRoot, (await bundleDiskNode({ root: fixtureRoot })).metafile, root);
  await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'teearray', version: '9.8.7' }));
  const platforms = [{ name: 'sim-tee-v1', roots: [new Uint8Array(32).fill(1)] }];
  const managerKeys = [new Uint8Array(32).fill(2)];
  const manifest = await manifestForCurrentBuild({ root, platforms, managerKeys });
  t.same(manifest.builds, [{ name: 'disk-node', version: '9.8.7', buildDigest: (await bundleDiskNode({ root })).buildDigest }]);
  const path = join(root, 'reference-values.json');
  await writeManifest(path, manifest);
  t.same(parseManifest(await readFile(path, 'utf8')), { platforms, builds: manifest.builds, managerKeys });
});
