// The reference-values manifest: round trip through its JSON text, and strict
// refusal of anything else (unknown fields, bad hex, bounds, duplicates).
import t from 'tap';
import fc from 'fast-check';
import { formatManifest, parseManifest } from '../../attestation/manifest.ts';
import { isHardwarePlatform } from '../../attestation/platforms.ts';
import type { ReferenceManifest } from '../../attestation/manifest.ts';
import { manifestBytesMax, manifestBuildsMax } from '../../attestation/limits.ts';

const key = (fill: number) => new Uint8Array(32).fill(fill);
const sample: ReferenceManifest = {
  platforms: [
    { name: 'sim-tee-v1', roots: [key(1), key(2)] },
    { name: 'other-sim', roots: [key(3)] },
  ],
  builds: [{ name: 'disk-node', version: '0.1.0', buildDigest: key(4) }],
  managerKeys: [key(5)],
};

t.test('round trip through JSON text', async (t) => {
  const text = formatManifest(sample);
  t.same(parseManifest(text), sample);
  const { managerKeys: _unused, ...withoutManagers } = sample;
  t.same(parseManifest(formatManifest(withoutManagers)), withoutManagers);
  t.notOk('managerKeys' in parseManifest(formatManifest(withoutManagers)));
});

t.test('round trip over arbitrary manifests (fast-check)', async (t) => {
  const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const keys = (max: number) => fc.uniqueArray(key, { minLength: 1, maxLength: max, selector: (k) => Buffer.from(k).toString('hex') });
  const label = fc.stringMatching(/^[\x21-\x7e]{1,64}$/);
  const manifest = fc.record(
    {
      platforms: fc.uniqueArray(fc.record({ name: fc.stringMatching(/^[a-z0-9.-]{1,32}$/).filter((n) => !isHardwarePlatform(n)), roots: keys(4) }), {
        minLength: 1,
        maxLength: 4,
        selector: (p) => p.name,
      }),
      builds: fc.uniqueArray(fc.record({ name: label, version: label, buildDigest: key }), {
        minLength: 1,
        maxLength: 4,
        selector: (b) => Buffer.from(b.buildDigest).toString('hex'),
      }),
      managerKeys: keys(4),
    },
    { requiredKeys: ['platforms', 'builds'] },
  );
  fc.assert(fc.property(manifest, (m: ReferenceManifest) => t.same(parseManifest(formatManifest(m)), m)), { numRuns: 100 });
});

t.test('documented example parses', async (t) => {
  const text = JSON.stringify({
    format: 'teearray-reference-values-v1', // still read
    platforms: [{ name: 'sim-tee-v1', roots: ['01'.repeat(32)] }],
    builds: [{ name: 'disk-node', version: '0.1.0', buildDigest: 'ab'.repeat(32) }],
  });
  t.same(parseManifest(text).builds[0].buildDigest, new Uint8Array(32).fill(0xab));
});

t.test('refusals name the field', async (t) => {
  const good = JSON.parse(formatManifest(sample));
  const variant = (edit: (m: any) => void) => {
    const copy = structuredClone(good);
    edit(copy);
    return JSON.stringify(copy);
  };
  const cases: [string, string, RegExp][] = [
    ['not json', '{', /not JSON/],
    ['array', '[]', /manifest must be an object/],
    ['format', variant((m) => (m.format = 'v3')), /manifest\.format/],
    ['unknown top field', variant((m) => (m.extra = 1)), /manifest\.extra is not a known field/],
    ['missing builds', variant((m) => delete m.builds), /manifest\.builds is missing/],
    ['unknown platform field', variant((m) => (m.platforms[0].note = 'x')), /platforms\[0\]\.note/],
    ['platform name', variant((m) => (m.platforms[1].name = 'AWS')), /platforms\[1\]\.name/],
    ['duplicate platform', variant((m) => (m.platforms[1].name = 'sim-tee-v1')), /platforms name a platform twice/],
    ['no roots', variant((m) => (m.platforms[0].roots = [])), /platforms\[0\]\.roots must hold 1\.\./],
    ['short root', variant((m) => (m.platforms[0].roots[1] = '01'.repeat(31))), /platforms\[0\]\.roots\[1\]/],
    ['uppercase hex', variant((m) => (m.platforms[0].roots[1] = 'AB'.repeat(32))), /roots\[1\] must be 64 lowercase hex/],
    ['duplicate root', variant((m) => (m.platforms[0].roots[1] = m.platforms[0].roots[0])), /roots\[1\] is a duplicate/],
    ['number digest', variant((m) => (m.builds[0].buildDigest = 7)), /builds\[0\]\.buildDigest/],
    ['empty version', variant((m) => (m.builds[0].version = '')), /builds\[0\]\.version/],
    ['spaced name', variant((m) => (m.builds[0].name = 'disk node')), /builds\[0\]\.name/],
    ['long name', variant((m) => (m.builds[0].name = 'x'.repeat(65))), /builds\[0\]\.name/],
    ['duplicate build', variant((m) => m.builds.push({ ...m.builds[0], version: '2' })), /builds list a build digest twice/],
    ['empty managers', variant((m) => (m.managerKeys = [])), /managerKeys must hold 1\.\./],
    ['manager not a list', variant((m) => (m.managerKeys = m.managerKeys[0])), /managerKeys must be an array/],
    [
      'too many builds',
      variant((m) => (m.builds = Array.from({ length: manifestBuildsMax + 1 }, (_, i) => ({ name: 'b', version: `${i}`, buildDigest: i.toString(16).padStart(64, '0') })))),
      /builds must hold 1\.\.64 entries, has 65/,
    ],
    ['too large', `${formatManifest(sample)}${' '.repeat(manifestBytesMax)}`, /larger than 65536 bytes/],
  ];
  for (const [name, text, message] of cases) t.throws(() => parseManifest(text), { code: 'E_ATT_MANIFEST', message }, name);
});
