// The evidence envelope (v3), the sim report and chip-certificate codecs:
// round trips over arbitrary field values, the byte layout docs/ATTESTATION.md
// gives (checked with @noble/hashes), and refusal of every truncation,
// trailing bytes, a wrong magic or version, platform names outside the
// allowed alphabet and evidence over the size bound.
import t from 'tap';
import fc from 'fast-check';
import { sha512 } from '@noble/hashes/sha2.js';
import { decodeChipCert, encodeChipCert } from '../../attestation/chip-cert.ts';
import { decodeEvidence, encodeEvidence, nativeReportData, type EvidenceHead } from '../../attestation/evidence.ts';
import { evidenceBytesMax } from '../../attestation/limits.ts';
import { createSimReporter, decodeSimReport } from '../../attestation/sim-report.ts';
import { simSetup } from './sim-setup.ts';

const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const platformName = fc.stringMatching(/^[a-z0-9.-]{1,32}$/);

const headArb: fc.Arbitrary<EvidenceHead> = fc
  .record({
    platform: platformName,
    buildDigest: bytes(32),
    managerPublicKey: bytes(32),
    sectorBytes: fc.integer({ min: 1, max: 0xffffffff }),
    sectorCount: fc.integer({ min: 1, max: 0xffffffff }),
    reportData: bytes(32),
  })
  .map((f) => ({
    platform: f.platform,
    buildDigest: f.buildDigest,
    config: { managerPublicKey: f.managerPublicKey, sectorBytes: f.sectorBytes, sectorCount: f.sectorCount },
    reportData: f.reportData,
  }));

t.test('evidence round trip: decode(encode(e)) = e, the length is 118 + P + native + aux', async (t) => {
  fc.assert(
    fc.property(headArb, fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (head, native, aux) => {
      const encoded = encodeEvidence(head, native, aux);
      const decoded = decodeEvidence(encoded);
      return (
        t.equal(encoded.length, 118 + head.platform.length + native.length + aux.length) &&
        t.same({ ...decoded, binding: undefined }, { ...head, native, aux, binding: undefined }) &&
        t.same(decoded.binding, nativeReportData(head))
      );
    }),
    { numRuns: 200 },
  );
});

t.test('the binding is SHA-512 over the label and the head, as documented (checked with @noble)', async (t) => {
  const head = fc.sample(headArb, 1)[0];
  const encoded = encodeEvidence(head, Uint8Array.of(1, 2, 3), new Uint8Array(0));
  const P = head.platform.length;
  t.equal(new TextDecoder().decode(encoded.subarray(0, 4)), 'TEEV');
  t.equal(encoded[4], 3, 'format version 3');
  t.same(encoded.subarray(78 + P, 110 + P), head.reportData, 'session report data after the launch config');
  t.same(encoded.subarray(110 + P, 114 + P), Uint8Array.of(0, 0, 0, 3), 'native length');
  const label = new TextEncoder().encode('teearray evidence v3\0');
  t.same(nativeReportData(head), sha512(Uint8Array.from([...label, ...encoded.subarray(0, 110 + P)])));
});

t.test('evidence: every truncation, any trailing byte, empty native evidence and oversize are E_ATT_FORMAT', async (t) => {
  const { chip, config, buildDigest } = simSetup();
  const head = { platform: chip.cert.platform, buildDigest, config, reportData: new Uint8Array(32).fill(9) };
  const native = createSimReporter(chip, new Uint8Array(32)).report(nativeReportData(head)).evidence;
  const evidence = encodeEvidence(head, native, Uint8Array.of(7));
  t.ok(decodeEvidence(evidence));
  for (let length = 0; length < evidence.length; length++) {
    t.throws(() => decodeEvidence(evidence.subarray(0, length)), { code: 'E_ATT_FORMAT' }, `truncated to ${length}`);
  }
  for (const extra of [1, 64]) {
    const longer = new Uint8Array(evidence.length + extra);
    longer.set(evidence);
    t.throws(() => decodeEvidence(longer), { code: 'E_ATT_FORMAT', message: /trailing/ });
  }
  t.throws(() => decodeEvidence(encodeEvidence(head, new Uint8Array(0), new Uint8Array(0))), { code: 'E_ATT_FORMAT', message: /no native/ });
  const huge = encodeEvidence(head, new Uint8Array(evidenceBytesMax), new Uint8Array(0));
  t.throws(() => decodeEvidence(huge), { code: 'E_ATT_FORMAT', message: /more than 32768/ });
  t.throws(() => decodeEvidence(encodeEvidence(head, native, new Uint8Array(0)).subarray(0, 200)), { code: 'E_ATT_FORMAT' });
});

t.test('evidence header and platform name are checked', async (t) => {
  const head = { ...fc.sample(headArb, 1)[0], platform: 'sim-tee-v1' };
  const good = encodeEvidence(head, Uint8Array.of(1), new Uint8Array(0));
  const mutate = (offset: number, value: number) => {
    const copy = good.slice();
    copy[offset] = value;
    return copy;
  };
  t.throws(() => decodeEvidence(mutate(0, 0x58)), { code: 'E_ATT_FORMAT', message: /magic/ });
  t.throws(() => decodeEvidence(mutate(4, 2)), { code: 'E_ATT_FORMAT', message: /version 2 is not 3/ }, 'the retired v2 format');
  t.throws(() => decodeEvidence(mutate(5, 0)), { code: 'E_ATT_FORMAT', message: /platform length/ });
  t.throws(() => decodeEvidence(mutate(5, 33)), { code: 'E_ATT_FORMAT', message: /platform length/ });
  t.throws(() => decodeEvidence(mutate(6, 0x41)), { code: 'E_ATT_FORMAT', message: /platform/ }); // 'A'
  t.throws(() => decodeEvidence(mutate(6, 0x20)), { code: 'E_ATT_FORMAT', message: /platform/ }); // ' '
  // Sector bytes is the u32 at 6 + 10 + 32 + 32: zero is out of bounds.
  const zeroSectors = good.slice();
  zeroSectors.fill(0, 80, 84);
  t.throws(() => decodeEvidence(zeroSectors), { code: 'E_ATT_CONFIG', message: /sectorBytes/ });
});

t.test('sim report: layout, every truncation and trailing bytes', async (t) => {
  const { chip } = simSetup();
  const data = new Uint8Array(64).fill(5);
  const report = createSimReporter(chip, new Uint8Array(32).fill(3)).report(data);
  t.equal(report.provider, 'sim');
  t.equal(report.aux.length, 0);
  const bytes = report.evidence;
  const P = chip.cert.platform.length;
  t.equal(bytes.length, 294 + P);
  t.equal(new TextDecoder().decode(bytes.subarray(0, 4)), 'TESR');
  t.same(bytes.subarray(6 + P + 32, 6 + P + 96), data, 'report data after the measurement');
  t.same(decodeSimReport(bytes).chipCert, chip.cert);
  for (let length = 0; length < bytes.length; length++) t.throws(() => decodeSimReport(bytes.subarray(0, length)), { code: 'E_ATT_FORMAT' });
  t.throws(() => decodeSimReport(Uint8Array.from([...bytes, 0])), { code: 'E_ATT_FORMAT', message: /trailing/ });
  t.throws(() => createSimReporter(chip, new Uint8Array(32)).report(new Uint8Array(32)), { code: 'E_ATT_REPORT_DATA' }, 'the reporter takes 64 bytes');
});

t.test('chip certificate round trip and refusals', async (t) => {
  const { chip } = simSetup();
  const encoded = encodeChipCert(chip.cert);
  t.same(decodeChipCert(encoded), chip.cert);
  for (let length = 0; length < encoded.length; length++) {
    t.throws(() => decodeChipCert(encoded.subarray(0, length)), { code: 'E_ATT_FORMAT' });
  }
  t.throws(() => decodeChipCert(Uint8Array.from([...encoded, 0])), { code: 'E_ATT_FORMAT', message: /trailing/ });
  const wrongMagic = encoded.slice();
  wrongMagic[0] ^= 1;
  t.throws(() => decodeChipCert(wrongMagic), { code: 'E_ATT_FORMAT', message: /magic/ });
});
