// The AWS Nitro verifier against real attestation documents published as
// test data (test/vectors/README.md, "AWS Nitro"): each is accepted as of
// its own timestamp and refused at any time its 3-hour leaf certificate was
// not valid; the pinned AWS root is cabundle[0] of every one; and any
// change to a document (a bit flip anywhere, a truncation, extra bytes) is
// refused with a typed error.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decode } from 'cborg';
import { AttestationError, type AttestationErrorCode } from '../../attestation/errors.ts';
import { awsNitroRootG1Fingerprint, awsNitroRootG1Pem } from '../../attestation/nitro/aws-nitro-root.ts';
import { verifyNitroEvidence } from '../../attestation/nitro/nitro-verifier.ts';
import { syntheticRootFingerprint } from '../vectors/nitro/synthetic/build-document.ts';

const awsRoot = new Uint8Array(Buffer.from(awsNitroRootG1Fingerprint, 'hex'));
const pinned = { rootFingerprints: [awsRoot] };

interface Sample {
  file: string;
  timestamp: string;
  debug: boolean;
  userData: number | 'absent';
  nonce: number | 'absent';
  publicKey: number | 'absent';
}
// What each document says, read independently of the verifier (openssl and a
// CBOR dump when the vectors were added; test/vectors/README.md).
const samples: Sample[] = [
  { file: 'evervault-debug-2022-10-12.cbor', timestamp: '2022-10-12T13:50:06.081Z', debug: true, userData: 13, nonce: 'absent', publicKey: 19 },
  { file: 'evervault-beta-2022-10-13.cbor', timestamp: '2022-10-13T08:58:02.136Z', debug: false, userData: 'absent', nonce: 256, publicKey: 'absent' },
  { file: 'evervault-ga-2023-09-18.cbor', timestamp: '2023-09-18T15:03:30.860Z', debug: true, userData: 91, nonce: 256, publicKey: 'absent' },
  { file: 'eternis-2024-09-09.cbor', timestamp: '2024-09-09T19:49:12.400Z', debug: true, userData: 68, nonce: 20, publicKey: 5 },
];
const load = (file: string) => new Uint8Array(readFileSync(new URL(`../vectors/nitro/${file}`, import.meta.url)));

/** The document's payload map and its leaf certificate, read with cborg directly. */
function inside(doc: Uint8Array): { payload: Map<string, unknown>; leaf: X509Certificate } {
  const cose = decode(doc, { useMaps: true }) as [Uint8Array, unknown, Uint8Array, Uint8Array];
  const payload = decode(cose[2], { useMaps: true }) as Map<string, unknown>;
  return { payload, leaf: new X509Certificate(payload.get('certificate') as Uint8Array) };
}

function refusedWith(t: Test, fn: () => unknown, code: AttestationErrorCode, name: string): void {
  try {
    fn();
    t.fail(`${name}: accepted`);
  } catch (error) {
    t.ok(error instanceof AttestationError, `${name}: typed error`);
    t.equal((error as AttestationError).code, code, `${name}: ${(error as Error).message}`);
  }
}

t.test('the pinned root is AWS_NitroEnclaves_Root-G1 and cabundle[0] of every sample', async (t) => {
  const root = new X509Certificate(awsNitroRootG1Pem);
  t.equal(createHash('sha256').update(root.raw).digest('hex'), awsNitroRootG1Fingerprint);
  t.match(root.subject, /CN=aws\.nitro-enclaves/);
  t.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
  t.equal(new Date(root.validTo).toISOString(), '2049-10-28T14:28:05.000Z');
  for (const sample of samples) {
    const bundle = inside(load(sample.file)).payload.get('cabundle') as Uint8Array[];
    t.same(Buffer.from(bundle[0]), root.raw, `${sample.file} cabundle[0]`);
  }
});

t.test('every real sample is accepted as of its own timestamp', async (t) => {
  for (const sample of samples) {
    const doc = load(sample.file);
    const claims = verifyNitroEvidence(doc, pinned);
    t.equal(claims.platform, 'aws-nitro-v1');
    t.equal(claims.issuedAt?.toISOString(), sample.timestamp, `${sample.file} timestamp`);
    t.equal(claims.details.checkedAt, sample.timestamp, 'checked as of the timestamp');
    t.equal(claims.debug, sample.debug, `${sample.file} debug`);
    t.same(Buffer.from(claims.rootFingerprint), Buffer.from(awsRoot));
    t.equal(claims.reportData.length, 0, 'user_data is not 64 bytes: no report data');
    t.equal(claims.details.userDataBytes, sample.userData);
    t.equal(claims.details.nonceBytes, sample.nonce);
    t.equal(claims.details.publicKeyBytes, sample.publicKey);
    t.same(Object.keys(claims.measurements), Array.from({ length: 16 }, (_, i) => `pcr${i}`));
    const pcrs = inside(doc).payload.get('pcrs') as Map<number, Uint8Array>;
    for (const [i, value] of pcrs) t.same(claims.measurements[`pcr${i}`], value);
    t.same(claims.checks.map((c) => c.check), ['format', 'signature', 'chain', 'root', 'validity']);
    t.ok(claims.notChecked.length > 0);
    // Tag 18 (RFC 9052 §2) in front is the same document.
    t.equal(verifyNitroEvidence(Uint8Array.of(0xd2, ...doc), pinned).issuedAt?.toISOString(), sample.timestamp, 'tagged');
  }
});

t.test('a sample is refused when its leaf certificate is not valid: now, after notAfter, before notBefore', async (t) => {
  for (const sample of samples) {
    const doc = load(sample.file);
    const { leaf } = inside(doc);
    const notAfter = new Date(leaf.validTo);
    const notBefore = new Date(leaf.validFrom);
    t.ok(notAfter.getTime() - notBefore.getTime() <= 3 * 3600_000 + 60_000, 'a Nitro leaf lives about 3 hours');
    refusedWith(t, () => verifyNitroEvidence(doc, { ...pinned, at: new Date() }), 'E_ATT_EXPIRED', `${sample.file} now`);
    refusedWith(t, () => verifyNitroEvidence(doc, { ...pinned, at: new Date(notAfter.getTime() + 1000) }), 'E_ATT_EXPIRED', `${sample.file} after`);
    refusedWith(t, () => verifyNitroEvidence(doc, { ...pinned, at: new Date(notBefore.getTime() - 1000) }), 'E_ATT_EXPIRED', `${sample.file} before`);
    t.ok(verifyNitroEvidence(doc, { ...pinned, at: notAfter }), 'accepted at notAfter');
    t.ok(verifyNitroEvidence(doc, { ...pinned, at: notBefore }), 'accepted at notBefore');
  }
});

t.test('a sample is refused under another pinned root', async (t) => {
  const doc = load(samples[1].file);
  refusedWith(t, () => verifyNitroEvidence(doc, { rootFingerprints: [syntheticRootFingerprint] }), 'E_ATT_CHAIN', 'synthetic root pinned');
  refusedWith(t, () => verifyNitroEvidence(doc, { rootFingerprints: [] }), 'E_ATT_CHAIN', 'no root pinned');
  t.ok(verifyNitroEvidence(doc, { rootFingerprints: [syntheticRootFingerprint, awsRoot] }), 'accepted when one of several pins matches');
});

/** Offset of `needle` in `doc`; the tests flip bits at known fields. */
function offsetOf(doc: Uint8Array, needle: Uint8Array): number {
  const at = Buffer.from(doc).indexOf(Buffer.from(needle));
  if (at < 0) throw new Error('needle not found');
  return at;
}
const flipped = (doc: Uint8Array, byte: number, bit = 0) => {
  const out = Uint8Array.from(doc);
  out[byte] ^= 1 << bit;
  return out;
};

t.test('flipped bits at known places in a real sample', async (t) => {
  const doc = load(samples[1].file);
  const { payload } = inside(doc);
  const pcr0 = (payload.get('pcrs') as Map<number, Uint8Array>).get(0)!;
  refusedWith(t, () => verifyNitroEvidence(flipped(doc, offsetOf(doc, pcr0) + 5), pinned), 'E_ATT_SIGNATURE', 'payload (PCR0)');
  const nonce = payload.get('nonce') as Uint8Array;
  refusedWith(t, () => verifyNitroEvidence(flipped(doc, offsetOf(doc, nonce) + 100, 7), pinned), 'E_ATT_SIGNATURE', 'payload (nonce)');
  const moduleId = Buffer.from(payload.get('module_id') as string);
  refusedWith(t, () => verifyNitroEvidence(flipped(doc, offsetOf(doc, moduleId) + 3), pinned), 'E_ATT_SIGNATURE', 'payload (module_id)');
  const certificate = payload.get('certificate') as Uint8Array;
  // A certificate in the payload is signed by the document too: a flip there is a signature failure first.
  refusedWith(t, () => verifyNitroEvidence(flipped(doc, offsetOf(doc, certificate) + certificate.length - 1), pinned), 'E_ATT_SIGNATURE', 'payload (leaf)');
  for (const [i, cert] of (payload.get('cabundle') as Uint8Array[]).entries()) {
    refusedWith(t, () => verifyNitroEvidence(flipped(doc, offsetOf(doc, cert) + cert.length - 1), pinned), 'E_ATT_SIGNATURE', `payload (cabundle[${i}])`);
  }
  // The protected header is a1 01 38 22 ({1: -35}) at bytes 2..5: any flip changes the algorithm or the map.
  for (let byte = 2; byte < 6; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      refusedWith(t, () => verifyNitroEvidence(flipped(doc, byte, bit), pinned), 'E_ATT_FORMAT', `protected header byte ${byte} bit ${bit}`);
    }
  }
  for (const byte of [doc.length - 96, doc.length - 50, doc.length - 1]) {
    refusedWith(t, () => verifyNitroEvidence(flipped(doc, byte), pinned), 'E_ATT_SIGNATURE', `signature byte ${byte}`);
  }
});

t.test('any single bit flip anywhere in a real sample is refused (fast-check)', async (t) => {
  const expected = new Set(['E_ATT_FORMAT', 'E_ATT_SIGNATURE', 'E_ATT_CHAIN', 'E_ATT_EXPIRED']);
  for (const sample of samples) {
    const doc = load(sample.file);
    fc.assert(
      fc.property(fc.nat({ max: doc.length * 8 - 1 }), (bit) => {
        try {
          verifyNitroEvidence(flipped(doc, bit >> 3, bit & 7), pinned);
          return false;
        } catch (error) {
          return error instanceof AttestationError && expected.has(error.code);
        }
      }),
      { numRuns: 150 },
    );
  }
  t.pass('no flipped document accepted');
});

t.test('truncated, extended and oversized documents are refused as malformed', async (t) => {
  const doc = load(samples[3].file);
  let refused = 0;
  for (let length = 0; length < doc.length; length++) {
    try {
      verifyNitroEvidence(doc.subarray(0, length), pinned);
    } catch (error) {
      if (error instanceof AttestationError && error.code === 'E_ATT_FORMAT') refused++;
    }
  }
  t.equal(refused, doc.length, 'every truncation, from 0 bytes to one short');
  refusedWith(t, () => verifyNitroEvidence(Uint8Array.of(...doc, 0), pinned), 'E_ATT_FORMAT', 'one trailing byte');
  refusedWith(t, () => verifyNitroEvidence(Uint8Array.of(...doc, ...doc), pinned), 'E_ATT_FORMAT', 'the document twice');
  const oversized = new Uint8Array(16 * 1024 + 1);
  oversized.set(doc);
  refusedWith(t, () => verifyNitroEvidence(oversized, pinned), 'E_ATT_FORMAT', '16 KiB + 1');
  refusedWith(t, () => verifyNitroEvidence(Uint8Array.of(0xd2, 0xd2, ...doc), pinned), 'E_ATT_FORMAT', 'tag 18 twice');
  refusedWith(t, () => verifyNitroEvidence(Uint8Array.of(0xd8, 0x12, ...doc), pinned), 'E_ATT_FORMAT', 'tag 18, non-minimal head');
});
