// The Nitro verifier against documents it must refuse although they are
// validly signed: built with the synthetic P-384 chain of
// test/vectors/nitro/synthetic (pinned by fingerprint here), so each test
// changes exactly one thing (a field, a key, the CBOR form, a certificate)
// and shows the code it is refused with. The well-formed one is accepted,
// so each refusal is the change's doing.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { AttestationError, type AttestationErrorCode } from '../../attestation/errors.ts';
import { verifyNitroEvidence } from '../../attestation/nitro/nitro-verifier.ts';
import { checkNitroReference } from '../../attestation/nitro/nitro-reference.ts';
import { awsNitroRootG1Fingerprint } from '../../attestation/nitro/aws-nitro-root.ts';
import {
  array,
  buildDocument,
  bytes,
  cat,
  flipLastBit,
  map,
  negint,
  nul,
  payloadEntries,
  pcrsFilled,
  signDocument,
  synthetic,
  syntheticRootFingerprint,
  syntheticTime,
  text,
  uint,
  type Cbor,
} from '../vectors/nitro/synthetic/build-document.ts';

const pinned = { rootFingerprints: [syntheticRootFingerprint] };

function refusedWith(t: Test, doc: Uint8Array, code: AttestationErrorCode, name: string, opts: { at?: Date; rootFingerprints?: Uint8Array[] } = {}): void {
  try {
    verifyNitroEvidence(doc, { ...pinned, ...opts });
    t.fail(`${name}: accepted`);
  } catch (error) {
    t.ok(error instanceof AttestationError, `${name}: typed error`);
    t.equal((error as AttestationError).code, code, `${name}: ${(error as Error).message}`);
  }
}

/** The default entries with the field named `key` given `value` (or removed when value is null). */
function withField(key: string, value: Cbor | null): Array<[Cbor, Cbor]> {
  const entries = payloadEntries().filter(([k]) => Buffer.compare(Buffer.from(k), Buffer.from(text(key))) !== 0);
  return value === null ? entries : [...entries, [text(key), value]];
}

t.test('the fixture chain is what the tests assume', async (t) => {
  t.equal(createHash('sha256').update(synthetic.root.raw).digest('hex'), '2415b702f7856789db5636a4121cd9c410b5ee499af5de1de961200b47ab04fb');
  t.ok(synthetic.leaf.checkIssued(synthetic.intermediate2) && synthetic.intermediate2.checkIssued(synthetic.intermediate1));
});

t.test('a well-formed synthetic document is accepted, with its 64-byte user_data as report data', async (t) => {
  const claims = verifyNitroEvidence(buildDocument(), pinned);
  t.same(claims.reportData, new Uint8Array(64).fill(0xab));
  t.equal(claims.debug, false);
  t.equal(claims.issuedAt?.getTime(), syntheticTime.getTime());
  t.same(claims.measurements.pcr15, new Uint8Array(48).fill(16));
  t.equal(claims.details.nonce, '01020304');
  t.equal(claims.details.publicKeyBytes, 'absent');
  t.ok(verifyNitroEvidence(buildDocument(payloadEntries(), { tagged: true }), pinned), 'tagged (18)');
});

t.test('user_data of any length other than 64 gives empty report data; over 512 bytes is malformed', async (t) => {
  for (const length of [0, 1, 32, 63, 65, 512]) {
    const claims = verifyNitroEvidence(buildDocument(payloadEntries({ userData: new Uint8Array(length).fill(7) })), pinned);
    t.equal(claims.reportData.length, 0, `user_data of ${length} bytes`);
    t.equal(claims.details.userDataBytes, length);
  }
  t.equal(verifyNitroEvidence(buildDocument(payloadEntries({ userData: null })), pinned).reportData.length, 0, 'null user_data');
  t.equal(verifyNitroEvidence(buildDocument(withField('user_data', null)), pinned).reportData.length, 0, 'absent user_data');
  refusedWith(t, buildDocument(payloadEntries({ userData: new Uint8Array(513) })), 'E_ATT_FORMAT', 'user_data of 513 bytes');
});

t.test('a debug-mode document (PCR0..2 all zero) verifies, says debug, and the reference check refuses it', async (t) => {
  const pcrs = pcrsFilled();
  for (const i of [0, 1, 2]) pcrs.set(i, new Uint8Array(48));
  const claims = verifyNitroEvidence(buildDocument(payloadEntries({ pcrs })), pinned);
  t.equal(claims.debug, true);
  const image = { pcr0: claims.measurements.pcr0, pcr1: claims.measurements.pcr1, pcr2: claims.measurements.pcr2 };
  t.throws(() => checkNitroReference(claims, { images: [image] }), { code: 'E_ATT_POLICY' }, 'even when the PCRs are the reference');
  // Two zero PCRs out of three is not debug mode.
  pcrs.set(2, new Uint8Array(48).fill(3));
  t.equal(verifyNitroEvidence(buildDocument(payloadEntries({ pcrs })), pinned).debug, false);
});

t.test('signature: the key, the algorithm and the Sig_structure must be the ones RFC 9052 §4.4 and AWS use', async (t) => {
  const other = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
  refusedWith(t, buildDocument(payloadEntries(), { key: other }), 'E_ATT_SIGNATURE', 'signed by another P-384 key');
  // A leaf certificate holding a P-256 key (made by openssl here; node cannot issue certificates) cannot sign ES384.
  const p256 = execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=p256', '-outform', 'DER'], { stdio: ['ignore', 'pipe', 'ignore'] });
  refusedWith(t, buildDocument(withField('certificate', bytes(new Uint8Array(p256)))), 'E_ATT_SIGNATURE', 'leaf with a P-256 key');
  // The leaf's point moved off the curve: the certificate parses, its key does not.
  const leaf = new Uint8Array(synthetic.leaf.raw);
  const point = synthetic.leaf.publicKey.export({ format: 'der', type: 'spki' }).subarray(-96);
  leaf[Buffer.from(leaf).indexOf(point) + 10] ^= 1;
  refusedWith(t, buildDocument(withField('certificate', bytes(leaf))), 'E_ATT_FORMAT', 'leaf key not on the curve');
  refusedWith(t, buildDocument(payloadEntries(), { context: 'Signature' }), 'E_ATT_SIGNATURE', 'context "Signature" (COSE_Sign)');
  refusedWith(t, buildDocument(payloadEntries(), { externalAad: Uint8Array.of(0) }), 'E_ATT_SIGNATURE', 'non-empty external_aad');
  refusedWith(t, buildDocument(payloadEntries(), { protectedHeader: map([[uint(1), negint(-7)]]) }), 'E_ATT_FORMAT', 'alg ES256 (-7)');
  refusedWith(t, buildDocument(payloadEntries(), { protectedHeader: map([[uint(1), negint(-36)]]) }), 'E_ATT_FORMAT', 'alg ES512 (-36)');
  refusedWith(t, buildDocument(payloadEntries(), { protectedHeader: map([[uint(1), text('ES384')]]) }), 'E_ATT_FORMAT', 'alg as text');
  refusedWith(t, buildDocument(payloadEntries(), { protectedHeader: map([]) }), 'E_ATT_FORMAT', 'no alg');
  refusedWith(t, buildDocument(payloadEntries(), { protectedHeader: map([[uint(1), negint(-35)], [uint(4), bytes(Uint8Array.of(1))]]) }), 'E_ATT_FORMAT', 'alg and a kid');
  refusedWith(t, buildDocument(payloadEntries(), { unprotected: map([[uint(4), bytes(Uint8Array.of(1))]]) }), 'E_ATT_FORMAT', 'non-empty unprotected header');
  // A document framed by hand around a signature of another length.
  const payload = map(payloadEntries());
  const framed = (signature: Uint8Array) => array([bytes(map([[uint(1), negint(-35)]])), map([]), bytes(payload), bytes(signature)]);
  const good = framed(signDocument(payload).subarray(-96));
  t.ok(verifyNitroEvidence(good, pinned), 'the hand-framed document with its 96-byte signature');
  const short = framed(signDocument(payload).subarray(-96, -1));
  refusedWith(t, short, 'E_ATT_FORMAT', '95-byte signature');
});

t.test('payload: exactly the specified fields, each with its type and bounds', async (t) => {
  refusedWith(t, buildDocument([...payloadEntries(), [text('extra'), uint(1)]]), 'E_ATT_FORMAT', 'unknown key');
  refusedWith(t, buildDocument([...payloadEntries(), [uint(1), uint(1)]]), 'E_ATT_FORMAT', 'integer key');
  refusedWith(t, buildDocument([...payloadEntries(), [text('nonce'), bytes(Uint8Array.of(9))]]), 'E_ATT_FORMAT', 'duplicate key (nonce twice)');
  refusedWith(t, buildDocument([...payloadEntries(), [text('timestamp'), uint(1)]]), 'E_ATT_FORMAT', 'duplicate key (timestamp twice)');
  for (const key of ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle']) {
    refusedWith(t, buildDocument(withField(key, null)), 'E_ATT_FORMAT', `missing ${key}`);
    refusedWith(t, buildDocument(withField(key, nul)), 'E_ATT_FORMAT', `null ${key}`);
  }
  refusedWith(t, buildDocument(withField('module_id', text(''))), 'E_ATT_FORMAT', 'empty module_id');
  refusedWith(t, buildDocument(withField('module_id', cat(Uint8Array.of(0x62), Uint8Array.of(0xc3, 0x28)))), 'E_ATT_FORMAT', 'module_id not UTF-8');
  refusedWith(t, buildDocument(withField('digest', text('SHA256'))), 'E_ATT_FORMAT', 'digest SHA256');
  refusedWith(t, buildDocument(withField('timestamp', uint(0))), 'E_ATT_FORMAT', 'timestamp 0');
  refusedWith(t, buildDocument(withField('timestamp', negint(-5))), 'E_ATT_FORMAT', 'negative timestamp');
  refusedWith(t, buildDocument(withField('timestamp', text('2026'))), 'E_ATT_FORMAT', 'timestamp as text');
  // Float64 of the same timestamp: one value, two encodings; floats are refused.
  const float = new Uint8Array(9);
  float[0] = 0xfb;
  new DataView(float.buffer).setFloat64(1, syntheticTime.getTime());
  refusedWith(t, buildDocument(withField('timestamp', float)), 'E_ATT_FORMAT', 'timestamp as a float');
  refusedWith(t, buildDocument(withField('timestamp', cat(Uint8Array.of(0x1b), new Uint8Array(8).fill(0xff)))), 'E_ATT_FORMAT', 'timestamp 2^64 - 1');
  refusedWith(t, buildDocument(withField('pcrs', map([]))), 'E_ATT_FORMAT', 'no PCRs');
  refusedWith(t, buildDocument(withField('pcrs', map([[uint(32), bytes(new Uint8Array(48))]]))), 'E_ATT_FORMAT', 'PCR index 32');
  refusedWith(t, buildDocument(withField('pcrs', map([[text('0'), bytes(new Uint8Array(48))]]))), 'E_ATT_FORMAT', 'PCR index as text');
  refusedWith(t, buildDocument(withField('pcrs', map([[uint(0), bytes(new Uint8Array(47))]]))), 'E_ATT_FORMAT', 'PCR of 47 bytes');
  refusedWith(t, buildDocument(withField('pcrs', map([[uint(0), bytes(new Uint8Array(48))], [uint(0), bytes(new Uint8Array(48))]]))), 'E_ATT_FORMAT', 'PCR 0 twice');
  const thirtyThree = Array.from({ length: 33 }, (_, i): [Cbor, Cbor] => [uint(i), bytes(new Uint8Array(48))]);
  refusedWith(t, buildDocument(withField('pcrs', map(thirtyThree))), 'E_ATT_FORMAT', '33 PCRs');
  for (const length of [32, 64]) {
    t.ok(verifyNitroEvidence(buildDocument(withField('pcrs', map([[uint(0), bytes(new Uint8Array(length).fill(1))]]))), pinned), `a PCR of ${length} bytes`);
  }
  refusedWith(t, buildDocument(withField('cabundle', array([]))), 'E_ATT_FORMAT', 'empty cabundle');
  refusedWith(t, buildDocument(withField('cabundle', array([bytes(new Uint8Array(0))]))), 'E_ATT_FORMAT', 'empty cabundle entry');
  refusedWith(t, buildDocument(withField('cabundle', array([bytes(new Uint8Array(1025))]))), 'E_ATT_FORMAT', 'cabundle entry of 1025 bytes');
  refusedWith(t, buildDocument(withField('cabundle', array([text('root')]))), 'E_ATT_FORMAT', 'cabundle entry as text');
  refusedWith(t, buildDocument(withField('cabundle', array([bytes(Uint8Array.of(0x30, 0x03, 1, 2, 3))]))), 'E_ATT_FORMAT', 'cabundle entry not a certificate');
  refusedWith(t, buildDocument(withField('certificate', bytes(new Uint8Array(1025)))), 'E_ATT_FORMAT', 'certificate of 1025 bytes');
  refusedWith(t, buildDocument(withField('public_key', bytes(new Uint8Array(0)))), 'E_ATT_FORMAT', 'empty public_key');
  refusedWith(t, buildDocument(withField('public_key', bytes(new Uint8Array(1025)))), 'E_ATT_FORMAT', 'public_key of 1025 bytes');
  refusedWith(t, buildDocument(withField('nonce', bytes(new Uint8Array(513)))), 'E_ATT_FORMAT', 'nonce of 513 bytes');
  refusedWith(t, buildDocument(withField('nonce', text('abc'))), 'E_ATT_FORMAT', 'nonce as text');
  t.equal(verifyNitroEvidence(buildDocument(withField('public_key', bytes(new Uint8Array(1024)))), pinned).details.publicKeyBytes, 1024, 'public_key of 1024 bytes');
});

t.test('CBOR forms a strict decoder refuses, even when signed', async (t) => {
  const payload = map(payloadEntries());
  refusedWith(t, signDocument(cat(payload, Uint8Array.of(0))), 'E_ATT_FORMAT', 'a byte after the payload map');
  // The same map with a non-minimal head (0xb8 0x09 for 9 entries).
  refusedWith(t, signDocument(cat(Uint8Array.of(0xb8, 9), payload.subarray(1))), 'E_ATT_FORMAT', 'non-minimal map length');
  // The same map, indefinite length (0xbf ... 0xff).
  refusedWith(t, signDocument(cat(Uint8Array.of(0xbf), payload.subarray(1), Uint8Array.of(0xff))), 'E_ATT_FORMAT', 'indefinite-length map');
  refusedWith(t, signDocument(cat(Uint8Array.of(0xd9, 0xd9, 0xf7), payload)), 'E_ATT_FORMAT', 'self-described CBOR tag');
  refusedWith(t, buildDocument(withField('user_data', Uint8Array.of(0xf7))), 'E_ATT_FORMAT', 'undefined');
  refusedWith(t, signDocument(array([payload])), 'E_ATT_FORMAT', 'payload an array');
});

t.test('chain: a flipped bit in any certificate, a wrong order, another root, expiry', async (t) => {
  const certs = { leaf: synthetic.leaf, intermediate1: synthetic.intermediate1, intermediate2: synthetic.intermediate2, root: synthetic.root };
  const bundle = (root: Uint8Array, i1: Uint8Array, i2: Uint8Array): Cbor => array([bytes(root), bytes(i1), bytes(i2)]);
  // Each document is re-signed by the leaf key after the change, so only the chain can refuse it.
  refusedWith(t, buildDocument(withField('certificate', bytes(flipLastBit(certs.leaf.raw)))), 'E_ATT_CHAIN', 'leaf signature bit');
  refusedWith(t, buildDocument(withField('cabundle', bundle(flipLastBit(certs.root.raw), certs.intermediate1.raw, certs.intermediate2.raw))), 'E_ATT_CHAIN', 'cabundle[0] (root) bit');
  refusedWith(t, buildDocument(withField('cabundle', bundle(certs.root.raw, flipLastBit(certs.intermediate1.raw), certs.intermediate2.raw))), 'E_ATT_CHAIN', 'cabundle[1] bit');
  refusedWith(t, buildDocument(withField('cabundle', bundle(certs.root.raw, certs.intermediate1.raw, flipLastBit(certs.intermediate2.raw)))), 'E_ATT_CHAIN', 'cabundle[2] bit');
  refusedWith(t, buildDocument(withField('cabundle', array([certs.intermediate2.raw, certs.intermediate1.raw, certs.root.raw].map((c) => bytes(c))))), 'E_ATT_CHAIN', 'cabundle leaf-side first');
  refusedWith(t, buildDocument(withField('cabundle', array([certs.root.raw, certs.intermediate2.raw].map((c) => bytes(c))))), 'E_ATT_CHAIN', 'cabundle missing an intermediate');
  refusedWith(t, buildDocument(withField('cabundle', array([certs.root.raw, certs.intermediate1.raw, certs.intermediate2.raw, certs.leaf.raw].map((c) => bytes(c))))), 'E_ATT_CHAIN', 'leaf as its own CA');
  refusedWith(t, buildDocument(), 'E_ATT_CHAIN', 'AWS root pinned instead', { rootFingerprints: [new Uint8Array(Buffer.from(awsNitroRootG1Fingerprint, 'hex'))] });
  const notAfter = new Date(certs.leaf.validTo);
  const notBefore = new Date(certs.leaf.validFrom);
  const doc = buildDocument();
  refusedWith(t, doc, 'E_ATT_EXPIRED', 'checked after the leaf expired', { at: new Date(notAfter.getTime() + 1000) });
  t.ok(verifyNitroEvidence(doc, { ...pinned, at: notAfter }), 'accepted at the leaf notAfter');
  // Without `at`, the document's timestamp is the time: one before the leaf was issued is refused.
  refusedWith(t, buildDocument(payloadEntries({ timestamp: notBefore.getTime() - 1000 })), 'E_ATT_EXPIRED', 'timestamp before the leaf notBefore');
});
