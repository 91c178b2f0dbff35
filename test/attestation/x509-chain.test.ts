// The certificate-chain checks every hardware verifier relies on: a good
// chain passes as of a time inside every validity period; each rule
// node:crypto does not check by itself (validity, CA basic constraints,
// keyCertSign, path length, end entity, pinned root) refuses a chain that
// breaks only it; malformed DER and PEM are refused with E_ATT_FORMAT.
import t, { type Test } from 'tap';
import { X509Certificate } from 'node:crypto';
import { AttestationError } from '../../attestation/errors.ts';
import { certificateExtensions, derChildren, derNode, derOid } from '../../attestation/x509/der.ts';
import { certificateFingerprint, parseCertificate, splitPemCertificates, verifyCertificateChain } from '../../attestation/x509/chain.ts';
import { caExtensions, issueChain, leafExtensions, type CertSpec } from '../support/test-ca.ts';

const at = new Date('2030-01-01T00:00:00Z');
const spec = (name: string, extensions: string[], extra: Partial<CertSpec> = {}): CertSpec => ({ name, extensions, ...extra });

/** Issues root first, returns the chain leaf first with the root's fingerprint pinned. */
function chainOf(specs: CertSpec[]) {
  const certs = issueChain(specs).map((c) => new X509Certificate(c.pem)).reverse();
  return { certs, pinned: [certificateFingerprint(certs[certs.length - 1])] };
}

function refuses(t: Test, fn: () => unknown, code: string, pattern: RegExp, msg: string): void {
  t.throws(fn, { name: 'AttestationError', code, message: pattern }, msg);
}

const good = chainOf([spec('Root', caExtensions), spec('Intermediate', caExtensions), spec('Leaf', leafExtensions)]);

t.test('a good chain passes and names its root', async (t) => {
  const result = verifyCertificateChain(good.certs, { at, rootFingerprints: good.pinned, what: 'test chain' });
  t.same(result.rootFingerprint, good.pinned[0]);
  t.same(result.checks.map((c) => c.check), ['chain', 'root', 'validity']);
  t.match(result.checks[1].detail, /CN=Root/);
});

t.test('validity is checked as of the given time, at both ends', async (t) => {
  const opts = { rootFingerprints: good.pinned, what: 'test chain' };
  refuses(t, () => verifyCertificateChain(good.certs, { ...opts, at: new Date('2019-12-31T23:59:59Z') }), 'E_ATT_EXPIRED', /not at 2019/, 'before notBefore');
  refuses(t, () => verifyCertificateChain(good.certs, { ...opts, at: new Date('2040-01-01T00:00:01Z') }), 'E_ATT_EXPIRED', /not at 2040/, 'after notAfter');
  const shortLeaf = chainOf([spec('Root', caExtensions), spec('Leaf', leafExtensions, { notBefore: '20300101000000Z', notAfter: '20300102000000Z' })]);
  const check = (when: string) => () => verifyCertificateChain(shortLeaf.certs, { ...opts, rootFingerprints: shortLeaf.pinned, at: new Date(when) });
  t.doesNotThrow(check('2030-01-01T12:00:00Z'), 'inside the leaf validity');
  refuses(t, check('2030-01-03T00:00:00Z'), 'E_ATT_EXPIRED', /certificate 0 \(CN=Leaf\)/, 'the expired leaf is named');
});

t.test('the root must be pinned', async (t) => {
  const other = chainOf([spec('Other Root', caExtensions), spec('Leaf', leafExtensions)]);
  refuses(t, () => verifyCertificateChain(good.certs, { at, rootFingerprints: other.pinned, what: 'c' }), 'E_ATT_CHAIN', /not a pinned root/, 'unpinned root');
  refuses(t, () => verifyCertificateChain(good.certs, { at, rootFingerprints: [], what: 'c' }), 'E_ATT_CHAIN', /not a pinned root/, 'nothing pinned');
});

t.test('each certificate must be signed by the next', async (t) => {
  const other = chainOf([spec('Root', caExtensions), spec('Intermediate', caExtensions), spec('Leaf', leafExtensions)]);
  // Same names, other keys: the issuer name matches, the signature does not.
  refuses(t, () => verifyCertificateChain([other.certs[0], good.certs[1], good.certs[2]], { at, rootFingerprints: good.pinned, what: 'c' }), 'E_ATT_CHAIN', /signature/, 'leaf of another intermediate');
  refuses(t, () => verifyCertificateChain([good.certs[0], good.certs[2]], { at, rootFingerprints: good.pinned, what: 'c' }), 'E_ATT_CHAIN', /signature by CN=Root/, 'skipped intermediate');
  refuses(t, () => verifyCertificateChain([good.certs[2]], { at, rootFingerprints: good.pinned, what: 'c' }), 'E_ATT_CHAIN', /2\.\.8/, 'a root alone');
});

t.test('issuers must be CAs allowed to sign certificates, within their path length', async (t) => {
  const cases: [string, string[], RegExp][] = [
    ['no basic constraints', ['keyUsage=critical,keyCertSign'], /not a CA/],
    ['CA:FALSE', ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,keyCertSign'], /not a CA/],
    ['no key usage', ['basicConstraints=critical,CA:TRUE'], /keyCertSign/],
    ['key usage without keyCertSign', ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature,cRLSign'], /keyCertSign/],
  ];
  for (const [name, extensions, pattern] of cases) {
    const c = chainOf([spec('Root', caExtensions), spec('Intermediate', extensions), spec('Leaf', leafExtensions)]);
    refuses(t, () => verifyCertificateChain(c.certs, { at, rootFingerprints: c.pinned, what: 'c' }), 'E_ATT_CHAIN', pattern, `intermediate with ${name}`);
  }
  const pathZero = chainOf([spec('Root', ['basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign']), spec('Intermediate', caExtensions), spec('Leaf', leafExtensions)]);
  refuses(t, () => verifyCertificateChain(pathZero.certs, { at, rootFingerprints: pathZero.pinned, what: 'c' }), 'E_ATT_CHAIN', /allows 0 intermediate/, 'root pathlen:0 above an intermediate');
  const pathOne = chainOf([spec('Root', ['basicConstraints=critical,CA:TRUE,pathlen:1', 'keyUsage=critical,keyCertSign']), spec('Intermediate', caExtensions), spec('Leaf', leafExtensions)]);
  t.doesNotThrow(() => verifyCertificateChain(pathOne.certs, { at, rootFingerprints: pathOne.pinned, what: 'c' }), 'pathlen:1 allows one intermediate');
});

t.test('the leaf must be an end entity that may sign', async (t) => {
  const caLeaf = chainOf([spec('Root', caExtensions), spec('Leaf', caExtensions)]);
  refuses(t, () => verifyCertificateChain(caLeaf.certs, { at, rootFingerprints: caLeaf.pinned, what: 'c' }), 'E_ATT_CHAIN', /is a CA/, 'a CA as leaf');
  const noSign = chainOf([spec('Root', caExtensions), spec('Leaf', ['keyUsage=critical,keyAgreement'])]);
  refuses(t, () => verifyCertificateChain(noSign.certs, { at, rootFingerprints: noSign.pinned, what: 'c' }), 'E_ATT_CHAIN', /digitalSignature/, 'a leaf without digitalSignature');
  const bare = chainOf([spec('Root', caExtensions), spec('Leaf', [])]);
  t.doesNotThrow(() => verifyCertificateChain(bare.certs, { at, rootFingerprints: bare.pinned, what: 'c' }), 'a leaf without key usage may sign (AMD VCEKs have none)');
});

t.test('every flipped bit in every certificate of the chain is refused (all of them, enumerated)', async (t) => {
  const ders = good.certs.map((c) => new Uint8Array(c.raw));
  const accepted: string[] = [];
  ders.forEach((der, which) => {
    for (let bit = 0; bit < der.length * 8; bit++) {
      const flipped = ders.map((d) => d.slice());
      flipped[which][bit >> 3] ^= 0x80 >> (bit & 7);
      try {
        verifyCertificateChain(flipped.map((d) => parseCertificate(d, 'c')), { at, rootFingerprints: good.pinned, what: 'c' });
        accepted.push(`certificate ${which} bit ${bit}`);
      } catch (error) {
        if (!(error instanceof AttestationError)) accepted.push(`certificate ${which} bit ${bit}: untyped ${(error as Error).message}`);
      }
    }
  });
  t.same(accepted, [], `${ders.reduce((n, d) => n + d.length * 8, 0)} flips, each refused with a typed error`);
});

t.test('parsing certificates and PEM bundles is bounded and strict', async (t) => {
  const pem = good.certs.map((c) => c.toString()).join('');
  t.equal(splitPemCertificates(pem, 'bundle').length, 3);
  t.equal(parseCertificate(new Uint8Array(good.certs[0].raw), 'der').subject, good.certs[0].subject);
  refuses(t, () => splitPemCertificates(`${pem}garbage`, 'bundle'), 'E_ATT_FORMAT', /other than PEM/, 'trailing text');
  refuses(t, () => splitPemCertificates('', 'bundle'), 'E_ATT_FORMAT', /1\.\.8/, 'empty bundle');
  refuses(t, () => splitPemCertificates(pem, 'bundle', 2), 'E_ATT_FORMAT', /1\.\.2 certificates, holds 3/, 'too many');
  refuses(t, () => parseCertificate(new Uint8Array(0), 'c'), 'E_ATT_FORMAT', /1\.\.8192/, 'empty');
  refuses(t, () => parseCertificate(new Uint8Array(8193), 'c'), 'E_ATT_FORMAT', /1\.\.8192/, 'oversized');
  refuses(t, () => parseCertificate(new Uint8Array(good.certs[0].raw).subarray(0, 100), 'c'), 'E_ATT_FORMAT', /not an X\.509/, 'truncated');
});

t.test('the DER walker refuses what is not DER', async (t) => {
  refuses(t, () => derNode(Uint8Array.of(0x30, 0x80, 0, 0), 'x'), 'E_ATT_FORMAT', /indefinite/, 'indefinite length');
  refuses(t, () => derNode(Uint8Array.of(0x30, 0x03, 1, 2), 'x'), 'E_ATT_FORMAT', /past the end/, 'length past the end');
  refuses(t, () => derNode(Uint8Array.of(0x04, 0x01, 1, 2), 'x'), 'E_ATT_FORMAT', /trailing/, 'trailing bytes');
  refuses(t, () => derNode(Uint8Array.of(0x04, 0x85, 1, 1, 1, 1, 1), 'x'), 'E_ATT_FORMAT', /too long/, 'five length octets');
  refuses(t, () => derNode(Uint8Array.of(0x1f, 0x01, 0), 'x'), 'E_ATT_FORMAT', /multi-byte/, 'multi-byte tag');
  refuses(t, () => derChildren(Uint8Array.of(0x04), 'x'), 'E_ATT_FORMAT', /truncated/, 'truncated child');
  t.equal(derOid({ tag: 0x06, value: Uint8Array.of(0x55, 0x1d, 0x0f) }, 'x'), '2.5.29.15');
  t.equal(derOid({ tag: 0x06, value: Uint8Array.of(0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01) }, 'x'), '1.3.6.1.4.1.3704.1', 'AMD arc (multi-byte)');
  const exts = certificateExtensions(new Uint8Array(good.certs[0].raw), 'leaf');
  t.ok(exts.get('2.5.29.15')?.critical, 'key usage found and critical');
  t.ok(exts.has('2.5.29.14'), 'subject key identifier found');
});
