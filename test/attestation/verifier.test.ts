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
import { sha512 } from '@noble/hashes/sha2.js';
import { decodeEvidence, encodeEvidence, nativeReportData } from '../../attestation/evidence.ts';
import { createSimReporter } from '../../attestation/sim-report.ts';
import type { SimChip } from '../../attestation/sim-platform.ts';
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
  t.same(node.measurements, { measurement: measurement(s.buildDigest, s.config) });
  t.same(node.checks.map((c) => c.check), ['chain', 'signature', 'binding', 'measurement', 'build', 'launch config', 'session']);
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
  t.equal(new TextDecoder().decode(evidence.subarray(0, 4)), 'TEEV');
  t.equal(evidence[4], 3, 'format version 3');
  t.same(evidence.subarray(78 + P, 110 + P), data, 'session report data after the launch config');
  const native = decodeEvidence(evidence).native;
  const at = (offset: number, length: number) => native.subarray(offset + P, offset + P + length);
  t.same(at(38, 64), sha512(Uint8Array.from([...label('teearray evidence v3'), ...evidence.subarray(0, 110 + P)])), 'the sim report binds the envelope');
  const [rootKey, chipKey, certSignature, signature] = [at(102, 32), at(134, 32), at(166, 64), at(230, 64)];
  t.equal(native.length, 294 + P);
  t.same(rootKey, s.root.publicKey);
  const certMessage = Uint8Array.from([...label('teearray chip certificate v1'), ...native.subarray(5, 6 + P), ...chipKey]);
  t.ok(ed25519.verify(certSignature, certMessage, rootKey), 'chip certificate');
  const reportMessage = Uint8Array.from([...label('teearray sim report v1'), ...native.subarray(0, 230 + P)]);
  t.ok(ed25519.verify(signature, reportMessage, chipKey), 'sim report');
});

interface Forgery {
  buildDigest?: Uint8Array;
  measurement?: Uint8Array;
  reportData?: Uint8Array;
  /** What the chip signs instead of the envelope's binding. */
  binding?: Uint8Array;
  /** Signs with this chip (key and certificate) instead of the genuine one. */
  chip?: SimChip;
  aux?: Uint8Array;
}

/** Evidence signed by the genuine chip key (unless told otherwise) but with chosen fields. */
function forged(s: ReturnType<typeof simSetup>, change: Forgery): Uint8Array {
  const head = { platform: s.chip.cert.platform, buildDigest: change.buildDigest ?? s.buildDigest, config: s.config, reportData: change.reportData ?? new Uint8Array(32) };
  const reporter = createSimReporter(change.chip ?? s.chip, change.measurement ?? measurement(s.buildDigest, s.config));
  return encodeEvidence(head, reporter.report(change.binding ?? nativeReportData(head)).evidence, change.aux ?? new Uint8Array(0));
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
  const misSigned = forged(s, { chip: { privateKey: otherChip.privateKey, cert: s.chip.cert } });
  t.throws(() => verifyEvidence(misSigned, s.manifest, expected), { code: 'E_ATT_SIGNATURE' });

  // The chip signed, but not this envelope: another session's, or another build's.
  t.throws(() => verifyEvidence(forged(s, { binding: new Uint8Array(64) }), s.manifest, expected), { code: 'E_ATT_REPORT_DATA', message: /hash of the envelope/ });
  const otherHead = { platform: s.chip.cert.platform, buildDigest: otherDigest, config: s.config, reportData: new Uint8Array(32) };
  t.throws(() => verifyEvidence(forged(s, { binding: nativeReportData(otherHead) }), s.manifest, expected), { code: 'E_ATT_REPORT_DATA' });
  // A sim report comes alone; certificates next to it are refused.
  t.throws(() => verifyEvidence(forged(s, { aux: Uint8Array.of(1) }), s.manifest, expected), { code: 'E_ATT_FORMAT', message: /no certificates/ });
  // A sim report of one platform inside an envelope naming another that the manifest trusts with the same root.
  const twoPlatforms = { ...s.manifest, platforms: [...s.manifest.platforms, { name: 'other-tee', roots: [s.root.publicKey] }] };
  const otherNamed = createSimChip(s.root, 'other-tee');
  const head = { platform: 'other-tee', buildDigest: s.buildDigest, config: s.config, reportData: new Uint8Array(32) };
  const swapped = encodeEvidence(head, createSimReporter(s.chip, measurement(s.buildDigest, s.config)).report(nativeReportData(head)).evidence, new Uint8Array(0));
  t.throws(() => verifyEvidence(swapped, twoPlatforms, expected), { code: 'E_ATT_CHAIN', message: /native evidence is of platform "sim-tee-v1"/ });
  t.doesNotThrow(() => verifyEvidence(createSimProvider({ ...s, chip: otherNamed }).report(reportData()), twoPlatforms, expected));

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
  t.same([...codes.keys()].sort(), ['E_ATT_CHAIN', 'E_ATT_CONFIG', 'E_ATT_FORMAT', 'E_ATT_REPORT_DATA', 'E_ATT_SIGNATURE']);
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
  t.throws(() => verifyEvidence(forged(s, { reportData: data }), s.manifest, { ...expected, reportData: reportData() }), { code: 'E_ATT_REPORT_DATA', message: /this session/ });
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
