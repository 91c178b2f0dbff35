// The verifier's decisions: a genuine sim-TEE node is accepted; every way
// evidence can be wrong (measurement, build, root, chain, manager key,
// sector size, any flipped bit) is refused with its code; report signatures
// verify only for the node, instance and report data they were made for.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { createSimChip, createSimRoot } from '../../attestation/sim-platform.ts';
import { generateKeyPair } from '../../attestation/ed25519.ts';
import { decodeEvidence, signEvidence } from '../../attestation/evidence.ts';
import type { EvidenceBody } from '../../attestation/evidence.ts';
import { measurement } from '../../attestation/measurement.ts';
import { createSimProvider } from '../../attestation/sim-provider.ts';
import { reportMessage } from '../../attestation/report.ts';
import { reportSignatureValid, verifyEvidence, verifyReport } from '../../attestation/verifier.ts';
import { AttestationError } from '../../attestation/errors.ts';
import { simSetup } from './sim-setup.ts';

const reportData = () => new Uint8Array(randomBytes(32));

t.test('a genuine node verifies and its reports check', async (t) => {
  const s = simSetup();
  const provider = createSimProvider({ chip: s.chip, buildDigest: s.buildDigest, config: s.config });
  const node = verifyEvidence(provider.evidence, s.manifest, { managerPublicKey: s.managerPublicKey, sectorBytes: 4096 });
  t.equal(node.platform, 'sim-tee-v1');
  t.same(node.instanceId, provider.instanceId);
  t.same(node.buildDigest, s.buildDigest);
  t.same(node.build, { name: 'disk-node', version: 'test' });
  t.same(node.config, s.config);
  t.same(node.measurement, measurement(s.buildDigest, s.config));
  const data = reportData();
  const signature = provider.sign(data);
  t.doesNotThrow(() => verifyReport(node, data, signature));
  // The signature is plain Ed25519 over the documented message: @noble agrees.
  t.ok(ed25519.verify(signature, reportMessage(node.instanceId, data), node.attestationPublicKey));
  t.same(Object.keys(provider).sort(), ['evidence', 'instanceId', 'platform', 'sign'], 'the provider exposes no key');
  t.ok(Object.isFrozen(provider));
});

t.test('the signatures are over the messages docs/ATTESTATION.md describes (checked with @noble)', async (t) => {
  const s = simSetup();
  const evidence = createSimProvider(s).evidence;
  const P = evidence[5];
  const label = (text: string) => new TextEncoder().encode(`${text}\0`);
  const at = (offset: number, length: number) => evidence.subarray(offset + P, offset + P + length);
  const [rootKey, chipKey, certSignature, evidenceSignature] = [at(158, 32), at(190, 32), at(222, 64), at(286, 64)];
  t.equal(evidence.length, 350 + P);
  t.same(rootKey, s.root.publicKey);
  const certMessage = Uint8Array.from([...label('teearray chip certificate v1'), ...evidence.subarray(5, 6 + P), ...chipKey]);
  t.ok(ed25519.verify(certSignature, certMessage, rootKey), 'chip certificate');
  const evidenceMessage = Uint8Array.from([...label('teearray evidence v1'), ...evidence.subarray(0, 286 + P)]);
  t.ok(ed25519.verify(evidenceSignature, evidenceMessage, chipKey), 'evidence');
});

t.test('each boot draws a new instance id and attestation key', async (t) => {
  const s = simSetup();
  const a = decodeEvidence(createSimProvider(s).evidence);
  const b = decodeEvidence(createSimProvider(s).evidence);
  t.notSame(a.instanceId, b.instanceId);
  t.notSame(a.attestationPublicKey, b.attestationPublicKey);
});

/** Evidence signed by the genuine chip key but with chosen fields. */
function forged(s: ReturnType<typeof simSetup>, change: Partial<EvidenceBody>): Uint8Array {
  const body: EvidenceBody = {
    platform: s.chip.cert.platform,
    buildDigest: s.buildDigest,
    config: s.config,
    measurement: measurement(s.buildDigest, s.config),
    instanceId: new Uint8Array(16),
    attestationPublicKey: generateKeyPair().publicKey,
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
  const strangerEvidence = createSimProvider({ chip: stranger.chip, buildDigest: s.buildDigest, config: s.config }).evidence;
  t.throws(() => verifyEvidence(strangerEvidence, s.manifest, expected), { code: 'E_ATT_CHAIN', message: /not trusted/ });

  // A chip certificate that names the trusted root but was signed by another root.
  const otherRoot = createSimRoot();
  const rogueChip = createSimChip(otherRoot);
  const lying = { ...rogueChip, cert: { ...rogueChip.cert, rootPublicKey: s.root.publicKey } };
  const lyingEvidence = createSimProvider({ chip: lying, buildDigest: s.buildDigest, config: s.config }).evidence;
  t.throws(() => verifyEvidence(lyingEvidence, s.manifest, expected), { code: 'E_ATT_CHAIN', message: /not certified/ });

  // Another platform name under the same trusted root.
  const otherPlatform = createSimChip(s.root, 'other-tee');
  const otherPlatformEvidence = createSimProvider({ chip: otherPlatform, buildDigest: s.buildDigest, config: s.config }).evidence;
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
  const evidence = createSimProvider(s).evidence;
  const expected = { managerPublicKey: s.managerPublicKey };
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

t.test('report signatures', async (t) => {
  const s = simSetup();
  const provider = createSimProvider(s);
  const node = verifyEvidence(provider.evidence, s.manifest, { managerPublicKey: s.managerPublicKey });
  const data = reportData();
  const signature = provider.sign(data);

  const tampered = signature.slice();
  tampered[10] ^= 0x40;
  t.throws(() => verifyReport(node, data, tampered), { code: 'E_ATT_SIGNATURE' });
  const wrongData = data.slice();
  wrongData[31] ^= 1;
  t.throws(() => verifyReport(node, wrongData, signature), { code: 'E_ATT_SIGNATURE' });

  // Another boot of the same chip, build and config: its reports are not this node's.
  const sibling = createSimProvider(s);
  t.throws(() => verifyReport(node, data, sibling.sign(data)), { code: 'E_ATT_SIGNATURE' });
  // A VerifiedNode rebuilt from plain fields (no cached key) checks the same way.
  const plain = { ...node };
  t.doesNotThrow(() => verifyReport(plain, data, signature));
  // The same key under another instance id does not verify: the id is signed.
  t.throws(() => verifyReport({ ...node, instanceId: sibling.instanceId }, data, signature), { code: 'E_ATT_SIGNATURE' });

  t.ok(reportSignatureValid(node, data, signature));
  t.notOk(reportSignatureValid(node, wrongData, signature));
  t.notOk(reportSignatureValid(node, data.subarray(1), signature));
  t.notOk(reportSignatureValid(node, data, signature.subarray(1)));
  t.throws(() => verifyReport(node, data.subarray(1), signature), { code: 'E_ATT_FORMAT' });
  t.throws(() => verifyReport(node, data, signature.subarray(1)), { code: 'E_ATT_FORMAT' });
  t.throws(() => provider.sign(new Uint8Array(31)), { code: 'E_ATT_FORMAT' });
});
