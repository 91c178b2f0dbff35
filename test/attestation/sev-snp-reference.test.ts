// SEV-SNP reference values: the check against verified claims (real reports
// and synthetic ones signed in the states no public sample shows) and the
// strict parser of the manifest's "amd-sev-snp-v1" entry.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { toHex } from '../../attestation/bytes.ts';
import type { NativeClaims, NativeVerifyOptions } from '../../attestation/hardware/native-claims.ts';
import { amdArkFingerprints } from '../../attestation/sev-snp/amd-roots.ts';
import { checkSevSnpReference, parseSevSnpReference, type SevSnpReference } from '../../attestation/sev-snp/snp-reference.ts';
import { verifySevSnpEvidence } from '../../attestation/sev-snp/snp-verifier.ts';
import { synthetic, syntheticAt, syntheticChain, syntheticReport } from '../vectors/sev-snp/synthetic/synthetic-report.ts';

const dir = new URL('../vectors/sev-snp/', import.meta.url);
const read = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));
const syntheticOpts: NativeVerifyOptions = { at: syntheticAt, rootFingerprints: [synthetic.arkFingerprint] };
const verifySynthetic = (report: Uint8Array) => verifySevSnpEvidence(report, syntheticChain(), syntheticOpts);

// The Google Cloud Milan report: REPORTED_TCB bootloader 4, tee 0, snp 27, microcode 222.
const gcp = verifySevSnpEvidence(read('teekit-gcp-milan-v5-report.bin'), read('teekit-gcp-milan-vcek.pem'), {
  at: new Date('2026-06-01T00:00:00Z'),
  rootFingerprints: [new Uint8Array(Buffer.from(amdArkFingerprints.Milan, 'hex'))],
});
const gcpTcb = { bootloader: 4, tee: 0, snp: 27, microcode: 222 };
const listing = (claims: NativeClaims, extra: Partial<SevSnpReference> = {}): SevSnpReference => ({
  measurements: [new Uint8Array(48).fill(1), claims.measurements.measurement],
  ...extra,
});

t.test('a report whose measurement is listed passes; one that is not is refused', async (t) => {
  t.doesNotThrow(() => checkSevSnpReference(gcp, listing(gcp)));
  t.doesNotThrow(() => checkSevSnpReference(gcp, listing(gcp, { minTcb: gcpTcb, vmpl: 0 })), 'at exactly the minimum TCB, VMPL 0');
  t.throws(() => checkSevSnpReference(gcp, { measurements: [new Uint8Array(48).fill(1)] }), {
    code: 'E_ATT_MEASUREMENT',
    message: new RegExp(toHex(gcp.measurements.measurement)),
  });
});

t.test('TCB below the minimum in any component is refused', async (t) => {
  for (const part of ['bootloader', 'tee', 'snp', 'microcode'] as const) {
    t.throws(() => checkSevSnpReference(gcp, listing(gcp, { minTcb: { ...gcpTcb, [part]: gcpTcb[part] + 1 } })), { code: 'E_ATT_POLICY', message: new RegExp(part) }, part);
  }
});

t.test('debug, migration agent and VMPL', async (t) => {
  // A real debug report (go-sev-guest's sample: POLICY 0xb0000) and a synthetic one.
  const realDebug = verifySevSnpEvidence(read('go-sev-guest-milan-v2-report.bin'), read('go-sev-guest-milan-vcek.der'), {
    at: new Date('2025-06-01T00:00:00Z'),
    rootFingerprints: [new Uint8Array(Buffer.from(amdArkFingerprints.Milan, 'hex'))],
  });
  const debug = verifySynthetic(syntheticReport({ policy: 0x30000n | (1n << 19n) }));
  for (const claims of [realDebug, debug]) {
    t.equal(claims.debug, true);
    t.throws(() => checkSevSnpReference(claims, listing(claims)), { code: 'E_ATT_POLICY', message: /DEBUG/ });
    t.throws(() => checkSevSnpReference(claims, listing(claims, { allowDebug: false })), { code: 'E_ATT_POLICY' });
  }
  const migrate = verifySynthetic(syntheticReport({ policy: 0x30000n | (1n << 18n) }));
  t.equal(migrate.details.migrateMa, true);
  t.throws(() => checkSevSnpReference(migrate, listing(migrate)), { code: 'E_ATT_POLICY', message: /MIGRATE_MA/ });
  t.doesNotThrow(() => checkSevSnpReference(migrate, listing(migrate, { allowMigrateMa: true })));
  const vmpl2 = verifySynthetic(syntheticReport({ vmpl: 2 }));
  t.throws(() => checkSevSnpReference(vmpl2, listing(vmpl2, { vmpl: 0 })), { code: 'E_ATT_POLICY', message: /VMPL 2/ });
  t.doesNotThrow(() => checkSevSnpReference(vmpl2, listing(vmpl2, { vmpl: 2 })));
  t.throws(() => checkSevSnpReference(vmpl2, listing(vmpl2)), { code: 'E_ATT_POLICY', message: /VMPL 2, the reference requires 0/ }, 'VMPL 0 unless the reference names another');
});

t.test('claims of another platform are a caller bug, not a refusal', async (t) => {
  const nitro: NativeClaims = { ...gcp, platform: 'aws-nitro-v1' };
  t.throws(() => checkSevSnpReference(nitro, listing(gcp)), { name: 'Error', message: /needs SEV-SNP claims/ });
});

t.test('parseSevSnpReference: a full reference', async (t) => {
  const m = 'ab'.repeat(48);
  const parsed = parseSevSnpReference(
    { measurements: [m, 'cd'.repeat(48)], minTcb: { bootloader: 4, tee: 0, snp: 27, microcode: 222 }, allowDebug: false, allowMigrateMa: true, vmpl: 0 },
    'platforms[1].reference',
  );
  t.same(parsed, {
    measurements: [new Uint8Array(48).fill(0xab), new Uint8Array(48).fill(0xcd)],
    minTcb: { bootloader: 4, tee: 0, snp: 27, microcode: 222 },
    allowDebug: false,
    allowMigrateMa: true,
    vmpl: 0,
  });
  t.same(parseSevSnpReference({ measurements: [m] }, 'r'), { measurements: [new Uint8Array(48).fill(0xab)] });
  t.doesNotThrow(() => checkSevSnpReference(gcp, parseSevSnpReference({ measurements: [toHex(gcp.measurements.measurement)], minTcb: gcpTcb }, 'r')));
});

t.test('parseSevSnpReference: refusals name the field', async (t) => {
  const m = 'ab'.repeat(48);
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [m], /^E_ATT_MANIFEST: ref must be an object/],
    ['null', null, /ref must be an object/],
    ['unknown field', { measurements: [m], measurement: m }, /ref\.measurement is not a known field/],
    ['missing measurements', {}, /ref\.measurements is missing/],
    ['empty list', { measurements: [] }, /ref\.measurements must hold 1\.\.64 entries, has 0/],
    ['list too long', { measurements: Array.from({ length: 65 }, (_, i) => i.toString(16).padStart(96, '0')) }, /ref\.measurements must hold 1\.\.64 entries, has 65/],
    ['not a list', { measurements: m }, /ref\.measurements must be an array/],
    ['uppercase hex', { measurements: ['AB'.repeat(48)] }, /ref\.measurements\[0\] must be 96 lowercase hex digits/],
    ['SHA-256 length', { measurements: [m, 'ab'.repeat(32)] }, /ref\.measurements\[1\] must be 96/],
    ['not a string', { measurements: [48] }, /ref\.measurements\[0\] must be 96/],
    ['duplicate', { measurements: [m, m] }, /ref\.measurements\[1\] is a duplicate/],
    ['minTcb unknown part', { measurements: [m], minTcb: { bootloader: 1, tee: 1, snp: 1, microcode: 1, fmc: 1 } }, /ref\.minTcb\.fmc is not a known field/],
    ['minTcb missing part', { measurements: [m], minTcb: { bootloader: 1, tee: 1, snp: 1 } }, /ref\.minTcb\.microcode is missing/],
    ['minTcb above a byte', { measurements: [m], minTcb: { bootloader: 256, tee: 1, snp: 1, microcode: 1 } }, /ref\.minTcb\.bootloader must be an integer 0\.\.255/],
    ['minTcb negative', { measurements: [m], minTcb: { bootloader: 1, tee: -1, snp: 1, microcode: 1 } }, /ref\.minTcb\.tee must be/],
    ['minTcb fraction', { measurements: [m], minTcb: { bootloader: 1, tee: 1, snp: 1.5, microcode: 1 } }, /ref\.minTcb\.snp must be/],
    ['minTcb string', { measurements: [m], minTcb: { bootloader: 1, tee: 1, snp: 1, microcode: '1' } }, /ref\.minTcb\.microcode must be/],
    ['allowDebug not boolean', { measurements: [m], allowDebug: 'no' }, /ref\.allowDebug must be false/],
    ['allowDebug true', { measurements: [m], allowDebug: true }, /ref\.allowDebug must be false: a debuggable guest/],
    ['allowMigrateMa not boolean', { measurements: [m], allowMigrateMa: 1 }, /ref\.allowMigrateMa must be true or false/],
    ['vmpl 4', { measurements: [m], vmpl: 4 }, /ref\.vmpl must be an integer 0\.\.3/],
  ];
  for (const [name, json, message] of cases) t.throws(() => parseSevSnpReference(json, 'ref'), { code: 'E_ATT_MANIFEST', message }, name);
});
