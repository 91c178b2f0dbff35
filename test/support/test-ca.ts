// Certificate chains made with the openssl command for tests: a root, any
// number of intermediates and a leaf, each with chosen extensions and
// validity, so each check of attestation/x509/chain.ts can be shown to
// refuse exactly what it must. Keys are P-384 unless asked otherwise.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertSpec {
  name: string;
  /** openssl x509v3 extension lines, e.g. "basicConstraints=critical,CA:TRUE". */
  extensions: string[];
  /** Validity, as `openssl ca -startdate/-enddate` take it (YYYYMMDDHHMMSSZ); default 2020..2040. */
  notBefore?: string;
  notAfter?: string;
  curve?: 'P-384' | 'P-256';
}

export interface IssuedCert {
  pem: string;
  keyPem: string;
}

export const caExtensions = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];
export const leafExtensions = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature'];

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

// `openssl ca` is the one openssl 3.0 command that sets both validity dates.
const caConfig = `[ca]
default_ca = CA
[CA]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha384
policy = any
unique_subject = no
[any]
commonName = supplied
`;

/** Issues `specs[0]` as a self-signed root and each next one signed by the one before; returns them root first. */
export function issueChain(specs: CertSpec[]): IssuedCert[] {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-ca-'));
  try {
    writeFileSync(join(dir, 'ca.cnf'), caConfig);
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), '1000\n');
    return specs.reduce<IssuedCert[]>((issued, spec, i) => {
      const key = `k${i}.pem`;
      openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${spec.curve ?? 'P-384'}`, '-out', key]);
      writeFileSync(join(dir, `e${i}.cnf`), `[ext]\n${spec.extensions.join('\n')}\nsubjectKeyIdentifier=hash\n`);
      openssl(dir, ['req', '-new', '-key', key, '-subj', `/CN=${spec.name}`, '-out', `r${i}.csr`]);
      const signer = i === 0 ? ['-selfsign', '-keyfile', key] : ['-cert', `c${i - 1}.pem`, '-keyfile', `k${i - 1}.pem`];
      const validity = ['-startdate', spec.notBefore ?? '20200101000000Z', '-enddate', spec.notAfter ?? '20400101000000Z'];
      openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', ...signer, '-in', `r${i}.csr`, ...validity, '-extfile', `e${i}.cnf`, '-extensions', 'ext', '-notext', '-out', `c${i}.pem`]);
      return [...issued, { pem: readFileSync(join(dir, `c${i}.pem`), 'utf8'), keyPem: readFileSync(join(dir, key), 'utf8') }];
    }, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
