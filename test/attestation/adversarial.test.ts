// Adversarial review of the verifier's envelope, manifest, time and
// certificate-chain handling (docs/ATTESTATION-REVIEW.md lists every attack
// and its result). The attacker controls the host, the network and the
// node's non-TEE side: every test builds evidence or a manifest such an
// attacker could present and shows it is refused with a typed
// AttestationError and its stable code. Tests marked "regression" failed
// (untyped exception) before the fix they name.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { toHex } from '../../attestation/bytes.ts';
import { generateKeyPair } from '../../attestation/ed25519.ts';
import { createEnvelopeProvider, decodeEvidence, encodeEvidence } from '../../attestation/evidence.ts';
import { evidenceBytesMax } from '../../attestation/limits.ts';
import { formatManifest, parseManifest, type ReferenceManifest } from '../../attestation/manifest.ts';
import { createSimChip, createSimRoot } from '../../attestation/sim-platform.ts';
import { createSimProvider } from '../../attestation/sim-provider.ts';
import type { NativeReporter } from '../../attestation/reporters/native-reporter.ts';
import { verifyEvidence, type ExpectedNode } from '../../attestation/verifier.ts';
import { certificateFingerprint, verifyCertificateChain } from '../../attestation/x509/chain.ts';
import { buildDocument, payloadEntries, pcrsFilled, synthetic, syntheticRootFingerprint, syntheticTime } from '../vectors/nitro/synthetic/build-document.ts';
import { simSetup } from './sim-setup.ts';
import { refused } from './refused.ts';

// A Nitro node behind the real envelope provider, signed by the synthetic chain (pinned below).
const managerPublicKey = generateKeyPair().publicKey;
const config = { managerPublicKey, sectorBytes: 4096, sectorCount: 1024 };
const buildDigest = new Uint8Array(randomBytes(32));
const at = syntheticTime;
const hex48 = (fill: number) => toHex(new Uint8Array(48).fill(fill));

function nitroReporter(pcrs = pcrsFilled()): NativeReporter {
  return { platform: 'aws-nitro-v1', report: (userData) => ({ provider: 'nitro_nsm', evidence: buildDocument(payloadEntries({ pcrs, userData })), aux: new Uint8Array(0) }) };
}

function nitroManifest(format = 'teearray-reference-values-v2', images: Record<string, string>[] = [{ pcr0: hex48(1), pcr1: hex48(2), pcr2: hex48(3) }]): ReferenceManifest {
  const platform = format.endsWith('v1') ? { name: 'aws-nitro-v1', roots: [toHex(syntheticRootFingerprint)] } : { name: 'aws-nitro-v1', roots: [toHex(syntheticRootFingerprint)], reference: { images } };
  return parseManifest(JSON.stringify({ format, platforms: [platform], builds: [{ name: 'disk-node', version: 'test', buildDigest: toHex(buildDigest) }] }));
}

const session = new Uint8Array(randomBytes(32));
const nitroEvidence = createEnvelopeProvider(nitroReporter(), buildDigest, config).report(session);
const expected: ExpectedNode = { managerPublicKey, reportData: session, at };

t.test('the Nitro evidence the attacks start from is accepted', async (t) => {
  t.equal(verifyEvidence(nitroEvidence, nitroManifest(), expected).platform, 'aws-nitro-v1');
});

t.test('regression: a v1 manifest cannot name a hardware platform (it has no reference values)', async (t) => {
  // Before the fix, parseManifest accepted it and verifyEvidence threw a
  // TypeError (`platform.reference` undefined) after the native checks.
  refused(t, () => nitroManifest('teearray-reference-values-v1'), 'E_ATT_MANIFEST', 'v1 naming aws-nitro-v1', /platforms\[0\]\.name is a hardware platform/);
  // A manifest built in code (the type allows it) is refused typed, before the native evidence is read.
  const inCode: ReferenceManifest = { ...nitroManifest(), platforms: [{ name: 'aws-nitro-v1', roots: [syntheticRootFingerprint] }] };
  refused(t, () => verifyEvidence(nitroEvidence, inCode, expected), 'E_ATT_MANIFEST', 'hardware platform without reference in code', /no reference values/);
});

t.test('regression: an invalid `at` is refused typed, not a RangeError', async (t) => {
  // new Date('garbage') compares false with every date; the refusal's message then called toISOString() on it.
  refused(t, () => verifyEvidence(nitroEvidence, nitroManifest(), { ...expected, at: new Date('not a date') }), 'E_ATT_EXPIRED', 'Invalid Date', /invalid time/);
  refused(t, () => verifyEvidence(nitroEvidence, nitroManifest(), { ...expected, at: new Date(NaN) }), 'E_ATT_EXPIRED', 'NaN date');
  // Time far outside every certificate: refused as expired, typed, at both ends of the Date range.
  refused(t, () => verifyEvidence(nitroEvidence, nitroManifest(), { ...expected, at: new Date(8.64e15) }), 'E_ATT_EXPIRED', 'latest Date');
  refused(t, () => verifyEvidence(nitroEvidence, nitroManifest(), { ...expected, at: new Date(-8.64e15) }), 'E_ATT_EXPIRED', 'earliest Date');
});

t.test('certificate validity does not depend on the local time zone', async (t) => {
  // X509Certificate.validFrom is "Mon DD HH:MM:SS YYYY GMT"; were it parsed as
  // local time, one of these zones would move the boundary by hours.
  const saved = process.env.TZ;
  t.teardown(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });
  const chain = [synthetic.leaf, synthetic.intermediate2, synthetic.intermediate1, synthetic.root];
  process.env.TZ = 'UTC';
  const notBefore = Math.max(...chain.map((c) => new Date(c.validFrom).getTime()));
  for (const zone of ['UTC', 'Pacific/Kiritimati', 'America/Adak', 'Asia/Kathmandu']) {
    process.env.TZ = zone;
    const opts = { rootFingerprints: [syntheticRootFingerprint], what: `chain (${zone})` };
    t.ok(verifyCertificateChain(chain, { ...opts, at: new Date(notBefore) }), `${zone}: valid at notBefore`);
    refused(t, () => verifyCertificateChain(chain, { ...opts, at: new Date(notBefore - 1000) }), 'E_ATT_EXPIRED', `${zone}: one second before notBefore`);
  }
});

t.test('chains: roots in the wrong place, a pinned intermediate, a missing link', async (t) => {
  const pinned = { rootFingerprints: [syntheticRootFingerprint], at, what: 'chain' };
  const { leaf, intermediate1: i1, intermediate2: i2, root } = synthetic;
  t.ok(verifyCertificateChain([leaf, i2, i1, root], pinned), 'the genuine chain');
  // The pinned root presented as the leaf (a self-signed "leaf" equal to the root).
  refused(t, () => verifyCertificateChain([root, root], pinned), 'E_ATT_CHAIN', 'root as its own leaf', /is a CA, not an end entity/);
  // An intermediate pinned by mistake is not a root: the last certificate must be self-signed.
  refused(t, () => verifyCertificateChain([leaf, i2, i1], { ...pinned, rootFingerprints: [certificateFingerprint(i1)] }), 'E_ATT_CHAIN', 'pinned intermediate as the root', /does not verify/);
  // The pinned root in the middle, an unpinned certificate after it.
  refused(t, () => verifyCertificateChain([leaf, i2, i1, root, i1], pinned), 'E_ATT_CHAIN', 'pinned root not last', /not a pinned root/);
  // A link skipped: the leaf's issuer is intermediate2, not intermediate1.
  refused(t, () => verifyCertificateChain([leaf, i1, root], pinned), 'E_ATT_CHAIN', 'intermediate2 left out');
  refused(t, () => verifyCertificateChain([leaf], pinned), 'E_ATT_CHAIN', 'a lone leaf');
});

t.test('envelope: platform confusion between the envelope and the native evidence', async (t) => {
  const sim = simSetup(buildDigest);
  const simEvidence = createSimProvider({ chip: sim.chip, buildDigest, config }).report(session);
  const decoded = decodeEvidence(simEvidence);
  // A manifest that (wrongly) lists the sim root key among Nitro's roots: the
  // envelope's platform picks the verifier, and Nitro's cannot read a sim report.
  const confused = parseManifest(formatManifest(nitroManifest()).replace(toHex(syntheticRootFingerprint), toHex(sim.root.publicKey)));
  const simAsNitro = encodeEvidence({ ...decoded, platform: 'aws-nitro-v1' }, decoded.native, decoded.aux);
  refused(t, () => verifyEvidence(simAsNitro, confused, expected), 'E_ATT_FORMAT', 'sim report in a Nitro envelope', /COSE_Sign1/);
  // A Nitro document in a sim envelope: the sim decoder refuses it.
  const nitro = decodeEvidence(nitroEvidence);
  const nitroAsSim = encodeEvidence({ ...nitro, platform: 'sim-tee-v1' }, nitro.native, nitro.aux);
  refused(t, () => verifyEvidence(nitroAsSim, sim.manifest, { ...expected, at: undefined }), 'E_ATT_FORMAT', 'Nitro document in a sim envelope', /sim report magic/);
  // A trusted sim root certifies a chip for another simulated platform; its
  // report, in an envelope naming the manifest's platform, is of the other one.
  const otherChip = createSimChip(sim.root, 'sim-other-v1');
  const other = decodeEvidence(createSimProvider({ chip: otherChip, buildDigest, config }).report(session));
  const relabelled = encodeEvidence({ ...other, platform: 'sim-tee-v1' }, other.native, other.aux);
  refused(t, () => verifyEvidence(relabelled, sim.manifest, { managerPublicKey, reportData: session }), 'E_ATT_CHAIN', 'sim-other-v1 report as sim-tee-v1', /native evidence is of platform "sim-other-v1"/);
  // A platform the manifest does not list, and names that only look like listed ones.
  for (const platform of ['intel-tdx-v1', 'sim-tee-v2', 'sim-tee-v1.']) {
    refused(t, () => verifyEvidence(encodeEvidence({ ...decoded, platform }, decoded.native, decoded.aux), sim.manifest, { managerPublicKey }), 'E_ATT_CHAIN', `platform ${platform}`, /not in the manifest/);
  }
  const rootOther = createSimRoot();
  refused(t, () => verifyEvidence(simEvidence, { ...sim.manifest, platforms: [{ name: 'sim-tee-v1', roots: [rootOther.publicKey] }] }, { managerPublicKey }), 'E_ATT_CHAIN', 'another root', /not trusted/);
});

t.test('envelope: platform name and length fields near their bounds', async (t) => {
  const sim = simSetup(buildDigest);
  const evidence = createSimProvider({ chip: sim.chip, buildDigest, config }).report(session);
  const nameAt = 5;
  const withName = (name: Uint8Array) => new Uint8Array(Buffer.concat([evidence.subarray(0, nameAt), Buffer.of(name.length), name, evidence.subarray(nameAt + 1 + evidence[nameAt])]));
  for (const [name, label] of [
    [Buffer.from('SIM-TEE-V1'), 'upper case'],
    [Buffer.from('sim-tee-v1\0'), 'trailing NUL'],
    [Buffer.from('sim-tee-v1 '), 'trailing space'],
    [Buffer.from('sim-tee-v\u00ec', 'latin1'), 'a Latin-1 letter'],
    [Buffer.alloc(0), 'empty'],
    [Buffer.alloc(33, 0x61), '33 characters'],
  ] as const) {
    refused(t, () => verifyEvidence(withName(new Uint8Array(name)), sim.manifest, { managerPublicKey }), 'E_ATT_FORMAT', `platform name: ${label}`);
  }
  // Length fields of 2^32 - 1 (and the aux length pushed past the end) are truncations, not allocations.
  const decoded = decodeEvidence(evidence);
  const headBytes = evidence.length - 8 - decoded.native.length;
  const withU32 = (offset: number, value: number) => {
    const out = Buffer.from(evidence);
    out.writeUInt32BE(value, offset);
    return new Uint8Array(out);
  };
  refused(t, () => verifyEvidence(withU32(headBytes, 0xffffffff), sim.manifest, { managerPublicKey }), 'E_ATT_FORMAT', 'native length 2^32 - 1', /truncated/);
  refused(t, () => verifyEvidence(withU32(evidence.length - 4, 0xffffffff), sim.manifest, { managerPublicKey }), 'E_ATT_FORMAT', 'aux length 2^32 - 1', /truncated/);
  refused(t, () => verifyEvidence(withU32(evidence.length - 4, 0x80000000), sim.manifest, { managerPublicKey }), 'E_ATT_FORMAT', 'aux length 2^31', /truncated/);
  // Exactly at the 32 KiB bound the envelope decodes (and the sim refuses its aux); one byte more is oversize.
  const padded = (total: number) => encodeEvidence(decoded, decoded.native, new Uint8Array(total - evidence.length));
  t.equal(padded(evidenceBytesMax).length, evidenceBytesMax);
  t.equal(decodeEvidence(padded(evidenceBytesMax)).aux.length, evidenceBytesMax - evidence.length, 'decodes at the bound');
  refused(t, () => verifyEvidence(padded(evidenceBytesMax), sim.manifest, { managerPublicKey }), 'E_ATT_FORMAT', 'at the bound, with aux', /no certificates/);
  refused(t, () => verifyEvidence(padded(evidenceBytesMax + 1), sim.manifest, { managerPublicKey }), 'E_ATT_FORMAT', 'one byte past the bound', /more than 32768/);
});

t.test('manifest: prototype keys and an image that matches a debug enclave', async (t) => {
  const text = formatManifest(nitroManifest());
  for (const key of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty']) {
    // JSON.parse makes "__proto__" an own property, so it reaches the key check like any other.
    const injected = text.replace('"format"', `"${key}": {"managerKeys": ["${'00'.repeat(32)}"]}, "format"`);
    refused(t, () => parseManifest(injected), 'E_ATT_MANIFEST', `top-level ${key}`, new RegExp(`manifest\\.${key} is not a known field`));
    const image = text.replace('"pcr0":', `"${key}": "${hex48(2)}", "pcr0":`);
    refused(t, () => parseManifest(image), 'E_ATT_MANIFEST', `image ${key}`, /is not a known field/);
  }
  // An image listing only pcr0 = zeros (what a debug enclave reports) accepts no debug enclave.
  const debugPcrs = pcrsFilled();
  for (const i of [0, 1, 2]) debugPcrs.set(i, new Uint8Array(48));
  const debugEvidence = createEnvelopeProvider(nitroReporter(debugPcrs), buildDigest, config).report(session);
  refused(t, () => verifyEvidence(debugEvidence, nitroManifest(undefined, [{ pcr0: hex48(0) }]), expected), 'E_ATT_POLICY', 'pcr0-only image of a debug enclave', /debug/);
  // An image of the genuine pcr0 alone accepts only documents with that pcr0 (PCR0 hashes the whole enclave image file).
  const otherImage = pcrsFilled();
  otherImage.set(0, new Uint8Array(48).fill(0x42));
  const otherEvidence = createEnvelopeProvider(nitroReporter(otherImage), buildDigest, config).report(session);
  refused(t, () => verifyEvidence(otherEvidence, nitroManifest(undefined, [{ pcr0: hex48(1) }]), expected), 'E_ATT_MEASUREMENT', 'another pcr0', /pcr0/);
  // An unknown format version is not read as either known one.
  refused(t, () => parseManifest(text.replace('teearray-reference-values-v2', 'teearray-reference-values-v3')), 'E_ATT_MANIFEST', 'format v3');
});

t.test('Nitro fields confused with user_data: only a 64-byte user_data binds the envelope', async (t) => {
  const manifest = nitroManifest();
  // A node whose document carries the binding in nonce or public_key, and no user_data.
  for (const field of ['nonce', 'public_key']) {
    const reporter: NativeReporter = {
      platform: 'aws-nitro-v1',
      report: (binding) => {
        const entries = payloadEntries({ userData: null }).map(([k, v]): [Uint8Array, Uint8Array] =>
          Buffer.from(k).toString('latin1').endsWith(field) ? [k, new Uint8Array(Buffer.concat([Buffer.of(0x58, 64), binding]))] : [k, v],
        );
        return { provider: 'nitro_nsm', evidence: buildDocument(entries), aux: new Uint8Array(0) };
      },
    };
    const evidence = createEnvelopeProvider(reporter, buildDigest, config).report(session);
    refused(t, () => verifyEvidence(evidence, manifest, expected), 'E_ATT_REPORT_DATA', `binding in ${field}`, /hash of the envelope/);
  }
});

t.test('regression: a manifest naming a key twice in one object is refused (JSON.parse keeps the last silently)', async (t) => {
  const text = formatManifest(nitroManifest());
  const otherBuild = `"builds": [{"name": "evil", "version": "1", "buildDigest": "${'22'.repeat(32)}"}], "format"`;
  refused(t, () => parseManifest(text.replace('"format"', otherBuild)), 'E_ATT_MANIFEST', 'builds twice', /key "builds" twice/);
  refused(t, () => parseManifest(text.replace('"pcr0":', `"pcr0": "${hex48(9)}", "pcr0":`)), 'E_ATT_MANIFEST', 'pcr0 twice in one image', /key "pcr0" twice/);
  // The same key spelled with an escape is the same key.
  refused(t, () => parseManifest(text.replace('"pcr0":', `"\\u0070cr0": "${hex48(9)}", "pcr0":`)), 'E_ATT_MANIFEST', 'pcr0 and \\u0070cr0', /key "pcr0" twice/);
  refused(t, () => parseManifest(text.replace('"format"', '"format": "teearray-reference-values-v1", "format"')), 'E_ATT_MANIFEST', 'format twice (v1 then v2)', /key "format" twice/);
  // Not duplicates: the same key in sibling objects, and key-like text inside string values.
  const twoImages = nitroManifest(undefined, [{ pcr0: hex48(1) }, { pcr0: hex48(2) }]);
  t.equal(twoImages.platforms[0].reference?.json && (twoImages.platforms[0].reference.json as { images: unknown[] }).images.length, 2, 'pcr0 in two images');
  const quoted = { ...nitroManifest(), builds: [{ name: 'a"b,"name":', version: '{"x":1}', buildDigest }] };
  t.equal(parseManifest(formatManifest(quoted)).builds[0].name, 'a"b,"name":', 'quotes, commas and braces inside strings');
});
