// The evidence and chip-certificate codecs: round trips over arbitrary
// field values, and refusal of every truncation, trailing bytes, a wrong
// magic or version, and platform names outside the allowed alphabet.
import t from 'tap';
import fc from 'fast-check';
import { decodeChipCert, encodeChipCert } from '../../attestation/chip-cert.ts';
import { decodeEvidence, encodeEvidence, signEvidence } from '../../attestation/evidence.ts';
import type { Evidence } from '../../attestation/evidence.ts';
import { simSetup } from './sim-setup.ts';

const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const platformName = fc.stringMatching(/^[a-z0-9.-]{1,32}$/);

const evidenceArb: fc.Arbitrary<Evidence> = fc
  .record({
    platform: platformName,
    buildDigest: bytes(32),
    managerPublicKey: bytes(32),
    sectorBytes: fc.integer({ min: 1, max: 0xffffffff }),
    sectorCount: fc.integer({ min: 1, max: 0xffffffff }),
    measurement: bytes(32),
    reportData: bytes(32),
    rootPublicKey: bytes(32),
    chipPublicKey: bytes(32),
    certSignature: bytes(64),
    signature: bytes(64),
  })
  .map((f) => ({
    platform: f.platform,
    buildDigest: f.buildDigest,
    config: { managerPublicKey: f.managerPublicKey, sectorBytes: f.sectorBytes, sectorCount: f.sectorCount },
    measurement: f.measurement,
    reportData: f.reportData,
    chipCert: { platform: f.platform, rootPublicKey: f.rootPublicKey, chipPublicKey: f.chipPublicKey, signature: f.certSignature },
    signature: f.signature,
  }));

t.test('evidence round trip: decode(encode(e)) = e and the length is 334 + platform length', async (t) => {
  fc.assert(
    fc.property(evidenceArb, (evidence) => {
      const encoded = encodeEvidence(evidence);
      return t.equal(encoded.length, 334 + evidence.platform.length) && t.same(decodeEvidence(encoded), evidence);
    }),
    { numRuns: 200 },
  );
});

t.test('evidence: every truncation and any trailing byte is E_ATT_FORMAT', async (t) => {
  const { chip, config, buildDigest } = simSetup();
  const evidence = signEvidence(
    {
      platform: chip.cert.platform,
      buildDigest,
      config,
      measurement: new Uint8Array(32),
      reportData: new Uint8Array(32).fill(9),
      chipCert: chip.cert,
    },
    chip.privateKey,
  );
  t.ok(decodeEvidence(evidence));
  for (let length = 0; length < evidence.length; length++) {
    t.throws(() => decodeEvidence(evidence.subarray(0, length)), { code: 'E_ATT_FORMAT' }, `truncated to ${length}`);
  }
  for (const extra of [1, 64]) {
    const longer = new Uint8Array(evidence.length + extra);
    longer.set(evidence);
    t.throws(() => decodeEvidence(longer), { code: 'E_ATT_FORMAT', message: /trailing/ });
  }
});

t.test('evidence header and platform name are checked', async (t) => {
  const { chip } = simSetup();
  const sample = fc.sample(evidenceArb, 1)[0];
  const good = encodeEvidence({ ...sample, platform: 'sim-tee-v1', chipCert: { ...chip.cert } });
  const mutate = (offset: number, value: number) => {
    const copy = good.slice();
    copy[offset] = value;
    return copy;
  };
  t.throws(() => decodeEvidence(mutate(0, 0x58)), { code: 'E_ATT_FORMAT', message: /magic/ });
  t.throws(() => decodeEvidence(mutate(4, 1)), { code: 'E_ATT_FORMAT', message: /version 1 is not 2/ });
  t.throws(() => decodeEvidence(mutate(5, 0)), { code: 'E_ATT_FORMAT', message: /platform length/ });
  t.throws(() => decodeEvidence(mutate(5, 33)), { code: 'E_ATT_FORMAT', message: /platform length/ });
  t.throws(() => decodeEvidence(mutate(6, 0x41)), { code: 'E_ATT_FORMAT', message: /platform/ }); // 'A'
  t.throws(() => decodeEvidence(mutate(6, 0x20)), { code: 'E_ATT_FORMAT', message: /platform/ }); // ' '
  // Sector bytes is the u32 at 6 + 10 + 32 + 32: zero is out of bounds.
  const zeroSectors = good.slice();
  zeroSectors.fill(0, 80, 84);
  t.throws(() => decodeEvidence(zeroSectors), { code: 'E_ATT_CONFIG', message: /sectorBytes/ });
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
