// SEV-SNP evidence whose node sent no certificates: the operator's VCEKs are
// tried in turn (nothing is fetched). The right chip's VCEK among others
// verifies; only other chips' VCEKs is E_ATT_CHAIN; the right VCEK refused
// for another reason (expired) is that reason; with none at all the report
// cannot be checked.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { amdArkFingerprints } from '../../attestation/sev-snp/amd-roots.ts';
import { rulesOf } from '../../attestation/platforms.ts';

const dir = join(import.meta.dirname, '..', 'vectors', 'sev-snp');
const read = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
const report = read('lunal-genoa-v5-report.bin');
const rightVcek = read('lunal-genoa-vcek.der');
const otherVcek = read('oak-turin-vcek.der');
const otherMilan = read('go-sev-guest-milan-vcek.der');
const rootFingerprints = Object.values(amdArkFingerprints).map((hex) => new Uint8Array(Buffer.from(hex, 'hex')));
const at = new Date('2026-06-01T00:00:00Z');
const snp = rulesOf('amd-sev-snp-v1');
const none = new Uint8Array(0);

t.test('the right VCEK among the operator\'s verifies the report', async (t) => {
  const claims = snp.verify(report, none, { rootFingerprints, at, certificates: [otherVcek, otherMilan, rightVcek] });
  t.equal(claims.details.productLine, 'Genoa');
  t.same(claims, snp.verify(report, rightVcek, { rootFingerprints, at }), 'the same claims as when the node sends it');
});

t.test('the node\'s own certificates come first: operator VCEKs are not consulted then', async (t) => {
  t.throws(() => snp.verify(report, otherVcek, { rootFingerprints, at, certificates: [rightVcek] }), { code: 'E_ATT_SIGNATURE' });
});

t.test('only other chips\' VCEKs: E_ATT_CHAIN; the right one refused otherwise: that refusal', async (t) => {
  t.throws(() => snp.verify(report, none, { rootFingerprints, at, certificates: [otherVcek, otherMilan] }), {
    code: 'E_ATT_CHAIN',
    message: /none of the 2 operator-supplied VCEKs signed this evidence/,
  });
  t.throws(() => snp.verify(report, none, { rootFingerprints, at: new Date('2024-01-01T00:00:00Z'), certificates: [otherVcek, rightVcek] }), { code: 'E_ATT_EXPIRED' });
  t.throws(() => snp.verify(report, none, { rootFingerprints, at }), { name: 'AttestationError' }, 'no certificates anywhere');
});
