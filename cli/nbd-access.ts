// Who may reach the NBD export, as the CLI sets it up (docs/NBD.md, "Access
// control"): the `nbd` section of an array config, the options of `teearray
// local`, turned into listener specs with their credentials loaded, and the
// attach lines the banner prints for each.
//
// Nothing is reachable in plaintext over TCP unless asked for by name
// (`insecureTcp`, `--nbd-insecure-tcp`), and then a warning says why it is
// dangerous. `teearray local` serves a Unix socket (0600) in its data
// directory and TLS-PSK on loopback with a key it generates there.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkListenSpec, isLoopback, type NbdListenerAddress, type NbdListenSpec } from '../array-manager/nbd/nbd-listeners.ts';
import { loadPskCredentials, loadX509Credentials } from '../array-manager/nbd/nbd-tls.ts';
import { formatPskLine } from '../array-manager/nbd/psk-file.ts';
import { CliError } from './cli-error.ts';
import type { Logger } from './log.ts';

/** The access settings of an NBD export, before credentials are loaded. */
export interface NbdAccess {
  /** TCP listener, if any. */
  tcp: { host: string; port: number; tls: { pskFile: string } | { x509Dir: string; clientCerts: boolean } | null } | null;
  /** Unix socket listener, if any. */
  unixSocket: { path: string; group: number | string | null } | null;
  /** Seconds a connection may stay idle before it is closed; 0: only when its place is needed. */
  idleTimeoutSeconds: number;
}

export const idleTimeoutSecondsMax = 7 * 24 * 3600;
/** The PSK username `teearray local` writes into its key file. */
export const localPskIdentity = 'teearray';

function fail(field: string, why: string): never {
  throw new CliError(`config: ${field} ${why}`);
}

const nbdFields = ['host', 'port', 'tls', 'insecureTcp', 'unixSocket', 'unixSocketGroup', 'idleTimeoutSeconds'];

/**
 * The config file's `nbd` object (docs/CLI.md). A TCP listener needs `tls`
 * or `insecureTcp: true`; with only `unixSocket` there is none. An absent
 * section is refused: it would have to choose between plaintext and nothing.
 */
export function parseNbdSection(v: unknown, baseDir: string): NbdAccess {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('nbd', 'must be an object; set tls, unixSocket or insecureTcp (docs/NBD.md, "Access control")');
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!nbdFields.includes(key)) fail(`nbd.${key}`, 'is not a known field');
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0 || host.length > 255) fail('nbd.host', 'must be a host name or address');
  const port = o.port ?? 10809;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) fail('nbd.port', 'must be an integer in 0..65535');
  if (o.insecureTcp !== undefined && typeof o.insecureTcp !== 'boolean') fail('nbd.insecureTcp', 'must be true or false');
  const tls = o.tls === undefined ? null : parseTls(o.tls, baseDir);
  if (tls && o.insecureTcp) fail('nbd.insecureTcp', 'contradicts nbd.tls');
  let unixSocket: NbdAccess['unixSocket'] = null;
  if (o.unixSocket !== undefined) {
    if (typeof o.unixSocket !== 'string' || !o.unixSocket) fail('nbd.unixSocket', 'must be a path');
    unixSocket = { path: resolve(baseDir, o.unixSocket), group: parseGroup(o.unixSocketGroup) };
  } else if (o.unixSocketGroup !== undefined) fail('nbd.unixSocketGroup', 'needs nbd.unixSocket');
  const wantsTcp = tls !== null || o.insecureTcp === true;
  if (!wantsTcp && !unixSocket) fail('nbd', 'must set tls, unixSocket or insecureTcp: plaintext TCP is never the default (docs/NBD.md, "Access control")');
  if (!wantsTcp && (o.host !== undefined || o.port !== undefined)) fail('nbd.port', 'needs nbd.tls (or nbd.insecureTcp: true) for a TCP listener');
  const idle = o.idleTimeoutSeconds ?? 0;
  if (typeof idle !== 'number' || !Number.isInteger(idle) || idle < 0 || idle > idleTimeoutSecondsMax) fail('nbd.idleTimeoutSeconds', `must be an integer in 0..${idleTimeoutSecondsMax}`);
  return { tcp: wantsTcp ? { host, port, tls } : null, unixSocket, idleTimeoutSeconds: idle };
}

function parseTls(v: unknown, baseDir: string): NonNullable<NonNullable<NbdAccess['tcp']>['tls']> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('nbd.tls', 'must be {"pskFile": PATH} or {"x509Dir": DIR}');
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!['pskFile', 'x509Dir', 'clientCerts'].includes(key)) fail(`nbd.tls.${key}`, 'is not a known field');
  if ((o.pskFile === undefined) === (o.x509Dir === undefined)) fail('nbd.tls', 'must set exactly one of pskFile and x509Dir');
  if (o.pskFile !== undefined) {
    if (typeof o.pskFile !== 'string' || !o.pskFile) fail('nbd.tls.pskFile', 'must be a path');
    if (o.clientCerts !== undefined) fail('nbd.tls.clientCerts', 'applies to x509Dir only');
    return { pskFile: resolve(baseDir, o.pskFile) };
  }
  if (typeof o.x509Dir !== 'string' || !o.x509Dir) fail('nbd.tls.x509Dir', 'must be a path');
  if (o.clientCerts !== undefined && typeof o.clientCerts !== 'boolean') fail('nbd.tls.clientCerts', 'must be true or false');
  return { x509Dir: resolve(baseDir, o.x509Dir), clientCerts: (o.clientCerts as boolean | undefined) ?? true };
}

function parseGroup(v: unknown): number | string | null {
  if (v === undefined) return null;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32) return v;
  if (typeof v === 'string' && /^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(v)) return v;
  fail('nbd.unixSocketGroup', 'must be a group name or numeric id');
}

/** A group's numeric id: numbers as given, names from /etc/group (the only group database read). */
async function groupId(group: number | string): Promise<number> {
  if (typeof group === 'number') return group;
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new CliError(`group ${group} is not in /etc/group; give its numeric id`);
}

/** Loads credentials and returns the listener specs, warning about every plaintext TCP listener. */
export async function nbdListenSpecs(access: NbdAccess, log: Logger): Promise<NbdListenSpec[]> {
  const specs: NbdListenSpec[] = [];
  if (access.unixSocket) {
    const { path, group } = access.unixSocket;
    specs.push(group === null ? { kind: 'unix', path } : { kind: 'unix', path, mode: 0o660, gid: await groupId(group) });
  }
  if (access.tcp) {
    const { host, port, tls } = access.tcp;
    if (!tls) {
      log.warn('nbd: plaintext TCP', {
        address: `${host}:${port}`,
        why: isLoopback(host)
          ? 'every local user and every container sharing this network namespace can read and overwrite the disk'
          : 'anyone who can reach this address can read and overwrite the disk, and the network sees the data in the clear',
      });
      specs.push({ kind: 'tcp', host, port, insecure: true });
    } else {
      specs.push({ kind: 'tcp', host, port, tls: await loadTls(tls) });
    }
  }
  for (const spec of specs) {
    try {
      checkListenSpec(spec); // refused now, before an array is opened for nothing
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  return specs;
}

async function loadTls(tls: NonNullable<NonNullable<NbdAccess['tcp']>['tls']>) {
  try {
    if ('pskFile' in tls) return await loadPskCredentials(tls.pskFile);
    const credentials = await loadX509Credentials(tls.x509Dir);
    if (tls.clientCerts && credentials.kind === 'x509' && !credentials.verifyClients) {
      throw new CliError(`${tls.x509Dir} has no ca-cert.pem to check client certificates against; add it, or set "clientCerts": false to let any client that reaches the port connect`);
    }
    return credentials;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError((err as Error).message);
  }
}

/** Creates DIR/nbd.psk (0600, one 256-bit key for `localPskIdentity`) unless it exists. */
export async function ensurePskFile(dir: string): Promise<{ path: string; created: boolean }> {
  const path = join(dir, 'nbd.psk');
  const key = randomBytes(32);
  try {
    await writeFile(path, formatPskLine(localPskIdentity, key), { mode: 0o600, flag: 'wx' });
    return { path, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { path, created: false };
  } finally {
    key.fill(0);
  }
}

/** Shell-quotes a word if it needs it. */
function q(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** NBD URI and qemu options of one listener, for the banner and docs. */
export function attachLines(address: NbdListenerAddress, psk: { file: string; identity: string } | null): string[] {
  if (address.kind === 'unix') {
    const uri = `nbd+unix:///?socket=${address.path}`;
    return [
      `  # Unix socket ${address.path} (mode ${address.mode.toString(8)}: only its owner${address.mode & 0o060 ? ' and group' : ''} may connect)`,
      `  nbdinfo ${q(uri)}`,
      `  qemu-img convert -n -O raw disk.img ${q(uri)}`,
      `  nbdcopy ${q(uri)} copy.img`,
    ];
  }
  const hostPort = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
  if (address.tls === null) {
    const uri = `nbd://${hostPort}`;
    return [`  # plaintext TCP ${hostPort}: anyone who can connect may read and write`, `  nbdinfo ${uri}`, `  qemu-img convert -n -O raw disk.img ${uri}`, `  nbdcopy ${uri} copy.img`];
  }
  if (address.tls === 'psk' && psk) {
    const uri = `nbds://${psk.identity}@${hostPort}/?tls-psk-file=${psk.file}`;
    const object = `--object tls-creds-psk,id=tls0,endpoint=client,dir=DIR,username=${psk.identity}`;
    return [
      `  # TLS with the pre-shared key in ${psk.file}`,
      `  nbdinfo ${q(uri)}`,
      `  nbdcopy ${q(uri)} copy.img`,
      `  # qemu reads DIR/keys.psk: mkdir -m 700 DIR && cp ${q(psk.file)} DIR/keys.psk`,
      `  qemu-img convert -n ${object} disk.img --target-image-opts driver=nbd,server.type=inet,server.host=${address.host},server.port=${address.port},tls-creds=tls0`,
    ];
  }
  const uri = `nbds://${hostPort}/?tls-certificates=DIR`;
  return [
    `  # TLS with X.509: DIR holds ca-cert.pem${address.tls === 'x509' ? ' (and client-cert.pem, client-key.pem if client certificates are required)' : ''}`,
    `  nbdinfo ${q(uri)}`,
    `  nbdcopy ${q(uri)} copy.img`,
  ];
}
