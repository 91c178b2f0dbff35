// The verifier's decisions: genuine session evidence of a sim-TEE node is
// accepted; every way evidence can be wrong (measurement, build, root, chain,
// manager key, sector size, report data, any flipped bit) is refused with its
// code. Whether the report data binds a disk-node session is checked in
// session-evidence.test.ts.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { createSimChip, createSimRoot } from '../../attestation/sim-platform.ts';
import { generateKeyPair } from '../../attestation/ed25519.ts';
import { decodeEvidence, signEvidence } from '../../attestation/evidence.ts';
import type { EvidenceBody } from '../../attestation/evidence.ts';
import { measurement } from '../../attestation/measurement.ts';
import { createSimProvider } from '../../attestation/sim-provider.ts';
import { verifyEvidence } from '../../attestation/verifier.ts';
import { AttestationError } from '../../attestation/errors.ts';
import { simSetup } from './sim-setup.ts';

const reportData = () => new Uint8Array(randomBytes(32));

t.test('a genuine node verifies, for the report data it was asked for', async (t) => {
  const s = simSetup();
  const provider = createSimProvider({ chip: s.chip, buildDigest: s.buildDigest, config: s.config });
  const data = reportData();
  const node = verifyEvidence(provider.report(data), s.manifest, { managerPublicKey: s.managerPublicKey, sectorBytes: 4096, reportData: data });
  t.equal(node.platform, 'sim-tee-v1');
  t.same(node.buildDigest, s.buildDigest);
  t.same(node.build, { name: 'disk-node', version: 'test' });
  t.same(node.config, s.config);
  t.same(node.measurement, measurement(s.buildDigest, s.config));
  t.same(node.reportData, data);
  t.same(Object.keys(provider).sort(), ['platform', 'report'], 'the provider exposes no key');
  t.ok(Object.isFrozen(provider));
});

t.test('the signatures are over the messages docs/ATTESTATION.md describes (checked with @noble)', async (t) => {
  const s = simSetup();
  const data = reportData();
  const evidence = createSimProvider(s).report(data);
  const P = evidence[5];
  const label = (text: string) => new TextEncoder().encode(`${text}\0`);
  const at = (offset: number, length: number) => evidence.subarray(offset + P, offset + P + length);
  t.equal(new TextDecoder().decode(evidence.subarray(0, 4)), 'TEEV');
  t.equal(evidence[4], 2, 'format version 2');
  t.same(at(110, 32), data, 'report data after the measurement');
  const [rootKey, chipKey, certSignature, evidenceSignature] = [at(142, 32), at(174, 32), at(206, 64), at(270, 64)];
  t.equal(evidence.length, 334 + P);
  t.same(rootKey, s.root.publicKey);
  const certMessage = Uint8Array.from([...label('teearray chip certificate v1'), ...evidence.subarray(5, 6 + P), ...chipKey]);
  t.ok(ed25519.verify(certSignature, certMessage, rootKey), 'chip certificate');
  const evidenceMessage = Uint8Array.from([...label('teearray evidence v2'), ...evidence.subarray(0, 270 + P)]);
  t.ok(ed25519.verify(evidenceSignature, evidenceMessage, chipKey), 'evidence');
});

/** Evidence signed by the genuine chip key but with chosen fields. */
function forged(s: ReturnType<typeof simSetup>, change: Partial<EvidenceBody>): Uint8Array {
  const body: EvidenceBody = {
    platform: s.chip.cert.platform,
    buildDigest: s.buildDigest,
    config: s.config,
    measurement: measurement(s.buildDigest, s.config),
    reportData: new Uint8Array(32),
    chipCert: s.chip.cert,
    ...change,
  };
  return signEvidence(body, s.chip.privateKey);
}

t.test('refusals, each with its code', async (t) => {
  const s = simSetup();
  const expected = { managerPublicKey: s.managerPublicKey };
  t.doesNotThrow(() => verifyEvidence(forged(s, {}), s.manifest, expected), 'the forging helper makes valid evidence');

  const otherDigest = new Uint8Array(randomBytes(32));
  t.throws(() => verifyEvidence(forged(s, { measurement: new Uint8Array(32) }), s.manifest, expected), {
    code: 'E_ATT_MEASUREMENT',
  });
  // A measurement of another build claimed for this one.
  t.throws(() => verifyEvidence(forged(s, { measurement: measurement(otherDigest, s.config) }), s.manifest, expected), {
    code: 'E_ATT_MEASUREMENT',
  });
  t.throws(
    () => verifyEvidence(forged(s, { buildDigest: otherDigest, measurement: measurement(otherDigest, s.config) }), s.manifest, expected),
    { code: 'E_ATT_BUILD' },
  );

  // A whole platform whose root the manifest does not trust.
  const stranger = simSetup(s.buildDigest);
  const strangerEvidence = createSimProvider({ chip: stranger.chip, buildDigest: s.buildDigest, config: s.config }).report(reportData());
  t.throws(() => verifyEvidence(strangerEvidence, s.manifest, expected), { code: 'E_ATT_CHAIN', message: /not trusted/ });

  // A chip certificate that names the trusted root but was signed by another root.
  const otherRoot = createSimRoot();
  const rogueChip = createSimChip(otherRoot);
  const lying = { ...rogueChip, cert: { ...rogueChip.cert, rootPublicKey: s.root.publicKey } };
  const lyingEvidence = createSimProvider({ chip: lying, buildDigest: s.buildDigest, config: s.config }).report(reportData());
  t.throws(() => verifyEvidence(lyingEvidence, s.manifest, expected), { code: 'E_ATT_CHAIN', message: /not certified/ });

  // Another platform name under the same trusted root.
  const otherPlatform = createSimChip(s.root, 'other-tee');
  const otherPlatformEvidence = createSimProvider({ chip: otherPlatform, buildDigest: s.buildDigest, config: s.config }).report(reportData());
  t.throws(() => verifyEvidence(otherPlatformEvidence, s.manifest, expected), { code: 'E_ATT_CHAIN', message: /not in the manifest/ });

  // Evidence signed by a key other than the certified chip key.
  const otherChip = createSimChip(s.root);
  const misSigned = signEvidence({ ...decodeEvidence(forged(s, {})), chipCert: s.chip.cert }, otherChip.privateKey);
  t.throws(() => verifyEvidence(misSigned, s.manifest, expected), { code: 'E_ATT_SIGNATURE' });

  const otherManager = generateKeyPair().publicKey;
  t.throws(() => verifyEvidence(forged(s, {}), s.manifest, { managerPublicKey: otherManager }), {
    code: 'E_ATT_CONFIG',
    message: /managerPublicKey/,
  });
  t.throws(() => verifyEvidence(forged(s, {}), { ...s.manifest, managerKeys: [otherManager] }, expected), {
    code: 'E_ATT_CONFIG',
    message: /managerKeys/,
  });
  t.doesNotThrow(() => verifyEvidence(forged(s, {}), { ...s.manifest, managerKeys: [otherManager, s.managerPublicKey] }, expected));
  t.throws(() => verifyEvidence(forged(s, {}), s.manifest, { ...expected, sectorBytes: 512 }), {
    code: 'E_ATT_CONFIG',
    message: /sectorBytes/,
  });
});

t.test('every single-bit flip of genuine evidence is refused with a typed error', async (t) => {
  const s = simSetup();
  const data = reportData();
  const evidence = createSimProvider(s).report(data);
  const expected = { managerPublicKey: s.managerPublicKey, reportData: data };
  const codes = new Map<string, number>();
  let untyped = 0;
  for (let bit = 0; bit < evidence.length * 8; bit++) {
    const flipped = evidence.slice();
    flipped[bit >> 3] ^= 1 << (bit & 7);
    try {
      verifyEvidence(flipped, s.manifest, expected);
      t.fail(`bit ${bit} flipped was accepted`);
    } catch (error) {
      if (error instanceof AttestationError) codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
      else untyped++;
    }
  }
  t.equal(untyped, 0);
  t.same([...codes.keys()].sort(), ['E_ATT_CHAIN', 'E_ATT_CONFIG', 'E_ATT_FORMAT', 'E_ATT_SIGNATURE']);
});

t.test('report data: E_ATT_REPORT_DATA unless it is the expected one; unchecked only when none is expected', async (t) => {
  const s = simSetup();
  const provider = createSimProvider(s);
  const data = reportData();
  const evidence = provider.report(data);
  const expected = { managerPublicKey: s.managerPublicKey };
  for (let byte = 0; byte < 32; byte += 31) {
    const other = data.slice();
    other[byte] ^= 1;
    t.throws(() => verifyEvidence(evidence, s.manifest, { ...expected, reportData: other }), { code: 'E_ATT_REPORT_DATA' }, `report data differing in byte ${byte}`);
  }
  t.throws(() => verifyEvidence(forged(s, { reportData: data }), s.manifest, { ...expected, reportData: reportData() }), { code: 'E_ATT_REPORT_DATA' });
  t.same(verifyEvidence(evidence, s.manifest, expected).reportData, data, 'offline inspection: any report data, returned');
  // The provider reports the bytes it was given at the call: changing them later changes nothing.
  const mutable = data.slice();
  const copied = provider.report(mutable);
  mutable[0] ^= 0xff;
  t.doesNotThrow(() => verifyEvidence(copied, s.manifest, { ...expected, reportData: data }));
  // Another boot of the same chip, build and config reports the same data the same way: the
  // session's report data (challenge, nonce, instance key) is what tells sessions apart.
  t.doesNotThrow(() => verifyEvidence(createSimProvider(s).report(data), s.manifest, { ...expected, reportData: data }));
  t.throws(() => provider.report(new Uint8Array(31)), 'report data of another length is refused');
});
