// Nitro reference values: a verified document matches an accepted image
// when every PCR the image lists is the document's; debug-mode documents
// are refused whatever their PCRs; and the manifest's JSON form is parsed
// as strictly as attestation/manifest.ts parses the rest.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { toHex } from '../../attestation/bytes.ts';
import { awsNitroRootG1Fingerprint } from '../../attestation/nitro/aws-nitro-root.ts';
import { checkNitroReference, nitroImagesMax, parseNitroReference } from '../../attestation/nitro/nitro-reference.ts';
import { verifyNitroEvidence } from '../../attestation/nitro/nitro-verifier.ts';

const pinned = { rootFingerprints: [new Uint8Array(Buffer.from(awsNitroRootG1Fingerprint, 'hex'))] };
const load = (file: string) => verifyNitroEvidence(new Uint8Array(readFileSync(new URL(`../vectors/nitro/${file}`, import.meta.url))), pinned);
// The one production-mode sample (PCR0..2 not zero).
const production = load('evervault-beta-2022-10-13.cbor');
const debug = load('evervault-debug-2022-10-12.cbor');
const hex = (name: string) => toHex(production.measurements[name]);
const other = 'ab'.repeat(48);

t.test('a real document matches an image of its own PCRs and no other', async (t) => {
  const own = parseNitroReference({ images: [{ pcr0: hex('pcr0'), pcr1: hex('pcr1'), pcr2: hex('pcr2'), pcr8: hex('pcr8') }] }, 'nitro');
  t.doesNotThrow(() => checkNitroReference(production, own));
  t.doesNotThrow(() => checkNitroReference(production, parseNitroReference({ images: [{ pcr0: hex('pcr0') }] }, 'nitro')), 'PCR0 alone');
  const second = parseNitroReference({ images: [{ pcr0: other }, { pcr0: hex('pcr0'), pcr2: hex('pcr2') }] }, 'nitro');
  t.doesNotThrow(() => checkNitroReference(production, second), 'the second image matches');

  const wrongPcr8 = parseNitroReference({ images: [{ pcr0: hex('pcr0'), pcr1: hex('pcr1'), pcr8: other }] }, 'nitro');
  t.throws(() => checkNitroReference(production, wrongPcr8), { code: 'E_ATT_MEASUREMENT', message: /image 0: pcr8\)/ });
  const neither = parseNitroReference({ images: [{ pcr0: other }, { pcr0: hex('pcr0'), pcr1: other, pcr2: other }] }, 'nitro');
  t.throws(() => checkNitroReference(production, neither), { code: 'E_ATT_MEASUREMENT', message: /image 0: pcr0; image 1: pcr1, pcr2/ });
  // A PCR the document does not have (it has pcr0..pcr15) never matches.
  const absent = parseNitroReference({ images: [{ pcr0: hex('pcr0'), pcr20: other }] }, 'nitro');
  t.throws(() => checkNitroReference(production, absent), { code: 'E_ATT_MEASUREMENT', message: /pcr20/ });
  // The same value at a 32-byte PCR is not equal to a 48-byte reference.
  const short = { ...production, measurements: { ...production.measurements, pcr0: production.measurements.pcr0.subarray(0, 32) } };
  t.throws(() => checkNitroReference(short, parseNitroReference({ images: [{ pcr0: hex('pcr0') }] }, 'nitro')), { code: 'E_ATT_MEASUREMENT' });
});

t.test('a real debug-mode document is refused by policy, even against its own (zero) PCRs', async (t) => {
  t.equal(debug.debug, true);
  const zeros = '00'.repeat(48);
  t.throws(() => checkNitroReference(debug, parseNitroReference({ images: [{ pcr0: zeros, pcr1: zeros, pcr2: zeros }] }, 'nitro')), {
    code: 'E_ATT_POLICY',
  });
  t.throws(() => checkNitroReference(debug, parseNitroReference({ images: [{ pcr0: zeros }], allowDebug: false }, 'nitro')), { code: 'E_ATT_POLICY' });
});

t.test('parseNitroReference keeps what it reads', async (t) => {
  const reference = parseNitroReference({ images: [{ pcr0: '01'.repeat(48), pcr31: '02'.repeat(48) }], allowDebug: false }, 'platforms[1].nitro');
  t.same(reference, { images: [{ pcr0: new Uint8Array(48).fill(1), pcr31: new Uint8Array(48).fill(2) }], allowDebug: false });
  t.notOk('allowDebug' in parseNitroReference({ images: [{ pcr0: other }] }, 'nitro'));
  const most = Array.from({ length: nitroImagesMax }, (_, i) => ({ pcr0: i.toString(16).padStart(96, '0') }));
  t.equal(parseNitroReference({ images: most }, 'nitro').images.length, nitroImagesMax);
});

t.test('parseNitroReference refuses, naming the field', async (t) => {
  const image = { pcr0: other };
  const cases: Array<[unknown, RegExp]> = [
    [null, /^E_ATT_MANIFEST: nitro must be an object$/],
    [[], /nitro must be an object/],
    [{}, /nitro\.images is missing/],
    [{ images: [image], extra: 1 }, /nitro\.extra is not a known field/],
    [{ images: [image], allowDebug: true }, /nitro\.allowDebug must be false/],
    [{ images: [image], allowDebug: 'false' }, /nitro\.allowDebug must be false/],
    [{ images: image }, /nitro\.images must be an array/],
    [{ images: [] }, /nitro\.images must hold 1\.\.64 entries, has 0/],
    [{ images: Array.from({ length: nitroImagesMax + 1 }, (_, i) => ({ pcr0: i.toString(16).padStart(96, '0') })) }, /must hold 1\.\.64 entries, has 65/],
    [{ images: [null] }, /nitro\.images\[0\] must be an object/],
    [{ images: [{ pcr1: other }] }, /nitro\.images\[0\]\.pcr0 is missing/],
    [{ images: [{ pcr0: other, pcr32: other }] }, /nitro\.images\[0\]\.pcr32 is not a known field/],
    [{ images: [{ pcr0: other, PCR1: other }] }, /nitro\.images\[0\]\.PCR1 is not a known field/],
    [{ images: [{ pcr0: other, pcr01: other }] }, /nitro\.images\[0\]\.pcr01 is not a known field/],
    [{ images: [{ pcr0: other.toUpperCase() }] }, /nitro\.images\[0\]\.pcr0 must be 96 lowercase hex digits/],
    [{ images: [{ pcr0: other.slice(2) }] }, /pcr0 must be 96 lowercase hex digits/],
    [{ images: [{ pcr0: `${other}ab` }] }, /pcr0 must be 96 lowercase hex digits/],
    [{ images: [{ pcr0: 'ab'.repeat(32) }] }, /pcr0 must be 96 lowercase hex digits/],
    [{ images: [{ pcr0: 1 }] }, /pcr0 must be 96 lowercase hex digits/],
    [{ images: [image, { pcr0: hex('pcr0') }, { ...image }] }, /nitro\.images\[2\] is a duplicate/],
  ];
  for (const [json, message] of cases) {
    t.throws(() => parseNitroReference(json, 'nitro'), { code: 'E_ATT_MANIFEST', message }, JSON.stringify(json)?.slice(0, 80));
  }
});
