// TDX reference values: which verified claims a manifest's images accept,
// and the strict parser of the manifest's TDX section.
import t from 'tap';
import { toHex } from '../../attestation/bytes.ts';
import { intelSgxRootCaFingerprint } from '../../attestation/tdx/intel-sgx-root.ts';
import { checkTdxReference, parseTdxReference, tdxReferenceImagesMax } from '../../attestation/tdx/tdx-reference.ts';
import type { TdxReference } from '../../attestation/tdx/tdx-reference.ts';
import { verifyTdxEvidence } from '../../attestation/tdx/tdx-verifier.ts';
import { exactQuote, pemBlocks, realVectors, syntheticQuote, syntheticRootFingerprint, upstreamBytes } from './tdx-support.ts';

const when = new Date('2026-01-01T00:00:00Z');
const claims = verifyTdxEvidence(exactQuote(upstreamBytes(realVectors[0].file)), { at: when, rootFingerprints: [intelSgxRootCaFingerprint] });
const m = claims.measurements;
const other = (value: Uint8Array) => value.map((b, i) => (i === 0 ? b ^ 1 : b));

/** The least an image lists: the firmware (MRTD) and the kernel, initrd and command line (RTMR1, RTMR2). */
const img = { mrtd: m.mrtd, rtmr1: m.rtmr1, rtmr2: m.rtmr2 };

t.test('an image matches when every value it lists equals the claim', async (t) => {
  t.doesNotThrow(() => checkTdxReference(claims, { images: [img] }));
  t.doesNotThrow(() => checkTdxReference(claims, { images: [{ ...img, rtmr0: m.rtmr0, rtmr3: m.rtmr3, mrconfigid: m.mrconfigid }] }));
  t.doesNotThrow(() => checkTdxReference(claims, { images: [{ ...img, mrtd: other(m.mrtd) }, img], allowDebug: false }));
});

t.test('MRTD, an RTMR or MRCONFIGID not in the reference is refused, naming them', async (t) => {
  t.throws(() => checkTdxReference(claims, { images: [{ ...img, mrtd: other(m.mrtd) }] }), {
    code: 'E_ATT_MEASUREMENT',
    message: new RegExp(`image 0 differs in mrtd\\).*mrtd=${toHex(m.mrtd)}`),
  });
  for (const field of ['rtmr0', 'rtmr1', 'rtmr2', 'rtmr3', 'mrconfigid'] as const) {
    t.throws(() => checkTdxReference(claims, { images: [{ ...img, [field]: other(m[field]) }] }), {
      code: 'E_ATT_MEASUREMENT',
      message: new RegExp(`image 0 differs in ${field}\\b`),
    });
  }
  t.throws(() => checkTdxReference(claims, { images: [{ ...img, mrtd: other(m.mrtd) }, { ...img, rtmr1: other(m.rtmr1) }] }), {
    code: 'E_ATT_MEASUREMENT',
    message: /image 0 differs in mrtd; image 1 differs in rtmr1/,
  });
});

t.test('a migratable TD is refused unless the reference allows it', async (t) => {
  // TDATTRIBUTES is little-endian: bit 29 (MIGRATABLE) is bit 5 of byte 3.
  const attributes = Buffer.from(claims.details.tdAttributes as string, 'hex');
  t.equal(attributes[3] & 0x20, 0, 'the real TD is not migratable');
  attributes[3] |= 0x20;
  const migratable = { ...claims, details: { ...claims.details, tdAttributes: attributes.toString('hex') } };
  t.throws(() => checkTdxReference(migratable, { images: [img] }), { code: 'E_ATT_POLICY', message: /MIGRATABLE/ });
  t.doesNotThrow(() => checkTdxReference(migratable, { images: [img], allowMigratable: true }));
  t.same(parseTdxReference({ images: [{ mrtd: toHex(m.mrtd), rtmr1: toHex(m.rtmr1), rtmr2: toHex(m.rtmr2) }], allowMigratable: true }, 'tdx').allowMigratable, true);
});

t.test('a debug TD is refused by policy even when its image is listed', async (t) => {
  const quote = syntheticQuote('debug');
  const leaf = pemBlocks(quote)[0].cert;
  const debug = verifyTdxEvidence(quote, { at: new Date(new Date(leaf.validFrom).getTime() + 3_600_000), rootFingerprints: [syntheticRootFingerprint] });
  t.equal(debug.debug, true);
  const d = debug.measurements;
  const reference: TdxReference = { images: [{ mrtd: d.mrtd, rtmr0: d.rtmr0, rtmr1: d.rtmr1, rtmr2: d.rtmr2 }] };
  t.throws(() => checkTdxReference(debug, reference), { code: 'E_ATT_POLICY', message: /debug/ });
  t.throws(() => checkTdxReference(debug, { ...reference, allowDebug: false }), { code: 'E_ATT_POLICY' });
  t.doesNotThrow(() => checkTdxReference({ ...debug, debug: false }, reference), 'the same claims without debug match');
});

const hex48 = (fill: string) => fill.repeat(96);

const boot = { rtmr1: hex48('1'), rtmr2: hex48('2') };
const bootBytes = { rtmr1: new Uint8Array(48).fill(0x11), rtmr2: new Uint8Array(48).fill(0x22) };

t.test('parseTdxReference reads a reference', async (t) => {
  const reference = parseTdxReference(
    { images: [{ mrtd: hex48('a'), rtmr0: hex48('b'), ...boot, mrconfigid: hex48('0') }, { mrtd: hex48('c'), ...boot }], allowDebug: false },
    'platforms[2].tdx',
  );
  t.same(reference, {
    images: [
      { mrtd: new Uint8Array(48).fill(0xaa), rtmr0: new Uint8Array(48).fill(0xbb), ...bootBytes, mrconfigid: new Uint8Array(48) },
      { mrtd: new Uint8Array(48).fill(0xcc), ...bootBytes },
    ],
    allowDebug: false,
  });
  t.notOk('allowDebug' in parseTdxReference({ images: [{ mrtd: hex48('a'), ...boot }] }, 'tdx'));
  t.notOk('rtmr0' in parseTdxReference({ images: [{ mrtd: hex48('a'), ...boot }] }, 'tdx').images[0]);
  // What the parser reads, the checker applies.
  const real = parseTdxReference({ images: [{ mrtd: toHex(m.mrtd), rtmr1: toHex(m.rtmr1), rtmr2: toHex(m.rtmr2), rtmr3: toHex(m.rtmr3) }] }, 'tdx');
  t.doesNotThrow(() => checkTdxReference(claims, real));
});

t.test('parseTdxReference refuses anything else, naming the field', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /^E_ATT_MANIFEST: tdx must be an object/],
    [[], /^E_ATT_MANIFEST: tdx must be an object/],
    [{}, /tdx\.images is missing/],
    [{ images: [], extra: 1 }, /tdx\.extra is not a known field/],
    [{ images: {} }, /tdx\.images must be an array/],
    [{ images: [] }, /tdx\.images must hold 1\.\.64 entries, has 0/],
    [{ images: Array.from({ length: tdxReferenceImagesMax + 1 }, (_, i) => ({ mrtd: i.toString(16).padStart(96, '0'), ...boot })) }, /must hold 1\.\.64 entries, has 65/],
    [{ images: [{}] }, /tdx\.images\[0\]\.mrtd is missing/],
    [{ images: [{ mrtd: hex48('a') }] }, /tdx\.images\[0\]\.rtmr1 is missing/],
    [{ images: [{ mrtd: hex48('a'), rtmr1: hex48('1') }] }, /tdx\.images\[0\]\.rtmr2 is missing/],
    [{ images: [{ mrtd: hex48('a'), ...boot }], allowMigratable: 'yes' }, /tdx\.allowMigratable must be true or false/],
    [{ images: [{ mrtd: hex48('a'), ...boot, rtmr4: hex48('a') }] }, /tdx\.images\[0\]\.rtmr4 is not a known field/],
    [{ images: [{ mrtd: hex48('A'), ...boot }] }, /tdx\.images\[0\]\.mrtd must be 96 lowercase hex digits/],
    [{ images: [{ mrtd: 'aa'.repeat(47), ...boot }] }, /tdx\.images\[0\]\.mrtd must be 96 lowercase hex digits/],
    [{ images: [{ mrtd: 'aa'.repeat(49), ...boot }] }, /tdx\.images\[0\]\.mrtd must be 96/],
    [{ images: [{ mrtd: 7, ...boot }] }, /tdx\.images\[0\]\.mrtd must be 96/],
    [{ images: [{ mrtd: hex48('a'), ...boot, rtmr2: null }] }, /tdx\.images\[0\]\.rtmr2 must be 96/],
    [{ images: [{ mrtd: hex48('a'), ...boot, rtmr2: hex48('g') }] }, /tdx\.images\[0\]\.rtmr2 must be 96/],
    [{ images: [{ mrtd: hex48('a'), ...boot }, { mrtd: hex48('a'), ...boot }] }, /tdx\.images\[1\] is a duplicate/],
    [{ images: [{ mrtd: hex48('a'), ...boot }], allowDebug: true }, /tdx\.allowDebug must be false/],
    [{ images: [{ mrtd: hex48('a'), ...boot }], allowDebug: 'false' }, /tdx\.allowDebug must be false/],
  ];
  for (const [json, message] of cases) t.throws(() => parseTdxReference(json, 'tdx'), { code: 'E_ATT_MANIFEST', message }, JSON.stringify(json)?.slice(0, 80));
  // Same MRTD, different RTMRs: two images, not a duplicate.
  t.doesNotThrow(() => parseTdxReference({ images: [{ mrtd: hex48('a'), ...boot }, { mrtd: hex48('a'), ...boot, rtmr0: hex48('b') }] }, 'tdx'));
});
