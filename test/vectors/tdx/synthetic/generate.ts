// Generates the synthetic TDX quotes of this folder, once: real quotes never
// have the DEBUG bit, and a QE report that is validly signed yet does not
// bind the attestation key, or is not Intel's TD QE's, cannot be made
// without the PCK key. So this
// script plays Intel with its own keys: an openssl-made P-256 chain shaped
// like Intel's (root pathlen 1, CA pathlen 0, leaf CA:FALSE), a QE report
// signed by the "PCK" key, and quotes signed by a fresh attestation key. The
// private keys are thrown away; the root's fingerprint is written next to
// the quotes and pinned by test/attestation/tdx.test.ts.
//
//   npx tsx test/vectors/tdx/synthetic/generate.ts
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const out = new URL('.', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tdx-synthetic-'));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
const subject = (cn: string) => `/CN=${cn}/O=teearray test, not Intel/C=US`;

function extensions(name: string, lines: string[]): string {
  writeFileSync(join(dir, `${name}.ext`), `${lines.join('\n')}\n`);
  return `${name}.ext`;
}

for (const name of ['root', 'ca', 'pck']) openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
openssl('req', '-new', '-x509', '-key', 'root.key', '-subj', subject('Synthetic SGX Root CA'), '-days', '3650', '-sha256', '-out', 'root.pem',
  '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:1', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
openssl('req', '-new', '-key', 'ca.key', '-subj', subject('Synthetic SGX PCK Platform CA'), '-out', 'ca.csr');
openssl('x509', '-req', '-in', 'ca.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', '3000', '-sha256', '-out', 'ca.pem',
  '-extfile', extensions('ca', ['basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid']));
openssl('req', '-new', '-key', 'pck.key', '-subj', subject('Synthetic SGX PCK Certificate'), '-out', 'pck.csr');
openssl('x509', '-req', '-in', 'pck.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2500', '-sha256', '-out', 'pck.pem',
  '-extfile', extensions('pck', ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,nonRepudiation', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid']));

const pem = (name: string) => readFileSync(join(dir, `${name}.pem`), 'latin1');
const pckKey = createPrivateKey(readFileSync(join(dir, 'pck.key')));
// Leaf first, then a NUL terminator, as Intel's QE writes it.
const chainPem = Buffer.concat([Buffer.from(pem('pck') + pem('ca') + pem('root'), 'latin1'), Buffer.of(0)]);
const rootFingerprint = createHash('sha256').update(new X509Certificate(pem('root')).raw).digest('hex');
rmSync(dir, { recursive: true });

const le16 = (n: number) => Buffer.from([n & 0xff, n >> 8]);
const le32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const filled = (length: number, byte: number) => Buffer.alloc(length, byte);

// Intel's TD QE identity (attestation/tdx/td-qe-identity.ts), as real QE reports have it.
const tdQe = {
  attributes: Buffer.from('1500000000000000e700000000000000', 'hex'),
  mrSigner: Buffer.from('dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5', 'hex'),
};

function quote(opts: { debug: boolean; bindKey: boolean; intelQe: boolean }): Buffer {
  const attestation = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = attestation.publicKey.export({ format: 'jwk' });
  const attestationKey = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const header = Buffer.concat([le16(4), le16(2), le32(0x81), filled(4, 0), Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex'), filled(20, 0)]);
  const tdAttributes = filled(8, 0);
  tdAttributes[0] = opts.debug ? 1 : 0;
  const body = Buffer.concat([
    filled(16, 0x01), filled(48, 0x02), filled(48, 0), filled(8, 0), tdAttributes, Buffer.from('e718060000000000', 'hex'),
    filled(48, 0x0d), filled(48, 0), filled(48, 0), filled(48, 0),
    filled(48, 0x10), filled(48, 0x11), filled(48, 0x12), filled(48, 0x13),
    filled(64, 0x5d),
  ]);
  const authData = filled(32, 0xa7);
  const bound = createHash('sha256').update(attestationKey).update(authData).digest();
  if (!opts.bindKey) bound[0] ^= 1;
  const mrSigner = opts.intelQe ? tdQe.mrSigner : filled(32, 0x8c);
  // SGX REPORTBODY: CPUSVN, MISCSELECT, reserved, ATTRIBUTES (48), MRENCLAVE (64), reserved, MRSIGNER (128), reserved, ISVPRODID (256), ISVSVN, reserved, REPORTDATA (320).
  const qeReport = Buffer.concat([filled(48, 0), tdQe.attributes, filled(32, 0x3e), filled(32, 0), mrSigner, filled(96, 0), le16(2), le16(4), filled(60, 0), bound, filled(32, 0)]);
  const qeReportSignature = sign('sha256', qeReport, { key: pckKey, dsaEncoding: 'ieee-p1363' });
  const certification = Buffer.concat([qeReport, qeReportSignature, le16(authData.length), authData, le16(5), le32(chainPem.length), chainPem]);
  const signed = Buffer.concat([header, body]);
  const signature = sign('sha256', signed, { key: attestation.privateKey, dsaEncoding: 'ieee-p1363' });
  const signatureData = Buffer.concat([signature, attestationKey, le16(6), le32(certification.length), certification]);
  return Buffer.concat([signed, le32(signatureData.length), signatureData]);
}

writeFileSync(join(out, 'debug.quote'), quote({ debug: true, bindKey: true, intelQe: true }));
writeFileSync(join(out, 'unbound-attestation-key.quote'), quote({ debug: false, bindKey: false, intelQe: true }));
writeFileSync(join(out, 'not-intel-qe.quote'), quote({ debug: false, bindKey: true, intelQe: false }));
writeFileSync(join(out, 'root.sha256'), `${rootFingerprint}\n`);
