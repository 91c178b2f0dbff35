// TLS for NBD (proto.md "TLS support"): the credentials a listener requires
// and the upgrade of a connection after NBD_OPT_STARTTLS.
//
// Two kinds of credentials, as qemu-nbd, nbdkit and libnbd use them:
// - pre-shared keys: a `username:hexkey` file (psk-file.ts); a client proves
//   it holds one of the keys, and the server holds no certificate;
// - X.509: a directory laid out like qemu's tls-creds-x509 (server-cert.pem,
//   server-key.pem, and ca-cert.pem). With ca-cert.pem present every client
//   must present a certificate signed by it (qemu's verify-peer=yes); without
//   it any client that can reach the port may connect, as with plain TCP but
//   encrypted, so the CLI asks for the CA unless told otherwise.
//
// Trusts: the files given, which must not be readable by group or others when
// they hold secrets. The TLS handshake itself is Node's (OpenSSL); this module
// only chooses what it accepts.

import { stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { parsePskFile } from './psk-file.ts';

export class NbdTlsError extends Error {
  readonly code = 'E_NBD_TLS_CREDENTIALS';
  constructor(message: string) {
    super(message);
    this.name = 'NbdTlsError';
  }
}

export type NbdTlsCredentials =
  | { kind: 'psk'; source: string; keys: ReadonlyMap<string, Buffer> }
  | { kind: 'x509'; source: string; pem: { cert: Buffer; key: Buffer; ca: Buffer | null }; verifyClients: boolean };

/** Largest credential file read (a certificate chain or key in PEM). */
const credentialFileBytesMax = 256 * 1024;

async function readCredentialFile(path: string, secret: boolean): Promise<Buffer | null> {
  let info;
  try {
    info = await stat(path);
  } catch {
    return null;
  }
  if (!info.isFile()) throw new NbdTlsError(`${path} is not a file`);
  if (info.size > credentialFileBytesMax) throw new NbdTlsError(`${path} is larger than ${credentialFileBytesMax} bytes`);
  if (secret && (info.mode & 0o077) !== 0) throw new NbdTlsError(`${path} is readable by group or others; chmod 600 it`);
  return readFile(path);
}

/** Loads a PSK file (`username:hexkey` lines); it must be private to its owner. */
export async function loadPskCredentials(file: string): Promise<NbdTlsCredentials> {
  const bytes = await readCredentialFile(file, true);
  if (!bytes) throw new NbdTlsError(`${file} is missing`);
  try {
    return { kind: 'psk', source: file, keys: parsePskFile(bytes.toString('utf8'), file) };
  } finally {
    bytes.fill(0);
  }
}

/** Loads server-cert.pem, server-key.pem and (optional) ca-cert.pem from `dir`, qemu's file names. */
export async function loadX509Credentials(dir: string): Promise<NbdTlsCredentials> {
  const cert = await readCredentialFile(join(dir, 'server-cert.pem'), false);
  const key = await readCredentialFile(join(dir, 'server-key.pem'), true);
  const ca = await readCredentialFile(join(dir, 'ca-cert.pem'), false);
  if (!cert || !key) throw new NbdTlsError(`${dir} must hold server-cert.pem and server-key.pem`);
  try {
    tls.createSecureContext({ cert, key, ...(ca ? { ca } : {}) }); // refuses a bad pair now rather than at each client
  } catch (err) {
    key.fill(0);
    throw new NbdTlsError(`${dir}: cannot use the certificate and key: ${(err as Error).message}`);
  }
  // The key stays in memory for the listener's life: each connection's TLS
  // server is built from it (see startTls).
  return { kind: 'x509', source: dir, pem: { cert, key, ca }, verifyClients: ca !== null };
}

export interface TlsUpgrade {
  /** The handshake succeeded and the peer passed every check: read and write through `socket` from now on. */
  secure(socket: tls.TLSSocket, identity: string | null): void;
  /** The handshake failed or the peer was refused; the socket is already destroyed. */
  failed(err: Error): void;
}

// TLS 1.2 PSK suites must be named to be offered at all; TLS 1.3 serves PSK
// with its default suites (SHA-256 ones, as OpenSSL's PSK callback requires).
const pskCiphers = 'ECDHE-PSK-AES256-CBC-SHA384:ECDHE-PSK-AES128-CBC-SHA256:ECDHE-PSK-CHACHA20-POLY1305:DHE-PSK-AES256-GCM-SHA384:DHE-PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256';

/**
 * Starts the server side of TLS on a connection whose STARTTLS was just
 * acknowledged. Node then owns the raw socket's reads: the caller must have
 * removed its own 'data' listener.
 *
 * The handshake runs in a tls.Server made for this one connection (it never
 * listens; the socket is handed to it): that is the public path on which
 * Node checks a client certificate against the CA and refuses it when
 * rejectUnauthorized is set. A bare TLSSocket does not.
 */
export function startTls(raw: Duplex, credentials: NbdTlsCredentials, upgrade: TlsUpgrade): void {
  let identity: string | null = null;
  const server =
    credentials.kind === 'psk'
      ? tls.createServer({
          ciphers: pskCiphers,
          minVersion: 'TLSv1.2',
          pskCallback: (_socket: tls.TLSSocket, id: string) => {
            const key = credentials.keys.get(id);
            if (!key) return null;
            identity = id;
            return key;
          },
        })
      : tls.createServer({
          minVersion: 'TLSv1.2',
          cert: credentials.pem.cert,
          key: credentials.pem.key,
          ...(credentials.pem.ca ? { ca: credentials.pem.ca } : {}),
          requestCert: credentials.verifyClients,
          rejectUnauthorized: credentials.verifyClients,
        });
  server.once('secureConnection', (socket: tls.TLSSocket) => {
    if (credentials.kind === 'x509' && credentials.verifyClients) {
      const subject = socket.getPeerCertificate()?.subject;
      identity = subject ? Object.entries(subject).map(([k, v]) => `${k}=${v}`).join(',') : null;
    }
    upgrade.secure(socket, identity);
  });
  server.once('tlsClientError', (err: Error) => upgrade.failed(err));
  server.emit('connection', raw);
}
