// The Intel TDX quote verifier against real v4 quotes from open-source
// projects (test/vectors/README.md, "Intel TDX") and their mutations: every
// real quote is accepted as of a time inside its certificates' validity, and
// every changed bit, wrong root, wrong time or malformed length is refused
// with its typed code, in the order docs/TEE_TDX.md gives.
import t from 'tap';
import fc from 'fast-check';
import { X509Certificate, createHash } from 'node:crypto';
import { AttestationError, type AttestationErrorCode } from '../../attestation/errors.ts';
import { toHex } from '../../attestation/bytes.ts';
import { intelSgxRootCaFingerprint, intelSgxRootCaPem } from '../../attestation/tdx/intel-sgx-root.ts';
import { notIntelTdQe } from '../../attestation/tdx/td-qe-identity.ts';
import { tdxQuoteBytesMax } from '../../attestation/tdx/tdx-quote.ts';
import { verifyTdxEvidence } from '../../attestation/tdx/tdx-verifier.ts';
import {
  at,
  exactQuote,
  flipBit,
  pckCertDataAt,
  pemBlocks,
  realVectors,
  replaceCertificate,
  syntheticQuote,
  syntheticRootFingerprint,
  upstreamBytes,
  withPckChain,
} from './tdx-support.ts';

const intel = [intelSgxRootCaFingerprint];
/** Inside the validity of every certificate of every real vector (PCK leaves: 2022-09-20 .. 2029-09-20 and later). */
const when = new Date('2026-01-01T00:00:00Z');
const spr = exactQuote(upstreamBytes(realVectors[0].file));

function code(fn: () => unknown): AttestationErrorCode | 'accepted' | 'other' {
  try {
    fn();
    return 'accepted';
  } catch (error) {
    return error instanceof AttestationError ? error.code : 'other';
  }
}

const verifyCode = (quote: Uint8Array, opts = { at: when, rootFingerprints: intel }) => code(() => verifyTdxEvidence(quote, opts));

t.test('the pinned Intel SGX Root CA is the one every real quote ends its chain in', async (t) => {
  const root = new X509Certificate(intelSgxRootCaPem);
  t.equal(toHex(createHash('sha256').update(root.raw).digest()), toHex(intelSgxRootCaFingerprint));
  t.equal(toHex(intelSgxRootCaFingerprint), '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3');
  t.match(root.subject, /CN=Intel SGX Root CA/);
  for (const vector of realVectors) {
    const blocks = pemBlocks(exactQuote(upstreamBytes(vector.file)));
    t.equal(blocks.length, 3, vector.file);
    t.ok(blocks[2].cert.raw.equals(root.raw), `${vector.file} ends in the pinned root`);
  }
});

for (const vector of realVectors) {
  t.test(`real quote ${vector.file} is accepted`, async (t) => {
    const quote = exactQuote(upstreamBytes(vector.file));
    const claims = verifyTdxEvidence(quote, { at: when, rootFingerprints: intel });
    t.equal(claims.platform, 'intel-tdx-v1');
    t.equal(claims.debug, false);
    t.equal(claims.issuedAt, null);
    t.same(claims.rootFingerprint, intelSgxRootCaFingerprint);
    t.same(claims.reportData, quote.slice(at.reportData, at.reportData + 64));
    t.same(claims.measurements.mrtd, quote.slice(at.mrtd, at.mrtd + 48));
    t.same(claims.measurements.rtmr3, quote.slice(at.rtmr3, at.rtmr3 + 48));
    t.same(Object.keys(claims.measurements).sort(), ['mrconfigid', 'mrowner', 'mrownerconfig', 'mrseam', 'mrtd', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3']);
    if (vector.upstream) {
      t.equal(toHex(claims.measurements.mrtd), vector.upstream.mrtd, 'MRTD as upstream reads it');
      if (vector.upstream.rtmr0) t.equal(toHex(claims.measurements.rtmr0), vector.upstream.rtmr0, 'RTMR0 as upstream reads it');
      if (vector.upstream.reportData) t.equal(toHex(claims.reportData), vector.upstream.reportData, 'REPORTDATA as upstream reads it');
    }
    t.same(
      claims.checks.map((c) => c.check).filter((c) => ['format', 'qe-report-signature', 'qe-identity', 'qe-binding', 'quote-signature'].includes(c)),
      ['format', 'qe-report-signature', 'qe-identity', 'qe-binding', 'quote-signature'],
    );
    t.ok(claims.notChecked.includes('TCB status (TCB info, QE identity, CRLs) against Intel collateral'));
    t.match(claims.details, { teeTcbSvn: /^[0-9a-f]{32}$/, tdAttributes: /^[0-9a-f]{16}$/, xfam: /^[0-9a-f]{16}$/, qeSvn: Number, fmspc: /^[0-9a-f]{12}$/, pceSvn: Number });
    t.doesNotThrow(() => JSON.stringify(claims.details));
  });

  t.test(`real quote ${vector.file} as published, with what follows the quote, is refused`, async (t) => {
    const published = upstreamBytes(vector.file);
    t.ok(published.length > exactQuote(published).length, 'upstream file has bytes after the quote');
    t.throws(() => verifyTdxEvidence(published, { at: when, rootFingerprints: intel }), { code: 'E_ATT_FORMAT', message: /trailing/ });
  });
}

t.test('details of the SPR quote', async (t) => {
  const claims = verifyTdxEvidence(spr, { at: when, rootFingerprints: intel });
  t.equal(claims.details.tdAttributes, '0000004000000000');
  t.equal(claims.details.teeTcbSvn, '03000400000000000000000000000000');
  t.equal(claims.details.fmspc, '50806f000000');
  t.equal(claims.details.pceSvn, 11);
});

t.test('a flipped bit anywhere signed or vouched for is refused with the code of the first failing check', async (t) => {
  const cases: Array<[string, number, AttestationErrorCode]> = [
    ['header version', at.version, 'E_ATT_FORMAT'],
    ['header TEE type', at.teeType, 'E_ATT_FORMAT'],
    ['header QE vendor id', at.qeVendorId + 5, 'E_ATT_FORMAT'],
    ['header user data', at.userData + 3, 'E_ATT_SIGNATURE'],
    ['body MRTD', at.mrtd + 7, 'E_ATT_SIGNATURE'],
    ['body RTMR0', at.rtmr0, 'E_ATT_SIGNATURE'],
    ['body RTMR3', at.rtmr3 + 47, 'E_ATT_SIGNATURE'],
    ['body REPORTDATA', at.reportData + 63, 'E_ATT_SIGNATURE'],
    ['body TDATTRIBUTES (DEBUG bit)', at.tdAttributes, 'E_ATT_SIGNATURE'],
    ['quote signature r', at.signature, 'E_ATT_SIGNATURE'],
    ['quote signature s', at.signature + 63, 'E_ATT_SIGNATURE'],
    ['attestation key', at.attestationKey + 10, 'E_ATT_CHAIN'],
    ['QE report', at.qeReport + 258, 'E_ATT_SIGNATURE'],
    ['QE report REPORTDATA', at.qeReport + 320, 'E_ATT_SIGNATURE'],
    ['QE report signature', at.qeReportSignature + 1, 'E_ATT_SIGNATURE'],
    ['QE auth data', at.qeAuthData + 2, 'E_ATT_CHAIN'],
    ['signature data length', at.signatureDataLength, 'E_ATT_FORMAT'],
    ['certification data type', at.certDataType, 'E_ATT_FORMAT'],
    ['QE auth data size', at.qeAuthDataSize, 'E_ATT_FORMAT'],
  ];
  for (const [field, offset, expected] of cases) t.equal(verifyCode(flipBit(spr, offset)), expected, field);
});

t.test('a changed certificate of the PCK chain is refused', async (t) => {
  const blocks = pemBlocks(spr);
  const names = ['PCK certificate', 'PCK Platform CA', 'Intel SGX Root CA'];
  blocks.forEach(({ cert }, i) => {
    const der = new Uint8Array(cert.raw);
    // A letter of the subject's "Santa Clara" (the last one: issuer comes first): the TBS the issuer signed.
    const subjectByte = Buffer.from(der).lastIndexOf('Santa Clara') + 1;
    t.equal(verifyCode(replaceCertificate(spr, i, flipBit(der, subjectByte))), 'E_ATT_CHAIN', `${names[i]} subject`);
    // The last byte of the certificate's own signature (s).
    t.equal(verifyCode(replaceCertificate(spr, i, flipBit(der, der.length - 1))), 'E_ATT_CHAIN', `${names[i]} signature`);
  });
});

t.test('the PCK chain must be exactly the certificates in canonical PEM', async (t) => {
  const blocks = pemBlocks(spr);
  const newline = blocks[0].offset + blocks[0].length - 1;
  const withSpace = spr.slice();
  withSpace[newline] = 0x20; // "-----END CERTIFICATE----- " then the next block
  t.equal(verifyCode(withSpace), 'E_ATT_FORMAT');
  const lastBase64 = blocks[2].offset + blocks[2].length - '=\n-----END CERTIFICATE-----\n'.length - 1;
  // 'I' -> 'K' changes only the base64 padding bits: the same DER, another text.
  t.equal(String.fromCharCode(spr[lastBase64]), 'I');
  t.equal(verifyCode(flipBit(spr, lastBase64, 1)), 'E_ATT_FORMAT');
});

t.test('the PCK chain must hold the PCK certificate, its CA and the root', async (t) => {
  const pem = pemBlocks(spr).map((b) => b.cert.toString());
  const chain = (...texts: string[]) => new Uint8Array(Buffer.from(texts.join(''), 'latin1'));
  t.equal(verifyCode(withPckChain(spr, chain(...pem))), 'accepted', 'rebuilt as it was');
  t.equal(verifyCode(withPckChain(spr, Buffer.concat([chain(...pem), Buffer.of(0)]))), 'accepted', 'with the C string NUL');
  t.equal(verifyCode(withPckChain(spr, Buffer.concat([chain(...pem), Buffer.of(0, 0)]))), 'E_ATT_FORMAT', 'with two NULs');
  t.equal(verifyCode(withPckChain(spr, chain(pem[0], pem[2]))), 'E_ATT_CHAIN', 'without the CA');
  t.equal(verifyCode(withPckChain(spr, chain(pem[1], pem[0], pem[2]))), 'E_ATT_CHAIN', 'out of order');
  t.equal(verifyCode(withPckChain(spr, chain(...pem, pem[2]))), 'E_ATT_FORMAT', 'four certificates');
  t.equal(verifyCode(withPckChain(spr, chain(pem[0], pem[1], pem[2].replace(/\n/g, '\r\n')))), 'E_ATT_FORMAT', 'CRLF line ends');
  t.equal(verifyCode(withPckChain(spr, new Uint8Array(0))), 'E_ATT_FORMAT', 'empty');
});

t.test('the first failing check is the error', async (t) => {
  const badQuoteSignature = flipBit(spr, at.signature);
  t.equal(verifyCode(badQuoteSignature, { at: new Date('2030-01-01T00:00:00Z'), rootFingerprints: intel }), 'E_ATT_EXPIRED');
  t.throws(() => verifyTdxEvidence(flipBit(badQuoteSignature, at.qeReportSignature), { at: when, rootFingerprints: intel }), {
    code: 'E_ATT_SIGNATURE',
    message: /QE report signature/,
  });
  t.throws(() => verifyTdxEvidence(flipBit(badQuoteSignature, at.qeAuthData), { at: when, rootFingerprints: intel }), {
    code: 'E_ATT_CHAIN',
    message: /does not bind the attestation key/,
  });
  t.throws(() => verifyTdxEvidence(badQuoteSignature, { at: when, rootFingerprints: intel }), { code: 'E_ATT_SIGNATURE', message: /quote signature/ });
});

t.test('a chain to another root is refused', async (t) => {
  t.equal(verifyCode(spr, { at: when, rootFingerprints: [syntheticRootFingerprint] }), 'E_ATT_CHAIN');
  t.equal(verifyCode(spr, { at: when, rootFingerprints: [] }), 'E_ATT_CHAIN');
  t.equal(verifyCode(spr, { at: when, rootFingerprints: [syntheticRootFingerprint, intelSgxRootCaFingerprint] }), 'accepted');
});

t.test('certificates are checked as of the given time', async (t) => {
  const leaf = pemBlocks(spr)[0].cert;
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  t.equal(notAfter.toISOString(), '2029-09-20T13:20:31.000Z');
  const opts = (time: Date) => ({ at: time, rootFingerprints: intel });
  t.equal(verifyCode(spr, opts(notAfter)), 'accepted', 'at its notAfter');
  t.equal(verifyCode(spr, opts(new Date(notAfter.getTime() + 1000))), 'E_ATT_EXPIRED', 'a second after');
  t.equal(verifyCode(spr, opts(notBefore)), 'accepted', 'at its notBefore');
  t.equal(verifyCode(spr, opts(new Date(notBefore.getTime() - 1000))), 'E_ATT_EXPIRED', 'a second before');
  // The Platform CA expires in 2033, before the root (2049).
  t.equal(verifyCode(spr, opts(new Date('2040-01-01T00:00:00Z'))), 'E_ATT_EXPIRED');
});

t.test('malformed lengths are refused as format errors', async (t) => {
  for (let length = 0; length < spr.length; length++) {
    if (verifyCode(spr.subarray(0, length)) !== 'E_ATT_FORMAT') t.fail(`truncated to ${length} bytes`);
  }
  t.pass(`every truncation (0..${spr.length - 1} bytes) refused`);
  t.equal(verifyCode(new Uint8Array(tdxQuoteBytesMax + 1)), 'E_ATT_FORMAT', 'oversized');
  const padded = new Uint8Array(spr.length + 1);
  padded.set(spr);
  t.throws(() => verifyTdxEvidence(padded, { at: when, rootFingerprints: intel }), { code: 'E_ATT_FORMAT', message: /trailing/ });
  // A signature data length that claims one byte more than there is.
  const longer = spr.slice();
  Buffer.from(longer.buffer).writeUInt32LE(spr.length - 636 + 1, at.signatureDataLength);
  t.equal(verifyCode(longer), 'E_ATT_FORMAT');
});

t.test('wrong header values and certification data types are refused', async (t) => {
  const set16 = (offset: number, value: number) => {
    const out = spr.slice();
    Buffer.from(out.buffer).writeUInt16LE(value, offset);
    return out;
  };
  t.throws(() => verifyTdxEvidence(set16(0, 5), { at: when, rootFingerprints: intel }), { code: 'E_ATT_FORMAT', message: /version 5/ });
  t.throws(() => verifyTdxEvidence(set16(0, 3), { at: when, rootFingerprints: intel }), { code: 'E_ATT_FORMAT', message: /version 3/ });
  t.throws(() => verifyTdxEvidence(set16(2, 3), { at: when, rootFingerprints: intel }), { code: 'E_ATT_FORMAT', message: /key type 3/ });
  t.throws(() => verifyTdxEvidence(set16(4, 0), { at: when, rootFingerprints: intel }), { code: 'E_ATT_FORMAT', message: /TEE type 0x0/ });
  t.throws(() => verifyTdxEvidence(set16(at.certDataType, 5), { at: when, rootFingerprints: intel }), {
    code: 'E_ATT_FORMAT',
    message: /certification data type 5 is not 6/,
  });
  for (const type of [1, 2, 3, 4, 6, 7]) {
    t.throws(() => verifyTdxEvidence(set16(pckCertDataAt(spr), type), { at: when, rootFingerprints: intel }), {
      code: 'E_ATT_FORMAT',
      message: new RegExp(`QE certification data type ${type} is not 5`),
    });
  }
});

t.test('a QE report signed by the PCK key but not binding the attestation key is refused', async (t) => {
  const quote = syntheticQuote('unbound-attestation-key');
  const leaf = pemBlocks(quote)[0].cert;
  const opts = { at: new Date(new Date(leaf.validFrom).getTime() + 3_600_000), rootFingerprints: [syntheticRootFingerprint] };
  t.throws(() => verifyTdxEvidence(quote, opts), { code: 'E_ATT_CHAIN', message: /does not bind the attestation key/ });
});

t.test("a QE report signed by the PCK key but not from Intel's TD QE is refused", async (t) => {
  const quote = syntheticQuote('not-intel-qe');
  const leaf = pemBlocks(quote)[0].cert;
  const opts = { at: new Date(new Date(leaf.validFrom).getTime() + 3_600_000), rootFingerprints: [syntheticRootFingerprint] };
  t.throws(() => verifyTdxEvidence(quote, opts), { code: 'E_ATT_CHAIN', message: /not from Intel's TD Quoting Enclave \(its MRSIGNER/ });
});

t.test('the pinned TD QE identity: every real QE report has it, and each field is checked', async (t) => {
  for (const vector of realVectors) {
    const quote = exactQuote(upstreamBytes(vector.file));
    t.equal(notIntelTdQe(quote.slice(at.qeReport, at.qeReport + 384)), null, vector.file);
  }
  const report = spr.slice(at.qeReport, at.qeReport + 384);
  t.equal(notIntelTdQe(flipBit(report, 128 + 31)), 'MRSIGNER');
  t.equal(notIntelTdQe(flipBit(report, 256)), 'ISVPRODID');
  t.equal(notIntelTdQe(flipBit(report, 16 + 3, 7)), 'MISCSELECT');
  t.equal(notIntelTdQe(flipBit(report, 48, 1)), 'ATTRIBUTES', 'a debug QE');
  t.equal(notIntelTdQe(flipBit(report, 48, 2)), null, 'MODE64BIT is masked out');
  t.equal(notIntelTdQe(flipBit(report, 258)), null, 'ISVSVN is TCB status, not identity');
});

t.test('the synthetic debug quote verifies and says debug', async (t) => {
  const quote = syntheticQuote('debug');
  const leaf = pemBlocks(quote)[0].cert;
  const opts = { at: new Date(new Date(leaf.validFrom).getTime() + 3_600_000), rootFingerprints: [syntheticRootFingerprint] };
  const claims = verifyTdxEvidence(quote, opts);
  t.equal(claims.debug, true);
  t.equal(claims.details.tdAttributes, '0100000000000000');
  t.same(claims.measurements.mrtd, new Uint8Array(48).fill(0x0d));
  t.same(claims.reportData, new Uint8Array(64).fill(0x5d));
  t.notOk('fmspc' in claims.details, 'a PCK certificate without the SGX extension yields no FMSPC');
  t.equal(verifyCode(quote, { at: opts.at, rootFingerprints: intel }), 'E_ATT_CHAIN', 'not under the Intel root');
});

t.test('any single bit flip in header, body or signature data is refused (fast-check)', async (t) => {
  // Every bit is covered: header and body by the quote signature, the
  // attestation key and QE auth data by the QE report, which the PCK key
  // signs, the certificates by their issuers and the pinned root, the PEM
  // text by its canonical form, and every type and length by the decoder.
  const quotes = realVectors.slice(0, 3).map((v) => exactQuote(upstreamBytes(v.file)));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: quotes.length - 1 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (which, position, bit) => {
      const quote = quotes[which];
      const result = verifyCode(flipBit(quote, position % quote.length, bit));
      return result !== 'accepted' && result !== 'other';
    }),
    { numRuns: 400 },
  );
  t.pass();
});
