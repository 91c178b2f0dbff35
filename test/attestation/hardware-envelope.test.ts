// A hardware platform's evidence through the whole verifier: a node-side
// reporter that makes validly signed Nitro documents (the synthetic chain of
// test/vectors/nitro/synthetic, pinned here instead of AWS's root) behind the
// same envelope provider the disk node uses, checked against a manifest with
// Nitro reference values. Shows that the native evidence must sign this
// envelope, that the image must be a listed one, that debug enclaves are
// refused, and that the session and manager checks hold as for the sim.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { toHex } from '../../attestation/bytes.ts';
import { generateKeyPair } from '../../attestation/ed25519.ts';
import { createEnvelopeProvider, decodeEvidence, encodeEvidence } from '../../attestation/evidence.ts';
import { formatManifest, parseManifest, type ReferenceManifest } from '../../attestation/manifest.ts';
import type { NativeReporter } from '../../attestation/reporters/native-reporter.ts';
import { verifyEvidence } from '../../attestation/verifier.ts';
import { buildDocument, payloadEntries, pcrsFilled, synthetic, syntheticRootFingerprint, syntheticTime } from '../vectors/nitro/synthetic/build-document.ts';

const at = syntheticTime;
const managerPublicKey = generateKeyPair().publicKey;
const config = { managerPublicKey, sectorBytes: 4096, sectorCount: 1024 };
const buildDigest = new Uint8Array(randomBytes(32));

/** A Nitro reporter whose enclave has `pcrs`: signs whatever user_data the node asks for. */
function nitroReporter(pcrs = pcrsFilled()): NativeReporter {
  return { platform: 'aws-nitro-v1', report: (userData) => ({ provider: 'nitro_nsm', evidence: buildDocument(payloadEntries({ pcrs, userData })), aux: new Uint8Array(0) }) };
}

const hex = (fill: number) => toHex(new Uint8Array(48).fill(fill));
/** The manifest as an operator writes it (JSON text), parsed strictly. */
function manifestAccepting(images: Record<string, string>[]): ReferenceManifest {
  return parseManifest(
    JSON.stringify({
      format: 'teearray-reference-values-v2',
      platforms: [{ name: 'aws-nitro-v1', roots: [toHex(syntheticRootFingerprint)], reference: { images } }],
      builds: [{ name: 'disk-node', version: 'test', buildDigest: toHex(buildDigest) }],
    }),
  );
}

const manifest = manifestAccepting([{ pcr0: hex(1), pcr1: hex(2), pcr2: hex(3) }]);
const session = () => new Uint8Array(randomBytes(32));

t.test('a Nitro node of a listed image verifies for its session', async (t) => {
  const provider = createEnvelopeProvider(nitroReporter(), buildDigest, config);
  const data = session();
  const node = verifyEvidence(provider.report(data), manifest, { managerPublicKey, sectorBytes: 4096, reportData: data, at });
  t.equal(node.platform, 'aws-nitro-v1');
  t.same(node.build, { name: 'disk-node', version: 'test' });
  t.same(node.measurements.pcr0, new Uint8Array(48).fill(1));
  t.same(node.reportData, data);
  t.ok(node.checks.some((c) => c.check === 'binding'));
  t.same(parseManifest(formatManifest(manifest)).platforms[0].reference?.json, manifest.platforms[0].reference?.json, 'reference values survive a round trip');
});

t.test('refusals through the envelope, each with its code', async (t) => {
  const data = session();
  const expected = { managerPublicKey, reportData: data, at };
  const evidence = createEnvelopeProvider(nitroReporter(), buildDigest, config).report(data);
  // Another image (PCR2 differs) than the manifest lists.
  const otherPcrs = pcrsFilled();
  otherPcrs.set(2, new Uint8Array(48).fill(0x77));
  t.throws(() => verifyEvidence(createEnvelopeProvider(nitroReporter(otherPcrs), buildDigest, config).report(data), manifest, expected), { code: 'E_ATT_MEASUREMENT', message: /pcr2/ });
  // A debug enclave (PCR0..2 zero), even if an image listed zeros.
  const debugPcrs = pcrsFilled();
  for (const i of [0, 1, 2]) debugPcrs.set(i, new Uint8Array(48));
  const zeros = manifestAccepting([{ pcr0: hex(0), pcr1: hex(0), pcr2: hex(0) }]);
  t.throws(() => verifyEvidence(createEnvelopeProvider(nitroReporter(debugPcrs), buildDigest, config).report(data), zeros, expected), { code: 'E_ATT_POLICY', message: /debug/ });
  // The document signs another envelope: moved into an envelope with another build digest.
  const moved = decodeEvidence(evidence);
  const twoBuilds = { ...manifest, builds: [...manifest.builds, { name: 'disk-node', version: 'old', buildDigest: new Uint8Array(32) }] };
  const relabelled = encodeEvidence({ ...moved, buildDigest: new Uint8Array(32) }, moved.native, moved.aux);
  t.throws(() => verifyEvidence(relabelled, twoBuilds, expected), { code: 'E_ATT_REPORT_DATA', message: /hash of the envelope/ });
  // ... or into an envelope for another session.
  const replayed = encodeEvidence({ ...moved, reportData: session() }, moved.native, moved.aux);
  t.throws(() => verifyEvidence(replayed, manifest, { ...expected, reportData: decodeEvidence(replayed).reportData }), { code: 'E_ATT_REPORT_DATA', message: /hash of the envelope/ });
  // The genuine envelope, for another session than the caller's.
  t.throws(() => verifyEvidence(evidence, manifest, { ...expected, reportData: session() }), { code: 'E_ATT_REPORT_DATA', message: /this session/ });
  // Certificates may not ride along with a Nitro document.
  t.throws(() => verifyEvidence(encodeEvidence(moved, moved.native, Uint8Array.of(1)), manifest, expected), { code: 'E_ATT_FORMAT', message: /no separate certificates/ });
  // A build the manifest does not accept, a manager it was not launched for.
  t.throws(() => verifyEvidence(evidence, { ...manifest, builds: [{ name: 'x', version: 'y', buildDigest: new Uint8Array(32) }] }, expected), { code: 'E_ATT_BUILD' });
  t.throws(() => verifyEvidence(evidence, manifest, { ...expected, managerPublicKey: generateKeyPair().publicKey }), { code: 'E_ATT_CONFIG' });
  // The chain is checked as of the verifier's time, not the document's: after the synthetic leaf's end.
  const afterLeaf = new Date(new Date(synthetic.leaf.validTo).getTime() + 1000);
  t.throws(() => verifyEvidence(evidence, manifest, { ...expected, at: afterLeaf }), { code: 'E_ATT_EXPIRED' });
  // AWS's own root pinned instead of the synthetic one.
  const awsOnly = parseManifest(formatManifest(manifest).replace(toHex(syntheticRootFingerprint), '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b'));
  t.throws(() => verifyEvidence(evidence, awsOnly, expected), { code: 'E_ATT_CHAIN', message: /not a pinned root/ });
});

t.test('a hardware platform in a manifest needs reference values; a v1 manifest names none', async (t) => {
  const text = formatManifest(manifest);
  const noReference = JSON.parse(text);
  delete noReference.platforms[0].reference;
  t.throws(() => parseManifest(JSON.stringify(noReference)), { code: 'E_ATT_MANIFEST', message: /platforms\[0\]\.reference is missing/ });
  const badReference = JSON.parse(text);
  badReference.platforms[0].reference.images[0].pcr0 = 'ab';
  t.throws(() => parseManifest(JSON.stringify(badReference)), { code: 'E_ATT_MANIFEST', message: /platforms\[0\]\.reference\.images\[0\]\.pcr0/ });
  const v1 = JSON.parse(text);
  v1.format = 'teearray-reference-values-v1';
  t.throws(() => parseManifest(JSON.stringify(v1)), { code: 'E_ATT_MANIFEST', message: /platforms\[0\]\.reference is not a known field/ });
  const simWithReference = JSON.parse(text);
  simWithReference.platforms[0].name = 'sim-tee-v1';
  t.throws(() => parseManifest(JSON.stringify(simWithReference)), { code: 'E_ATT_MANIFEST', message: /reference is not a known field/ });
});
