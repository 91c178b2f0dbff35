// Adversarial review of the three hardware platforms' native evidence
// (docs/ATTESTATION-REVIEW.md): CBOR and COSE forms a Nitro document could
// be re-encoded in, SEV-SNP signing-key, certificate-table and policy games
// through the whole verifier, TDX certification-data nesting and lengths,
// and one platform's evidence presented as another's. Every attack must be
// refused with a typed AttestationError and its stable code. The Nitro
// timestamp test is the regression of an untyped RangeError.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { toHex } from '../../attestation/bytes.ts';
import { generateKeyPair } from '../../attestation/ed25519.ts';
import { createEnvelopeProvider, decodeEvidence, encodeEvidence } from '../../attestation/evidence.ts';
import { parseManifest, type ReferenceManifest } from '../../attestation/manifest.ts';
import { verifyNitroEvidence } from '../../attestation/nitro/nitro-verifier.ts';
import type { NativeReporter } from '../../attestation/reporters/native-reporter.ts';
import { amdArkFingerprints, amdCertificates } from '../../attestation/sev-snp/amd-roots.ts';
import { verifySevSnpEvidence } from '../../attestation/sev-snp/snp-verifier.ts';
import { intelSgxRootCaFingerprint } from '../../attestation/tdx/intel-sgx-root.ts';
import { verifyTdxEvidence } from '../../attestation/tdx/tdx-verifier.ts';
import { verifyEvidence } from '../../attestation/verifier.ts';
import {
  array,
  buildDocument,
  bytes,
  cat,
  map,
  negint,
  payloadEntries,
  signDocument,
  syntheticRootFingerprint,
  syntheticTime,
  text,
  uint,
  type Cbor,
} from '../vectors/nitro/synthetic/build-document.ts';
import { synthetic as snp, syntheticAt, syntheticChain, syntheticReport } from '../vectors/sev-snp/synthetic/synthetic-report.ts';
import { at as tdxAt, exactQuote, pckCertDataAt, realVectors, upstreamBytes } from './tdx-support.ts';
import { refused } from './refused.ts';

const managerPublicKey = generateKeyPair().publicKey;
const config = { managerPublicKey, sectorBytes: 4096, sectorCount: 1024 };
const buildDigest = new Uint8Array(randomBytes(32));
const session = new Uint8Array(randomBytes(32));
const builds = [{ name: 'disk-node', version: 'test', buildDigest: toHex(buildDigest) }];
const manifestOf = (platforms: unknown[]): ReferenceManifest => parseManifest(JSON.stringify({ format: 'teearray-reference-values-v2', platforms, builds }));

// ---------------------------------------------------------------- Nitro

const nitroPinned = { rootFingerprints: [syntheticRootFingerprint], at: syntheticTime };

/** The default payload with `key`'s value replaced by `value` (an encoded CBOR item). */
function withField(key: string, value: Cbor): Array<[Cbor, Cbor]> {
  return payloadEntries().map(([k, v]): [Cbor, Cbor] => (Buffer.compare(Buffer.from(k), Buffer.from(text(key))) === 0 ? [k, value] : [k, v]));
}

t.test('regression: a Nitro timestamp past the last Date is malformed, not a RangeError', async (t) => {
  // 8.64e15 ms is the latest Date (year 275760); a safe integer above it made
  // new Date() invalid, and details.timestamp = toISOString() threw after the chain had verified.
  refused(t, () => verifyNitroEvidence(buildDocument(payloadEntries({ timestamp: 8.64e15 + 1 })), nitroPinned), 'E_ATT_FORMAT', 'timestamp 8.64e15 + 1', /timestamp/);
  refused(t, () => verifyNitroEvidence(buildDocument(payloadEntries({ timestamp: Number.MAX_SAFE_INTEGER })), nitroPinned), 'E_ATT_FORMAT', 'timestamp 2^53 - 1', /timestamp/);
  t.equal(verifyNitroEvidence(buildDocument(payloadEntries({ timestamp: 8.64e15 })), nitroPinned).details.timestamp, '+275760-09-13T00:00:00.000Z', 'the last Date itself is a timestamp');
  // Without `at` the document's own time is the chain's: far past every certificate.
  refused(t, () => verifyNitroEvidence(buildDocument(payloadEntries({ timestamp: 8.64e15 })), { rootFingerprints: [syntheticRootFingerprint] }), 'E_ATT_EXPIRED', 'chain as of the last Date');
});

t.test('Nitro: CBOR tags, big integers, non-minimal and float keys, confusable types', async (t) => {
  const refusedDoc = (doc: Uint8Array, name: string) => refused(t, () => verifyNitroEvidence(doc, nitroPinned), 'E_ATT_FORMAT', name);
  const payload = map(payloadEntries());
  // Tag 18 is taken off once; a second one, or another tag in front, is a tag cborg is given no decoder for.
  refusedDoc(cat(Uint8Array.of(0xd2, 0xd2), signDocument(payload)), 'COSE_Sign1 tagged twice');
  refusedDoc(cat(Uint8Array.of(0xd8, 0x62), signDocument(payload)), 'tag 98 (COSE_Sign) in front');
  const userData = new Uint8Array(64).fill(0xab);
  refusedDoc(buildDocument(withField('user_data', cat(Uint8Array.of(0xd8, 0x18), bytes(userData)))), 'user_data under tag 24 (embedded CBOR)');
  refusedDoc(buildDocument(withField('user_data', cat(Uint8Array.of(0xd8, 0x40), bytes(userData)))), 'user_data under tag 64 (uint8 typed array)');
  refusedDoc(buildDocument(withField('user_data', text('ab'.repeat(32)))), 'user_data as a text string');
  refusedDoc(buildDocument(withField('user_data', array(Array.from(userData, (b) => uint(b))))), 'user_data as an array of integers');
  // A bignum (tag 2) timestamp, and a 64-bit one beyond 2^53.
  refusedDoc(buildDocument(withField('timestamp', cat(Uint8Array.of(0xc2), bytes(Uint8Array.of(1, 0x8b, 0xcf, 0xe5, 0x68, 0x00))))), 'bignum timestamp');
  refusedDoc(buildDocument(withField('timestamp', Uint8Array.of(0x1b, 0x00, 0x20, 0, 0, 0, 0, 0, 0))), 'timestamp 2^53');
  const pcr = bytes(new Uint8Array(48).fill(1));
  // PCR indexes: negative, non-minimal (0 as 0x18 0x00, so "0" twice in two encodings), -0.0 and +0.0 as half floats, bignum.
  refusedDoc(buildDocument(withField('pcrs', map([[negint(-1), pcr]]))), 'PCR index -1');
  refusedDoc(buildDocument(withField('pcrs', map([[uint(0), pcr], [Uint8Array.of(0x18, 0x00), pcr]]))), 'PCR 0 twice, once non-minimal');
  refusedDoc(buildDocument(withField('pcrs', map([[Uint8Array.of(0xf9, 0x80, 0x00), pcr]]))), 'PCR index -0.0');
  refusedDoc(buildDocument(withField('pcrs', map([[Uint8Array.of(0xf9, 0x00, 0x00), pcr]]))), 'PCR index 0.0');
  refusedDoc(buildDocument(withField('pcrs', map([[cat(Uint8Array.of(0xc2), bytes(Uint8Array.of(0))), pcr]]))), 'PCR index as a bignum');
  refusedDoc(buildDocument(withField('pcrs', map([[bytes(Uint8Array.of(0)), pcr]]))), 'PCR index as a byte string');
  // The protected header: the alg twice, under a tag, or as a big negative integer.
  refusedDoc(buildDocument(payloadEntries(), { protectedHeader: map([[uint(1), negint(-35)], [uint(1), negint(-35)]]) }), 'alg twice');
  refusedDoc(buildDocument(payloadEntries(), { protectedHeader: cat(Uint8Array.of(0xd8, 0x18), map([[uint(1), negint(-35)]])) }), 'protected header under tag 24');
  refusedDoc(buildDocument(payloadEntries(), { protectedHeader: map([[uint(1), Uint8Array.of(0x38, 0x22, 0x00)]]) }), 'alg followed by a stray byte');
  refusedDoc(buildDocument(payloadEntries(), { protectedHeader: map([[text('alg'), negint(-35)]]) }), 'alg by name, not label 1');
  // The payload as a byte string holding the map, tagged 24 (embedded CBOR) instead of the map itself.
  refusedDoc(signDocument(cat(Uint8Array.of(0xd8, 0x18), bytes(payload))), 'payload under tag 24');
});

// ---------------------------------------------------------------- SEV-SNP

const snpMeasurement = new Uint8Array(48).fill(0x5a); // syntheticReport's default MEASUREMENT
const snpManifest = manifestOf([{ name: 'amd-sev-snp-v1', roots: [toHex(snp.arkFingerprint)], reference: { measurements: [toHex(snpMeasurement)] } }]);
const snpExpected = { managerPublicKey, reportData: session, at: syntheticAt };

function snpReporter(fields: Parameters<typeof syntheticReport>[0] = {}, aux: Uint8Array = syntheticChain()): NativeReporter {
  return { platform: 'amd-sev-snp-v1', report: (binding) => ({ provider: 'sev_guest', evidence: syntheticReport({ ...fields, reportData: binding }), aux }) };
}
const snpEvidence = (fields: Parameters<typeof syntheticReport>[0] = {}, aux?: Uint8Array) => createEnvelopeProvider(snpReporter(fields, aux), buildDigest, config).report(session);

t.test('SEV-SNP through the verifier: the genuine node, then its refusals', async (t) => {
  t.equal(verifyEvidence(snpEvidence(), snpManifest, snpExpected).platform, 'amd-sev-snp-v1', 'the synthetic node verifies');
  // Debug and migration-agent policies, with the measurement listed.
  refused(t, () => verifyEvidence(snpEvidence({ policy: 0x30000n | (1n << 19n) }), snpManifest, snpExpected), 'E_ATT_POLICY', 'POLICY.DEBUG', /DEBUG/);
  refused(t, () => verifyEvidence(snpEvidence({ policy: 0x30000n | (1n << 18n) }), snpManifest, snpExpected), 'E_ATT_POLICY', 'POLICY.MIGRATE_MA', /MIGRATE_MA/);
  // The same chip's key, but the report says a VLEK or no key signed it.
  refused(t, () => verifyEvidence(snpEvidence({ signer: 1 << 2 }), snpManifest, snpExpected), 'E_ATT_CHAIN', 'SIGNING_KEY VLEK', /only a VCEK/);
  // MASK_CHIP_KEY with a zero CHIP_ID: the VCEK names this chip, so a masked report has no VCEK.
  refused(t, () => verifyEvidence(snpEvidence({ signer: 2, chipId: new Uint8Array(64) }), snpManifest, snpExpected), 'E_ATT_CHAIN', 'masked CHIP_ID', /is for chip/);
  // The binding must be REPORT_DATA itself: a report of another session, replayed into this envelope.
  const old = decodeEvidence(createEnvelopeProvider(snpReporter(), buildDigest, config).report(new Uint8Array(32)));
  refused(t, () => verifyEvidence(encodeEvidence({ ...old, reportData: session }, old.native, old.aux), snpManifest, snpExpected), 'E_ATT_REPORT_DATA', 'replayed report', /hash of the envelope/);
  // Another launch digest than the manifest's.
  refused(t, () => verifyEvidence(snpEvidence({ measurement: new Uint8Array(48).fill(0x5b) }), snpManifest, snpExpected), 'E_ATT_MEASUREMENT', 'another MEASUREMENT');
});

t.test('SEV-SNP certificate tables: duplicated, overlapping, empty and wrapping entries', async (t) => {
  const der = (pem: string) => new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
  const [vcek, ask, ark] = [der(snp.vcek), der(snp.ask), der(snp.ark)];
  const guid = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
  const ids = { vcek: guid('63da758de6644564adc5f4b93be8accd'), ask: guid('4ab7b379bbac4fe4a02f05aef327c782'), ark: guid('c0b406a4a803495297433fb6014cd0ae'), vlek: guid('a7074bc2a25a483eaae639c045a0b8a1') };
  /** A table whose entries point at (offset, length) in `data`, which follows the table. */
  const table = (entries: Array<[Uint8Array, number, number]>, data: Uint8Array) => {
    const head = Buffer.alloc((entries.length + 1) * 24);
    entries.forEach(([id, offset, length], i) => {
      head.set(id, i * 24);
      head.writeUInt32LE(offset === -1 ? 0 : offset + head.length, i * 24 + 16);
      head.writeUInt32LE(length, i * 24 + 20);
    });
    return new Uint8Array(Buffer.concat([head, data]));
  };
  const data = new Uint8Array(Buffer.concat([vcek, ask, ark]));
  const check = (aux: Uint8Array) => () => verifySevSnpEvidence(syntheticReport(), aux, { at: syntheticAt, rootFingerprints: [snp.arkFingerprint] });
  t.ok(check(table([[ids.vcek, 0, vcek.length], [ids.ask, vcek.length, ask.length], [ids.ark, vcek.length + ask.length, ark.length]], data))(), 'the genuine table');
  // VCEK and ASK entries over the same bytes: the VCEK would be its own issuer.
  refused(t, check(table([[ids.vcek, 0, vcek.length], [ids.ask, 0, vcek.length]], data)), 'E_ATT_CHAIN', 'ASK entry overlapping the VCEK');
  // The ARK's bytes under the ASK's GUID too.
  refused(t, check(table([[ids.vcek, 0, vcek.length], [ids.ask, vcek.length + ask.length, ark.length], [ids.ark, vcek.length + ask.length, ark.length]], data)), 'E_ATT_CHAIN', 'ARK given as the ASK');
  refused(t, check(table([[ids.vcek, 0, 0]], data)), 'E_ATT_FORMAT', 'zero-length VCEK entry');
  refused(t, check(table([[ids.vlek, 0, vcek.length]], data)), 'E_ATT_FORMAT', 'a VLEK entry and no VCEK', /no VCEK/);
  refused(t, check(table([[ids.vcek, 0, vcek.length], [ids.vcek, 0, vcek.length]], data)), 'E_ATT_FORMAT', 'the VCEK listed twice, same bytes', /twice/);
  // Offset + length wrap to a small number in 32-bit arithmetic: 0xfffffff0 + 0x20 = 0x10.
  const wrapping = Buffer.from(table([[ids.vcek, 0, vcek.length]], data));
  wrapping.writeUInt32LE(0xfffffff0, 16);
  wrapping.writeUInt32LE(0x20, 20);
  refused(t, check(new Uint8Array(wrapping)), 'E_ATT_FORMAT', 'offset + length wrapping at 2^32', /points outside/);
  // Issuers of another product line after a Milan VCEK, their root pinned too.
  const genoa = new TextEncoder().encode(snp.vcek + amdCertificates.Genoa.ask + amdCertificates.Genoa.ark);
  const bothRoots = [snp.arkFingerprint, new Uint8Array(Buffer.from(amdArkFingerprints.Genoa, 'hex'))];
  refused(t, () => verifySevSnpEvidence(syntheticReport(), genoa, { at: syntheticAt, rootFingerprints: bothRoots }), 'E_ATT_CHAIN', 'Genoa ASK and ARK after a Milan VCEK');
  // AMD's real Milan ARK pinned, the synthetic one not: the synthetic chain is not AMD's.
  const amdOnly = [new Uint8Array(Buffer.from(amdArkFingerprints.Milan, 'hex'))];
  refused(t, () => verifySevSnpEvidence(syntheticReport(), syntheticChain(), { at: syntheticAt, rootFingerprints: amdOnly }), 'E_ATT_CHAIN', 'synthetic chain, AMD roots pinned', /not a pinned root/);
});

// ---------------------------------------------------------------- TDX

const tdxWhen = new Date('2026-01-01T00:00:00Z');
const spr = exactQuote(upstreamBytes(realVectors[0].file));

t.test('TDX: certification data nested in itself, and lengths near 2^32', async (t) => {
  const check = (quote: Uint8Array) => () => verifyTdxEvidence(quote, { at: tdxWhen, rootFingerprints: [intelSgxRootCaFingerprint] });
  t.ok(check(spr)(), 'the real quote verifies');
  const edit = (f: (b: Buffer) => void) => {
    const b = Buffer.from(spr);
    f(b);
    return new Uint8Array(b);
  };
  const inner = pckCertDataAt(spr);
  refused(t, check(edit((b) => b.writeUInt16LE(6, inner))), 'E_ATT_FORMAT', 'type 6 inside type 6', /QE certification data type 6 is not 5/);
  refused(t, check(edit((b) => b.writeUInt16LE(5, tdxAt.certDataType))), 'E_ATT_FORMAT', 'type 5 at the outer level', /certification data type 5 is not 6/);
  refused(t, check(edit((b) => b.writeUInt32LE(0xffffffff, inner + 2))), 'E_ATT_FORMAT', 'PCK chain size 2^32 - 1', /truncated/);
  refused(t, check(edit((b) => b.writeUInt32LE(0xffffffff, tdxAt.certDataType + 2))), 'E_ATT_FORMAT', 'QE report data size 2^32 - 1', /truncated/);
  refused(t, check(edit((b) => b.writeUInt32LE(0xffffffff, tdxAt.signatureDataLength))), 'E_ATT_FORMAT', 'signature data length 2^32 - 1', /truncated/);
  refused(t, check(edit((b) => b.writeUInt16LE(0xffff, tdxAt.qeAuthDataSize))), 'E_ATT_FORMAT', 'QE auth data size 2^16 - 1');
  // A shorter declared PCK chain leaves bytes after it: trailing data inside the certification data.
  refused(t, check(edit((b) => b.writeUInt32LE(b.readUInt32LE(inner + 2) - 1, inner + 2))), 'E_ATT_FORMAT', 'PCK chain size one short', /trailing/);
});

t.test('one platform\'s evidence in another platform\'s envelope', async (t) => {
  // Every hardware platform listed, each with the others' roots too, so only the format can refuse.
  const roots = [toHex(snp.arkFingerprint), toHex(intelSgxRootCaFingerprint), toHex(syntheticRootFingerprint)];
  const all = manifestOf([
    { name: 'aws-nitro-v1', roots, reference: { images: [{ pcr0: toHex(new Uint8Array(48).fill(1)) }] } },
    { name: 'amd-sev-snp-v1', roots, reference: { measurements: [toHex(snpMeasurement)] } },
    { name: 'intel-tdx-v1', roots, reference: { images: [{ mrtd: toHex(new Uint8Array(48).fill(1)), rtmr1: toHex(new Uint8Array(48).fill(2)), rtmr2: toHex(new Uint8Array(48).fill(3)) }] } },
  ]);
  const snpOne = decodeEvidence(snpEvidence());
  const nitroOne = decodeEvidence(createEnvelopeProvider({ platform: 'aws-nitro-v1', report: (userData) => ({ provider: 'nitro_nsm', evidence: buildDocument(payloadEntries({ userData })), aux: new Uint8Array(0) }) }, buildDigest, config).report(session));
  const cases: Array<[string, Uint8Array, Uint8Array, string]> = [
    ['SEV-SNP report as TDX (with its certificates)', snpOne.native, snpOne.aux, 'intel-tdx-v1'],
    ['SEV-SNP report as TDX (without)', snpOne.native, new Uint8Array(0), 'intel-tdx-v1'],
    ['SEV-SNP report as Nitro', snpOne.native, new Uint8Array(0), 'aws-nitro-v1'],
    ['TDX quote as SEV-SNP', spr, snpOne.aux, 'amd-sev-snp-v1'],
    ['TDX quote as Nitro', spr, new Uint8Array(0), 'aws-nitro-v1'],
    ['Nitro document as SEV-SNP', nitroOne.native, snpOne.aux, 'amd-sev-snp-v1'],
    ['Nitro document as TDX', nitroOne.native, new Uint8Array(0), 'intel-tdx-v1'],
  ];
  for (const [name, native, aux, platform] of cases) {
    const evidence = encodeEvidence({ ...snpOne, platform }, native, aux);
    refused(t, () => verifyEvidence(evidence, all, { managerPublicKey, reportData: session, at: syntheticAt }), 'E_ATT_FORMAT', name);
  }
  // A genuine TDX quote in a TDX envelope: its REPORTDATA is some other TD's, not this envelope's binding.
  const tdxManifest = manifestOf([{ name: 'intel-tdx-v1', roots: [toHex(intelSgxRootCaFingerprint)], reference: { images: [{ mrtd: toHex(spr.subarray(tdxAt.mrtd, tdxAt.mrtd + 48)), rtmr1: toHex(spr.subarray(tdxAt.rtmr0 + 48, tdxAt.rtmr0 + 96)), rtmr2: toHex(spr.subarray(tdxAt.rtmr0 + 96, tdxAt.rtmr0 + 144)) }] } }]);
  refused(t, () => verifyEvidence(encodeEvidence({ ...snpOne, platform: 'intel-tdx-v1' }, spr, new Uint8Array(0)), tdxManifest, { managerPublicKey, at: tdxWhen }), 'E_ATT_REPORT_DATA', 'real TDX quote, foreign REPORTDATA', /hash of the envelope/);
});
