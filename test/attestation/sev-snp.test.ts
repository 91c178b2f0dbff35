// The SEV-SNP verifier on real reports (Milan v2 and v5, Genoa v5: sources in
// test/vectors/README.md) and on reports signed by a synthetic chain; every
// refusal with its code.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toHex } from '../../attestation/bytes.ts';
import { AttestationError, type AttestationErrorCode } from '../../attestation/errors.ts';
import type { NativeVerifyOptions } from '../../attestation/hardware/native-claims.ts';
import { amdArkFingerprints, amdCertificates } from '../../attestation/sev-snp/amd-roots.ts';
import { splitSnpCertificates, vcekClaims } from '../../attestation/sev-snp/snp-certs.ts';
import { snpProductLines, type SnpProductLine } from '../../attestation/sev-snp/snp-report.ts';
import { verifySevSnpEvidence } from '../../attestation/sev-snp/snp-verifier.ts';
import { certificateFingerprint, verifyCertificateChain } from '../../attestation/x509/chain.ts';
import { resign, synthetic, syntheticAt, syntheticChain, syntheticReport } from '../vectors/sev-snp/synthetic/synthetic-report.ts';

const dir = new URL('../vectors/sev-snp/', import.meta.url);
const read = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));
const utf8 = (text: string) => new TextEncoder().encode(text);
const hex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));
const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

const amdRoots = snpProductLines.map((line) => hex(amdArkFingerprints[line]));
const amd = (at: string): NativeVerifyOptions => ({ at: new Date(at), rootFingerprints: amdRoots });
const syntheticOpts: NativeVerifyOptions = { at: syntheticAt, rootFingerprints: [synthetic.arkFingerprint] };

interface Vector {
  name: string;
  report: Uint8Array;
  certs: Uint8Array;
  at: string;
  line: SnpProductLine;
  version: number;
  debug: boolean;
  reportedTcb: [number, number, number, number];
}

const vectors: Vector[] = [
  {
    name: 'go-sev-guest Milan, version 2, debug policy',
    report: read('go-sev-guest-milan-v2-report.bin'),
    certs: read('go-sev-guest-milan-vcek.der'),
    at: '2025-06-01T00:00:00Z',
    line: 'Milan',
    version: 2,
    debug: true,
    reportedTcb: [2, 0, 5, 68],
  },
  {
    name: 'virtee/sev Milan, version 2',
    report: hex(readFileSync(new URL('virtee-milan-v2-report.hex', dir), 'utf8').trim()),
    certs: read('virtee-milan-vcek.der'),
    at: '2025-06-01T00:00:00Z',
    line: 'Milan',
    version: 2,
    debug: false,
    reportedTcb: [3, 0, 8, 115],
  },
  {
    name: 'teekit Google Cloud Milan, version 5, VCEK with ASK and ARK (PEM)',
    report: read('teekit-gcp-milan-v5-report.bin'),
    certs: concat(read('teekit-gcp-milan-vcek.pem'), read('teekit-gcp-milan-cert-chain.pem')),
    at: '2026-06-01T00:00:00Z',
    line: 'Milan',
    version: 5,
    debug: false,
    reportedTcb: [4, 0, 27, 222],
  },
  {
    name: 'attestation-rs Genoa, version 5',
    report: read('lunal-genoa-v5-report.bin'),
    certs: read('lunal-genoa-vcek.der'),
    at: '2026-06-01T00:00:00Z',
    line: 'Genoa',
    version: 5,
    debug: false,
    reportedTcb: [10, 0, 27, 27],
  },
  {
    name: 'Project Oak Turin, version 5, 8-byte chip id, FMC in the TCB',
    report: read('oak-turin-v5-report.bin'),
    certs: read('oak-turin-vcek.der'),
    at: '2026-06-01T00:00:00Z',
    line: 'Turin',
    version: 5,
    debug: false,
    reportedTcb: [1, 0, 2, 71],
  },
];
const [goSevGuest, virtee, gcp, genoa, turin] = vectors;

function refuses(t: Test, code: AttestationErrorCode, fn: () => unknown, message: string) {
  t.throws(fn, { name: 'AttestationError', code }, message);
}

const flip = (bytes: Uint8Array, at: number, mask = 1) => {
  const out = new Uint8Array(bytes);
  out[at] ^= mask;
  return out;
};

t.test('real reports verify with their VCEK and the built-in or given ASK, ARK', async (t) => {
  for (const v of vectors) {
    const claims = verifySevSnpEvidence(v.report, v.certs, amd(v.at));
    t.equal(claims.platform, 'amd-sev-snp-v1', v.name);
    t.same(claims.reportData, v.report.subarray(0x50, 0x90), `${v.name}: REPORT_DATA at 0x50`);
    t.same(claims.measurements.measurement, v.report.subarray(0x90, 0xc0), `${v.name}: MEASUREMENT at 0x90`);
    t.same(claims.measurements.hostData, v.report.subarray(0xc0, 0xe0), `${v.name}: HOST_DATA at 0xC0`);
    t.equal(toHex(claims.rootFingerprint), amdArkFingerprints[v.line], `${v.name}: chained to the ${v.line} ARK`);
    t.equal(claims.debug, v.debug);
    t.equal(claims.issuedAt, null);
    t.equal(claims.details.productLine, v.line);
    t.equal(claims.details.version, v.version);
    t.equal(claims.details.chipId, toHex(v.report.subarray(0x1a0, 0x1e0)));
    const [bootloader, tee, snp, microcode] = v.reportedTcb;
    t.same(
      [claims.details['reportedTcb.bootloader'], claims.details['reportedTcb.tee'], claims.details['reportedTcb.snp'], claims.details['reportedTcb.microcode']],
      [bootloader, tee, snp, microcode],
      `${v.name}: REPORTED_TCB`,
    );
    t.same(claims.checks.map((c) => c.check), ['format', 'signature', 'chain', 'root', 'validity', 'vcek']);
    t.ok(claims.notChecked.length > 0);
    t.same(JSON.parse(JSON.stringify(claims.details)), claims.details, 'details are JSON-safe');
  }
  // Known values, read off hex dumps of the samples (and teekit's SAMPLES.md: version 5, VMPL 0).
  t.equal(toHex(verifySevSnpEvidence(goSevGuest.report, goSevGuest.certs, amd(goSevGuest.at)).measurements.measurement).slice(0, 16), 'b07af9620f3b839b');
  t.equal(verifySevSnpEvidence(goSevGuest.report, goSevGuest.certs, amd(goSevGuest.at)).details.policy, '0x00000000000b0000');
  const gcpClaims = verifySevSnpEvidence(gcp.report, gcp.certs, amd(gcp.at));
  t.equal(gcpClaims.details.vmpl, 0);
  t.equal(gcpClaims.details.firmware, '1.55.35', 'CURRENT_MAJOR.MINOR.BUILD at 0x1EA, 0x1E9, 0x1E8');
  t.equal(gcpClaims.details.platformInfo, '0x0000000000000025');
  t.equal(verifySevSnpEvidence(goSevGuest.report, goSevGuest.certs, amd(goSevGuest.at)).details.firmware, '1.49.3');
  // Turin's TCB_VERSION is FMC, BOOT_LOADER, TEE, SNP, -, -, -, MICROCODE: 00 01 00 02 00 00 00 47.
  const turinClaims = verifySevSnpEvidence(turin.report, turin.certs, amd(turin.at));
  t.equal(turinClaims.details['reportedTcb.fmc'], 0);
  t.equal(turinClaims.details.chipId.toString().slice(0, 16), '3b42092f69c656d3');
  t.notOk('reportedTcb.fmc' in gcpClaims.details, 'no FMC before Turin');
});

t.test('the built-in AMD certificates: pinned fingerprints, ASK signed by ARK, Turin chain', async (t) => {
  for (const line of snpProductLines) {
    const ark = new X509Certificate(amdCertificates[line].ark);
    const ask = new X509Certificate(amdCertificates[line].ask);
    t.equal(toHex(certificateFingerprint(ark)), amdArkFingerprints[line], `${line} ARK fingerprint`);
    t.ok(ark.verify(ark.publicKey), `${line} ARK self-signed`);
    t.ok(ask.verify(ark.publicKey), `${line} ASK signed by the ARK`);
    t.match(ark.subject, new RegExp(`CN=ARK-${line}`));
    t.match(ask.subject, new RegExp(`CN=SEV-${line}`));
  }
  t.same(
    read('teekit-gcp-milan-cert-chain.pem'),
    utf8(amdCertificates.Milan.ask + amdCertificates.Milan.ark),
    "a third source's Milan cert_chain is byte-identical",
  );
  // A second Turin VCEK (another chip, no report): its chain and extensions.
  const turinVcek = new X509Certificate(read('virtee-turin-vcek.der'));
  const chain = [turinVcek, new X509Certificate(amdCertificates.Turin.ask), new X509Certificate(amdCertificates.Turin.ark)];
  t.ok(verifyCertificateChain(chain, { at: new Date('2026-01-01T00:00:00Z'), rootFingerprints: amdRoots, what: 'Turin' }));
  const claims = vcekClaims(turinVcek, 'Turin');
  t.equal(toHex(claims.hwId), '1e550a8ee5cf9f4d', 'Turin hwID: the first 8 bytes of CHIP_ID');
  t.same(claims.tcb, { fmc: 0, bootloader: 0, tee: 0, snp: 0, microcode: 9 }, 'Turin TCB extensions, FMC (…3704.1.3.9) included');
});

t.test('aux formats: PEM, concatenated DER, configfs-tsm certificate table', async (t) => {
  const vcekDer = goSevGuest.certs;
  const askDer = der(amdCertificates.Milan.ask);
  const arkDer = der(amdCertificates.Milan.ark);
  const vcekPem = new X509Certificate(vcekDer).toString();
  const accept = (certs: Uint8Array, why: string) => t.ok(verifySevSnpEvidence(goSevGuest.report, certs, amd(goSevGuest.at)), why);
  accept(utf8(vcekPem), 'VCEK alone, PEM');
  accept(utf8(`\n${vcekPem}${amdCertificates.Milan.ask}${amdCertificates.Milan.ark}`), 'VCEK, ASK, ARK, PEM');
  accept(concat(vcekDer, askDer, arkDer), 'VCEK, ASK, ARK, DER');
  accept(concat(vcekDer, askDer), 'VCEK, ASK (built-in ARK), DER');

  const guid = (text: string) => hex(text.replace(/-/g, ''));
  const table = (entries: [Uint8Array, Uint8Array][], extra = 0) => {
    const header = (entries.length + 1) * 24 + extra;
    const head = new Uint8Array(header);
    const view = new DataView(head.buffer);
    let offset = header;
    entries.forEach(([id, body], i) => {
      head.set(id, i * 24);
      view.setUint32(i * 24 + 16, offset, true);
      view.setUint32(i * 24 + 20, body.length, true);
      offset += body.length;
    });
    return concat(head, ...entries.map(([, body]) => body));
  };
  const vcekId = guid('63da758d-e664-4564-adc5-f4b93be8accd');
  const askId = guid('4ab7b379-bbac-4fe4-a02f-05aef327c782');
  const arkId = guid('c0b406a4-a803-4952-9743-3fb6014cd0ae');
  const crlId = guid('92f81bc3-5811-4d3d-97ff-d19f88dc67ea');
  accept(table([[arkId, arkDer], [askId, askDer], [crlId, utf8('not read')], [vcekId, vcekDer]]), 'table, any order, CRL skipped');
  accept(table([[vcekId, vcekDer]]), 'table with the VCEK alone');

  const bad = (certs: Uint8Array, why: string) => refuses(t, 'E_ATT_FORMAT', () => verifySevSnpEvidence(goSevGuest.report, certs, amd(goSevGuest.at)), why);
  bad(new Uint8Array(0), 'empty aux');
  bad(new Uint8Array(64 * 1024 + 1).fill(0x30), 'aux over the bound');
  bad(concat(vcekDer, Uint8Array.of(0x30)), 'DER with a truncated trailing certificate');
  bad(concat(vcekDer, askDer, arkDer, arkDer), 'more than three DER certificates');
  bad(utf8(`${vcekPem}junk`), 'PEM with other text');
  bad(table([[askId, askDer]]), 'table without a VCEK');
  bad(table([[vcekId, vcekDer], [vcekId, vcekDer]]), 'table with two VCEKs');
  bad(table([[vcekId, vcekDer]]).subarray(0, 24), 'table without its terminator');
  const outside = table([[vcekId, vcekDer]]);
  new DataView(outside.buffer).setUint32(20, vcekDer.length + 1, true);
  bad(outside, 'table entry past the end');
  const intoHeader = table([[vcekId, vcekDer]]);
  new DataView(intoHeader.buffer).setUint32(16, 0, true);
  bad(intoHeader, 'table entry pointing into the table');
  const intoLaterEntry = table([[vcekId, vcekDer], [askId, askDer]]);
  new DataView(intoLaterEntry.buffer).setUint32(16, 24, true);
  bad(intoLaterEntry, 'table entry pointing at a later entry of the table');
  bad(table([[vcekId, vcekDer.subarray(0, 100)]]), 'table entry that is not a certificate');
  bad(table([[vcekId, vcekDer], [arkId, arkDer]]), 'table with an ARK but no ASK');
  bad(table([[vcekId, vcekDer], ...Array.from({ length: 16 }, (): [Uint8Array, Uint8Array] => [crlId, utf8('x')])]), 'table of 17 entries');
  accept(table([[vcekId, vcekDer], ...Array.from({ length: 15 }, (): [Uint8Array, Uint8Array] => [crlId, utf8('x')])]), 'table of 16 entries');
});

t.test('a flipped bit anywhere in the signed body is a bad signature', async (t) => {
  const regions: [string, number][] = [
    ['POLICY (SMT bit)', 0x0a],
    ['VMPL', 0x30],
    ['REPORT_DATA', 0x50],
    ['MEASUREMENT', 0x90],
    ['HOST_DATA', 0xc0],
    ['REPORTED_TCB', 0x180],
    ['CHIP_ID', 0x1a0],
    ['LAUNCH_TCB', 0x1f0],
  ];
  for (const [name, at] of regions) {
    refuses(t, 'E_ATT_SIGNATURE', () => verifySevSnpEvidence(flip(gcp.report, at), gcp.certs, amd(gcp.at)), name);
  }
  refuses(t, 'E_ATT_SIGNATURE', () => verifySevSnpEvidence(flip(gcp.report, 0x2a0), gcp.certs, amd(gcp.at)), 'R');
  refuses(t, 'E_ATT_SIGNATURE', () => verifySevSnpEvidence(flip(gcp.report, 0x2a0 + 72), gcp.certs, amd(gcp.at)), 'S');
  refuses(t, 'E_ATT_SIGNATURE', () => verifySevSnpEvidence(flip(gcp.report, 0x2a0 + 48), gcp.certs, amd(gcp.at)), 'R above its 48 bytes');
  refuses(t, 'E_ATT_SIGNATURE', () => verifySevSnpEvidence(flip(gcp.report, 0x2a0 + 72 + 71, 0x80), gcp.certs, amd(gcp.at)), 'S above its 48 bytes');
  refuses(t, 'E_ATT_FORMAT', () => verifySevSnpEvidence(flip(gcp.report, 0x2a0 + 0x90), gcp.certs, amd(gcp.at)), 'signature reserved bytes');
  const zeroR = new Uint8Array(gcp.report);
  zeroR.fill(0, 0x2a0, 0x2a0 + 72);
  refuses(t, 'E_ATT_SIGNATURE', () => verifySevSnpEvidence(zeroR, gcp.certs, amd(gcp.at)), 'R = 0');
});

t.test('property: any single bit flip in the body or the signature is refused', async (t) => {
  const bit = fc.integer({ min: 0, max: 0x4a0 * 8 - 1 });
  fc.assert(
    fc.property(bit, (n) => {
      const report = flip(gcp.report, n >> 3, 1 << (n & 7));
      try {
        verifySevSnpEvidence(report, gcp.certs, amd(gcp.at));
        return false;
      } catch (error) {
        return error instanceof AttestationError;
      }
    }),
    { numRuns: 300 },
  );
  t.pass('every flip refused with an AttestationError');
});

t.test('certificates: flipped DER, wrong root, wrong VCEK', async (t) => {
  const vcekDer = goSevGuest.certs;
  const askDer = der(amdCertificates.Milan.ask);
  const arkDer = der(amdCertificates.Milan.ark);
  const run = (certs: Uint8Array, opts = amd(goSevGuest.at)) => () => verifySevSnpEvidence(goSevGuest.report, certs, opts);
  // The last byte is in each certificate's signature value: the DER still parses, the signature breaks.
  refuses(t, 'E_ATT_CHAIN', run(flip(vcekDer, vcekDer.length - 1)), 'VCEK DER flipped');
  refuses(t, 'E_ATT_CHAIN', run(concat(vcekDer, flip(askDer, askDer.length - 1), arkDer)), 'ASK DER flipped');
  const badArk = flip(arkDer, arkDer.length - 1);
  refuses(t, 'E_ATT_CHAIN', run(concat(vcekDer, askDer, badArk)), 'ARK DER flipped: not a pinned root');
  const badArkPin = certificateFingerprint(new X509Certificate(badArk));
  refuses(t, 'E_ATT_CHAIN', run(concat(vcekDer, askDer, badArk), { at: new Date(goSevGuest.at), rootFingerprints: [badArkPin] }), 'ARK DER flipped and pinned: self-signature');
  // A flip inside the VCEK's public key moves the point off the curve: the key does not decode.
  const vcek = new X509Certificate(vcekDer);
  const keyAt = Buffer.from(vcekDer).indexOf(Buffer.from(vcek.publicKey.export({ format: 'der', type: 'spki' })).subarray(-40));
  refuses(t, 'E_ATT_FORMAT', run(flip(vcekDer, keyAt + 20)), 'VCEK public key flipped');
  refuses(t, 'E_ATT_CHAIN', run(concat(askDer, askDer, arkDer)), 'the ASK where the VCEK should be');

  refuses(t, 'E_ATT_CHAIN', run(vcekDer, { at: new Date(goSevGuest.at), rootFingerprints: [hex(amdArkFingerprints.Genoa)] }), 'only another root pinned');
  refuses(t, 'E_ATT_CHAIN', run(vcekDer, { at: new Date(goSevGuest.at), rootFingerprints: [] }), 'nothing pinned');
  refuses(t, 'E_ATT_CHAIN', run(vcekDer, syntheticOpts), 'the synthetic root pinned instead');
  refuses(t, 'E_ATT_CHAIN', run(concat(vcekDer, der(amdCertificates.Genoa.ask), der(amdCertificates.Genoa.ark))), 'Genoa ASK, ARK for a Milan VCEK');

  refuses(t, 'E_ATT_SIGNATURE', run(virtee.certs), "another Milan chip's VCEK");
  refuses(t, 'E_ATT_SIGNATURE', () => verifySevSnpEvidence(genoa.report, goSevGuest.certs, amd(genoa.at)), 'a Milan VCEK for a Genoa report');
  refuses(t, 'E_ATT_SIGNATURE', () => verifySevSnpEvidence(turin.report, read('virtee-turin-vcek.der'), amd(turin.at)), "another Turin chip's VCEK");
  refuses(t, 'E_ATT_CHAIN', () => verifySevSnpEvidence(read('lunal-milan-vlek-report.bin'), goSevGuest.certs, amd(goSevGuest.at)), 'a VLEK-signed report');
});

t.test('validity: checked as of opts.at', async (t) => {
  const vcek = new X509Certificate(goSevGuest.certs);
  const day = 86_400_000;
  const at = (ms: number) => ({ at: new Date(ms), rootFingerprints: amdRoots });
  const notAfter = new Date(vcek.validTo).getTime();
  const notBefore = new Date(vcek.validFrom).getTime();
  t.ok(verifySevSnpEvidence(goSevGuest.report, goSevGuest.certs, at(notAfter - day)), 'a day before the VCEK expires');
  t.ok(verifySevSnpEvidence(goSevGuest.report, goSevGuest.certs, at(notBefore + day)), 'a day after it was issued');
  refuses(t, 'E_ATT_EXPIRED', () => verifySevSnpEvidence(goSevGuest.report, goSevGuest.certs, at(notAfter + day)), 'after the VCEK notAfter');
  refuses(t, 'E_ATT_EXPIRED', () => verifySevSnpEvidence(goSevGuest.report, goSevGuest.certs, at(notBefore - day)), 'before the VCEK notBefore');

  const askNotAfter = new Date(new X509Certificate(synthetic.ask).validTo).getTime();
  const vcekNotAfter = new Date(new X509Certificate(synthetic.vcek).validTo).getTime();
  t.ok(askNotAfter < vcekNotAfter, 'the synthetic ASK expires before its VCEK');
  const report = syntheticReport();
  t.ok(verifySevSnpEvidence(report, syntheticChain(), { ...syntheticOpts, at: new Date(askNotAfter - day) }));
  t.throws(
    () => verifySevSnpEvidence(report, syntheticChain(), { ...syntheticOpts, at: new Date(askNotAfter + day) }),
    { code: 'E_ATT_EXPIRED', message: /certificate 1 \(.*CN=SEV-Milan/ },
    'after the ASK notAfter, with the VCEK still valid',
  );
});

t.test('synthetic reports: the VCEK must be for this chip and this TCB', async (t) => {
  t.ok(verifySevSnpEvidence(syntheticReport(), syntheticChain(), syntheticOpts), 'baseline');
  t.ok(verifySevSnpEvidence(syntheticReport({ version: 3, cpuid: [0x19, 0x01, 0x01] }), syntheticChain(), syntheticOpts), 'version 3, Milan CPUID');
  t.ok(verifySevSnpEvidence(syntheticReport({ version: 5, cpuid: [0x19, 0x01, 0x01] }), syntheticChain(), syntheticOpts), 'version 5');
  refuses(t, 'E_ATT_CHAIN', () => verifySevSnpEvidence(syntheticReport(), syntheticChain(synthetic.vcekOtherChip), syntheticOpts), 'VCEK of another chip, same key');
  refuses(t, 'E_ATT_CHAIN', () => verifySevSnpEvidence(syntheticReport(), syntheticChain(synthetic.vcekOtherTcb), syntheticOpts), 'VCEK for another microcode SPL');
  refuses(t, 'E_ATT_CHAIN', () => verifySevSnpEvidence(syntheticReport(), syntheticChain(synthetic.vcekP256), syntheticOpts), 'VCEK with a P-256 key');
  const tcb = synthetic.tcb;
  for (const part of ['bootloader', 'tee', 'snp', 'microcode'] as const) {
    const report = syntheticReport({ reportedTcb: { ...tcb, [part]: tcb[part] + 1 } });
    refuses(t, 'E_ATT_CHAIN', () => verifySevSnpEvidence(report, syntheticChain(), syntheticOpts), `REPORTED_TCB ${part} above the VCEK's`);
  }
  refuses(t, 'E_ATT_CHAIN', () => verifySevSnpEvidence(syntheticReport({ chipId: new Uint8Array(64), signer: 2 }), syntheticChain(), syntheticOpts), 'masked CHIP_ID');
  refuses(t, 'E_ATT_CHAIN', () => verifySevSnpEvidence(syntheticReport({ version: 3, cpuid: [0x1a, 0x02, 0x00] }), syntheticChain(), syntheticOpts), 'Turin CPUID, Milan VCEK');
  refuses(t, 'E_ATT_CHAIN', () => verifySevSnpEvidence(syntheticReport({ signer: 1 << 2 }), syntheticChain(), syntheticOpts), 'SIGNING_KEY 1 (VLEK)');
  refuses(t, 'E_ATT_CHAIN', () => verifySevSnpEvidence(syntheticReport({ signer: 7 << 2 }), syntheticChain(), syntheticOpts), 'SIGNING_KEY 7 (none)');
});

t.test('format: length, version, algorithm, reserved fields', async (t) => {
  const format = (report: Uint8Array, why: string) => refuses(t, 'E_ATT_FORMAT', () => verifySevSnpEvidence(report, syntheticChain(), syntheticOpts), why);
  const good = syntheticReport();
  format(good.subarray(0, 0x4a0 - 1), 'truncated by one byte');
  format(concat(good, new Uint8Array(1)), 'one byte too many');
  format(new Uint8Array(0), 'empty');
  for (const version of [0, 1, 4, 6]) format(syntheticReport({ version }), `VERSION ${version}`);
  for (const algo of [0, 2]) format(syntheticReport({ signatureAlgo: algo }), `SIGNATURE_ALGO ${algo}`);
  format(syntheticReport({ policy: 0x10000n }), 'POLICY bit 17 (must be one) clear');
  format(syntheticReport({ policy: 0x30000n | (1n << 26n) }), 'POLICY bit 26 (reserved) set');
  format(syntheticReport({ signer: 1 << 5 }), 'signer flags bit 5 (reserved) set');
  format(syntheticReport({ cpuid: [0x19, 0x01, 0x01] }), 'CPUID bytes in a version 2 report');
  const reserved = (at: number) => resign(flip(syntheticReport({ version: 5, cpuid: [0x19, 0x01, 0x01] }), at));
  for (const at of [0x04c, 0x18b, 0x19f, 0x1eb, 0x1ef, 0x208, 0x29f]) format(reserved(at), `reserved byte 0x${at.toString(16)}`);
  t.ok(verifySevSnpEvidence(reserved(0x1f8), syntheticChain(), syntheticOpts), 'mitigation vector bytes are fields in version 5');
  format(resign(flip(syntheticReport({ version: 3 }), 0x1f8)), 'mitigation vector bytes are reserved before version 5');
});

t.test('decoded fields come from their own offsets', async (t) => {
  const report = syntheticReport({ version: 3, cpuid: [0x19, 0x01, 0x01], vmpl: 3, policy: 0x30000n | 0x0501n | (1n << 20n) });
  const view = new DataView(report.buffer);
  view.setUint32(0x004, 7, true); // GUEST_SVN
  report.set([1, 2, 0, 0, 0, 0, 3, 4], 0x038); // CURRENT_TCB
  view.setBigUint64(0x040, 0x25n, true); // PLATFORM_INFO
  view.setUint32(0x048, 1, true); // AUTHOR_KEY_EN
  report.fill(0xc3, 0x0c0, 0x0e0); // HOST_DATA
  report.set([5, 6, 0, 0, 0, 0, 7, 8], 0x1e0); // COMMITTED_TCB
  report.set([9, 10, 11], 0x1e8); // CURRENT_BUILD, MINOR, MAJOR
  report.set([12, 13, 14], 0x1ec); // COMMITTED_BUILD, MINOR, MAJOR
  report.set([1, 0, 0, 0, 0, 0, 2, 3], 0x1f0); // LAUNCH_TCB
  const claims = verifySevSnpEvidence(resign(report), syntheticChain(), syntheticOpts);
  t.match(claims.details, {
    guestSvn: 7,
    vmpl: 3,
    policy: '0x0000000000130501',
    abiMajor: 5,
    abiMinor: 1,
    singleSocket: true,
    platformInfo: '0x0000000000000025',
    authorKeyEn: true,
    firmware: '11.10.9',
    committedFirmware: '14.13.12',
    'currentTcb.bootloader': 1,
    'currentTcb.tee': 2,
    'currentTcb.snp': 3,
    'currentTcb.microcode': 4,
    'committedTcb.bootloader': 5,
    'committedTcb.tee': 6,
    'committedTcb.snp': 7,
    'committedTcb.microcode': 8,
    'launchTcb.bootloader': 1,
    'launchTcb.snp': 2,
    'launchTcb.microcode': 3,
  });
  t.same(claims.measurements.hostData, new Uint8Array(32).fill(0xc3));
  t.same(claims.reportData, new Uint8Array(64).fill(0xa5));
  t.same(claims.measurements.measurement, new Uint8Array(48).fill(0x5a));
});
