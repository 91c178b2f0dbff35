// Credentials for the TLS tests, made fresh per test in a scratch directory:
// a PSK file as psktool writes it, and an X.509 CA with a server certificate
// (for 127.0.0.1 and localhost) and a client certificate, made with the
// openssl command. The directories follow the layouts the clients expect:
// qemu's tls-creds-x509 (ca-cert.pem, server-*/client-*.pem) and libnbd's
// tls-certificates=DIR (the same client names).

import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { formatPskLine } from '../../array-manager/nbd/psk-file.ts';
import { run } from './child-process.ts';

export function scratchDir(t: Test, prefix = 'teearray-tls-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `dir/name` holding one `identity:hexkey` line (0600) and returns its path. */
export function writePskFile(dir: string, name: string, identity: string, key = randomBytes(32)): string {
  const path = join(dir, name);
  writeFileSync(path, formatPskLine(identity, key), { mode: 0o600 });
  return path;
}

export interface X509Dirs {
  /** server-cert.pem, server-key.pem, ca-cert.pem */
  server: string;
  /** ca-cert.pem, client-cert.pem, client-key.pem: a client the CA signed */
  client: string;
  /** ca-cert.pem only: a client without a certificate */
  anonymous: string;
}

async function openssl(args: string[]): Promise<void> {
  const result = await run('openssl', args);
  if (result.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${result.stderr}`);
}

async function signedCert(dir: string, ca: string, name: string, subject: string, extensions: string): Promise<void> {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', ...ecKey, '-keyout', join(dir, `${name}-key.pem`), '-out', join(dir, `${name}.csr`), '-subj', subject]);
  await openssl(['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', join(ca, 'ca-cert.pem'), '-CAkey', join(ca, 'ca-key.pem'),
    '-CAcreateserial', '-out', join(dir, `${name}-cert.pem`), '-days', '2', '-extfile', ext]);
  chmodSync(join(dir, `${name}-key.pem`), 0o600);
}

export async function makeX509(root: string): Promise<X509Dirs> {
  const dirs = { ca: join(root, 'ca'), server: join(root, 'server'), client: join(root, 'client'), anonymous: join(root, 'anonymous') };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { mode: 0o700 });
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dirs.ca, 'ca-key.pem'),
    '-out', join(dirs.ca, 'ca-cert.pem'), '-subj', '/CN=teearray test CA', '-days', '2']);
  await signedCert(dirs.server, dirs.ca, 'server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await signedCert(dirs.client, dirs.ca, 'client', '/CN=backup-host', 'extendedKeyUsage=clientAuth\n');
  for (const dir of [dirs.server, dirs.client, dirs.anonymous]) {
    await openssl(['x509', '-in', join(dirs.ca, 'ca-cert.pem'), '-out', join(dir, 'ca-cert.pem')]);
  }
  return dirs;
}
