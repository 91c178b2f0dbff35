// The sockets an NBD server listens on: TCP (plain or TLS-only) and Unix
// domain sockets protected by file permissions (what `qemu-nbd -k` and
// `nbdkit -U` offer; clients use nbd+unix:///?socket=PATH).
//
// Rules, checked before anything listens:
// - plain TCP (no TLS credentials) on an address other than loopback needs
//   `insecure: true`: anyone who can reach the port reads and writes the
//   disk in plaintext;
// - a Unix socket is created with mode 0600 (or the given mode, 0660 with a
//   group) under a umask that never lets it be wider for an instant; an
//   existing socket nobody listens on is replaced, a live one or anything
//   that is not a socket is refused; close() removes it.
// Does not handle: the connections themselves (nbd-server.ts).

import { chmod, chown, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import type { NbdTlsCredentials } from './nbd-tls.ts';

export class NbdListenError extends Error {
  constructor(
    readonly code: 'E_NBD_INSECURE_TCP' | 'E_NBD_SOCKET_PATH' | 'E_NBD_SOCKET_IN_USE' | 'E_NBD_SOCKET_MODE',
    message: string,
  ) {
    super(message);
    this.name = 'NbdListenError';
  }
}

export type NbdListenSpec =
  | {
      kind: 'tcp';
      host: string;
      /** 0 picks a free port. */
      port: number;
      /** Required of every client before anything else (FORCEDTLS); none: plaintext. */
      tls?: NbdTlsCredentials;
      /** Allows plaintext on an address other than loopback. */
      insecure?: boolean;
    }
  | {
      kind: 'unix';
      path: string;
      /** Permission bits of the socket file; default 0o600. Only owner and group bits may be set. */
      mode?: number;
      /** Group to own the socket (numeric id), for mode 0o660. */
      gid?: number;
      tls?: NbdTlsCredentials;
    };

/** Where a listener ended up (TCP port 0 resolved). */
export type NbdListenerAddress =
  | { kind: 'tcp'; host: string; port: number; tls: NbdTlsCredentials['kind'] | null }
  | { kind: 'unix'; path: string; mode: number; tls: NbdTlsCredentials['kind'] | null };

export interface NbdListener {
  readonly address: NbdListenerAddress;
  readonly spec: NbdListenSpec;
  close(): Promise<void>;
}

/** sun_path holds 108 bytes on Linux, the terminating NUL included. */
export const unixSocketPathBytesMax = 107;

/** True for addresses only this host can reach. A host name other than localhost counts as reachable from elsewhere. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return /^::ffff:127\./i.test(host);
}

export function checkListenSpec(spec: NbdListenSpec): void {
  if (spec.kind === 'tcp') {
    if (!spec.tls && !spec.insecure && !isLoopback(spec.host)) {
      throw new NbdListenError(
        'E_NBD_INSECURE_TCP',
        `plain NBD over TCP on ${spec.host} would let anyone who reaches the port read and write the disk unencrypted; use TLS, a Unix socket, or allow it explicitly`,
      );
    }
    return;
  }
  const mode = spec.mode ?? 0o600;
  if ((mode & ~0o660) !== 0 || (mode & 0o600) !== 0o600) {
    throw new NbdListenError('E_NBD_SOCKET_MODE', `socket mode ${mode.toString(8)} must give the owner rw and others nothing (0600 or 0660)`);
  }
  if (Buffer.byteLength(spec.path) > unixSocketPathBytesMax) {
    throw new NbdListenError('E_NBD_SOCKET_PATH', `socket path ${spec.path} is longer than ${unixSocketPathBytesMax} bytes`);
  }
}

/** Starts listening for one spec; connections go to `onConnection`. */
export async function openListener(spec: NbdListenSpec, onConnection: (socket: net.Socket, listener: NbdListenSpec) => void): Promise<NbdListener> {
  checkListenSpec(spec);
  const server = net.createServer({ noDelay: true }, (socket) => onConnection(socket, spec));
  if (spec.kind === 'tcp') {
    await listen(server, () => server.listen(spec.port, spec.host));
    const port = (server.address() as net.AddressInfo).port;
    return { spec, address: { kind: 'tcp', host: spec.host, port, tls: spec.tls?.kind ?? null }, close: () => closeServer(server) };
  }
  await clearStaleSocket(spec.path);
  const mode = spec.mode ?? 0o600;
  // bind() creates the file with the process umask: narrow it for that call
  // (synchronous inside listen()) so the socket is never wider than 0600.
  const umask = process.umask(0o177);
  try {
    await listen(server, () => server.listen(spec.path));
  } finally {
    process.umask(umask);
  }
  const { ino } = await lstat(spec.path);
  try {
    if (spec.gid !== undefined) await chown(spec.path, -1, spec.gid);
    await chmod(spec.path, mode);
  } catch (err) {
    await closeServer(server);
    throw new NbdListenError('E_NBD_SOCKET_MODE', `cannot set the owner or mode of ${spec.path}: ${(err as Error).message}`);
  }
  return {
    spec,
    address: { kind: 'unix', path: spec.path, mode, tls: spec.tls?.kind ?? null },
    close: async () => {
      await closeServer(server);
      // libuv unlinks the socket on close; make sure, without touching a file
      // someone else has put there since.
      const now = await lstat(spec.path).catch(() => null);
      if (now?.isSocket() && now.ino === ino) await unlink(spec.path).catch(() => {});
    },
  };
}

function listen(server: net.Server, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    start();
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Removes a socket file nobody listens on (left by a crash); refuses a live socket or any other file. */
async function clearStaleSocket(path: string): Promise<void> {
  const info = await lstat(path).catch(() => null);
  if (!info) return;
  if (!info.isSocket()) throw new NbdListenError('E_NBD_SOCKET_PATH', `${path} exists and is not a socket; not replacing it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new NbdListenError('E_NBD_SOCKET_IN_USE', `${path} is in use by another server`);
  await unlink(path);
}
