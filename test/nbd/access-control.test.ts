// Who can reach an export, checked with the real clients (nbdinfo, qemu-img,
// nbdcopy from libnbd and qemu) and a raw socket: TLS with a pre-shared key
// and with X.509 certificates (client certificates required), a Unix socket
// with its mode; refusals of a client without the key, with a wrong key, with
// no certificate, of options sent before STARTTLS, of plaintext TCP beyond
// loopback, and of socket paths that are not ours to replace.

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { MemoryDevice } from '../../array-manager/nbd/memory-device.ts';
import { NbdListenError, type NbdListenSpec } from '../../array-manager/nbd/nbd-listeners.ts';
import { startNbdServer } from '../../array-manager/nbd/nbd-server.ts';
import { loadPskCredentials, loadX509Credentials, NbdTlsError } from '../../array-manager/nbd/nbd-tls.ts';
import * as wire from '../../array-manager/nbd/nbd-wire.ts';
import { has, run } from './child-process.ts';
import { RawClient } from './nbd-test-client.ts';
import { makeX509, scratchDir, writePskFile } from './tls-fixtures.ts';

const sizeBytes = 4 << 20;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const libnbd = !has('nbdinfo') || !has('nbdcopy') ? 'libnbd-bin not installed' : false;
const qemu = !has('qemu-img') ? 'qemu-utils not installed' : false;

async function serve(t: Test, listen: NbdListenSpec[]) {
  const device = new MemoryDevice({ sizeBytes });
  const lines: string[] = [];
  const server = await startNbdServer({ listen, exports: device, log: (l) => lines.push(l) });
  t.teardown(() => server.close());
  const tcp = server.listeners.find((l) => l.kind === 'tcp');
  return { device, server, lines, port: tcp?.kind === 'tcp' ? tcp.port : 0 };
}

/** Writes a random image, copies it in with `put`, checks the device, copies it out with nbdcopy from `uri`. */
async function roundTrip(t: Test, device: MemoryDevice, dir: string, put: (image: string) => Promise<{ code: number; stderr: string }>, uri: string) {
  const image = randomBytes(sizeBytes);
  writeFileSync(join(dir, 'in.raw'), image);
  const putResult = await put(join(dir, 'in.raw'));
  t.equal(putResult.code, 0, putResult.stderr);
  t.equal(sha256(await device.read(0, sizeBytes)), sha256(image), 'the device holds the image');
  const get = await run('nbdcopy', [uri, join(dir, 'out.raw')]);
  t.equal(get.code, 0, get.stderr);
  t.equal(sha256(readFileSync(join(dir, 'out.raw'))), sha256(image), 'nbdcopy read it back');
}

t.test('TLS with a pre-shared key: qemu-img, nbdcopy and nbdinfo get in, nobody else does', { skip: libnbd || qemu }, async (t) => {
  const dir = scratchDir(t);
  const pskFile = writePskFile(dir, 'server.psk', 'alice');
  const { device, port, lines } = await serve(t, [{ kind: 'tcp', host: '127.0.0.1', port: 0, tls: await loadPskCredentials(pskFile) }]);
  const uri = `nbds://alice@127.0.0.1:${port}/?tls-psk-file=${pskFile}`;

  const info = await run('nbdinfo', ['--json', uri]);
  t.equal(info.code, 0, info.stderr);
  t.equal(JSON.parse(info.stdout).TLS, true, 'nbdinfo negotiated TLS');
  t.equal(JSON.parse(info.stdout).exports[0]['export-size'], sizeBytes);

  // qemu reads the key as DIR/keys.psk (tls-creds-psk).
  const qemuDir = join(dir, 'qemu');
  await run('mkdir', ['-m', '700', qemuDir]);
  writeFileSync(join(qemuDir, 'keys.psk'), readFileSync(pskFile), { mode: 0o600 });
  const object = `tls-creds-psk,id=tls0,endpoint=client,dir=${qemuDir},username=alice`;
  const target = `driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=${port},tls-creds=tls0`;
  await roundTrip(t, device, dir, (image) => run('qemu-img', ['convert', '-n', '--object', object, '-f', 'raw', image, '--target-image-opts', target]), uri);
  t.ok(lines.some((l) => l.includes('TLS client alice')), 'the log names the PSK user');

  const plain = await run('nbdinfo', [`nbd://127.0.0.1:${port}/`]);
  t.not(plain.code, 0, 'a client without TLS is refused');
  const wrongKey = writePskFile(dir, 'wrong.psk', 'alice');
  const wrong = await run('nbdinfo', [`nbds://alice@127.0.0.1:${port}/?tls-psk-file=${wrongKey}`]);
  t.not(wrong.code, 0, 'the right user with a wrong key is refused');
  const strangerKey = writePskFile(dir, 'stranger.psk', 'mallory');
  const stranger = await run('nbdinfo', [`nbds://mallory@127.0.0.1:${port}/?tls-psk-file=${strangerKey}`]);
  t.not(stranger.code, 0, 'an unknown user is refused');
  const qemuPlain = await run('qemu-img', ['info', '--image-opts', `driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=${port}`]);
  t.not(qemuPlain.code, 0);
  t.match(qemuPlain.stderr, /TLS/, 'qemu-img is told TLS is required');
});

t.test('TLS with X.509: a client with a certificate from the CA gets in, one without does not', { skip: libnbd || qemu || (!has('openssl') && 'openssl not installed') }, async (t) => {
  const dir = scratchDir(t);
  const x509 = await makeX509(dir);
  const credentials = await loadX509Credentials(x509.server);
  t.equal(credentials.kind === 'x509' && credentials.verifyClients, true, 'ca-cert.pem present: client certificates required');
  const { device, port, lines } = await serve(t, [{ kind: 'tcp', host: '127.0.0.1', port: 0, tls: credentials }]);
  const uri = `nbds://127.0.0.1:${port}/?tls-certificates=${x509.client}`;

  const info = await run('nbdinfo', ['--json', uri]);
  t.equal(info.code, 0, info.stderr);
  t.equal(JSON.parse(info.stdout).TLS, true);
  const object = `tls-creds-x509,id=tls0,endpoint=client,dir=${x509.client}`;
  const target = `driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=${port},tls-creds=tls0`;
  await roundTrip(t, device, dir, (image) => run('qemu-img', ['convert', '-n', '--object', object, '-f', 'raw', image, '--target-image-opts', target]), uri);
  t.ok(lines.some((l) => /TLS client .*CN=backup-host/.test(l)), 'the log names the certificate subject');

  const anonymous = await run('nbdinfo', [`nbds://127.0.0.1:${port}/?tls-certificates=${x509.anonymous}`]);
  t.not(anonymous.code, 0, 'a client without a certificate is refused');
  const plain = await run('nbdinfo', [`nbd://127.0.0.1:${port}/`]);
  t.not(plain.code, 0, 'a client without TLS is refused');
});

t.test('X.509 credentials: missing files and private keys readable by others are refused', async (t) => {
  const dir = scratchDir(t);
  await t.rejects(loadX509Credentials(dir), NbdTlsError, 'no server-cert.pem');
  writeFileSync(join(dir, 'server-cert.pem'), 'not a certificate');
  writeFileSync(join(dir, 'server-key.pem'), 'not a key', { mode: 0o644 });
  await t.rejects(loadX509Credentials(dir), /readable by group or others/);
  writeFileSync(join(dir, 'open.psk'), 'alice:' + '00'.repeat(32), { mode: 0o640 });
  await t.rejects(loadPskCredentials(join(dir, 'open.psk')), /readable by group or others/);
  await t.rejects(loadPskCredentials(join(dir, 'missing.psk')), /missing/);
});

t.test('before STARTTLS only STARTTLS and ABORT are served', async (t) => {
  const dir = scratchDir(t);
  const { port } = await serve(t, [{ kind: 'tcp', host: '127.0.0.1', port: 0, tls: await loadPskCredentials(writePskFile(dir, 'k.psk', 'alice')) }]);
  const c = await RawClient.connect(port);
  await c.greeting();
  c.send(wire.encodeClientFlags(wire.NBD_FLAG_C_FIXED_NEWSTYLE | wire.NBD_FLAG_C_NO_ZEROES));
  const go = wire.encodeInfoRequest({ name: '', infos: [] });
  for (const [option, data] of [
    [wire.NBD_OPT_LIST, new Uint8Array(0)],
    [wire.NBD_OPT_INFO, go],
    [wire.NBD_OPT_GO, go],
    [wire.NBD_OPT_STRUCTURED_REPLY, new Uint8Array(0)],
    [wire.NBD_OPT_LIST_META_CONTEXT, new Uint8Array(0)],
    [99, new Uint8Array(0)],
  ] as const) {
    c.sendOption(option, data);
    const reply = await c.optionReply();
    t.equal(reply.option, option);
    t.equal(reply.type, wire.NBD_REP_ERR_TLS_REQD, `option ${option}: ERR_TLS_REQD`);
  }
  c.sendOption(wire.NBD_OPT_STARTTLS, new Uint8Array(1));
  t.equal((await c.optionReply()).type, wire.NBD_REP_ERR_INVALID, 'STARTTLS with data: ERR_INVALID');
  c.sendOption(wire.NBD_OPT_EXPORT_NAME, new Uint8Array(0));
  t.ok(await c.closedByServer(), 'EXPORT_NAME before TLS: disconnected (it cannot carry an error)');

  const d = await RawClient.connect(port);
  await d.greeting();
  d.send(wire.encodeClientFlags(wire.NBD_FLAG_C_FIXED_NEWSTYLE));
  d.sendOption(wire.NBD_OPT_STARTTLS);
  t.equal((await d.optionReply()).type, wire.NBD_REP_ACK, 'STARTTLS acknowledged');
  d.send(Buffer.from('this is not a TLS ClientHello'));
  t.ok(await d.closedByServer(), 'garbage instead of TLS: disconnected');
});

t.test('a Unix socket: mode 0600, clients by path, removed on close', { skip: libnbd || qemu }, async (t) => {
  const dir = scratchDir(t);
  const path = join(dir, 'nbd.sock');
  const { device, server } = await serve(t, [{ kind: 'unix', path }]);
  const info = lstatSync(path);
  t.ok(info.isSocket());
  t.equal(info.mode & 0o777, 0o600, 'only the owner may connect');
  t.same(server.listeners, [{ kind: 'unix', path, mode: 0o600, tls: null }]);
  const uri = `nbd+unix:///?socket=${path}`;
  await roundTrip(t, device, dir, (image) => run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', image, uri]), uri);
  t.throws(() => server.address, /no TCP listener/);
  await server.close();
  t.notOk(existsSync(path), 'the socket file is removed on close');
});

t.test('socket paths: a stale socket is replaced; a live one, a file and a bad mode are refused', async (t) => {
  const dir = scratchDir(t);
  const device = new MemoryDevice({ sizeBytes: 1 << 20 });
  const start = (listen: NbdListenSpec[]) => startNbdServer({ listen, exports: device });

  const stale = join(dir, 'stale.sock');
  // A server killed while listening leaves its socket file behind.
  await run(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  t.ok(lstatSync(stale).isSocket(), 'a stale socket file exists');
  const replaced = await start([{ kind: 'unix', path: stale }]);
  const c = await RawClient.connectTo({ path: stale });
  await c.greeting();
  c.destroy();

  await t.rejects(start([{ kind: 'unix', path: stale }]), { code: 'E_NBD_SOCKET_IN_USE' }, 'a live socket is not taken over');
  await replaced.close();

  const file = join(dir, 'important.txt');
  writeFileSync(file, 'keep me');
  await t.rejects(start([{ kind: 'unix', path: file }]), { code: 'E_NBD_SOCKET_PATH' });
  t.equal(readFileSync(file, 'utf8'), 'keep me', 'a file that is not a socket is left alone');
  await t.rejects(start([{ kind: 'unix', path: join(dir, 'x'.repeat(120)) }]), { code: 'E_NBD_SOCKET_PATH' }, 'longer than sun_path');
  await t.rejects(start([{ kind: 'unix', path: join(dir, 'o.sock'), mode: 0o666 }]), { code: 'E_NBD_SOCKET_MODE' }, 'others may not connect');
  await t.rejects(start([{ kind: 'unix', path: join(dir, 'o.sock'), mode: 0o400 }]), { code: 'E_NBD_SOCKET_MODE' });

  const shared = join(dir, 'group.sock');
  const grouped = await start([{ kind: 'unix', path: shared, mode: 0o660, gid: process.getgid!() }]);
  t.equal(lstatSync(shared).mode & 0o777, 0o660, 'group mode when asked');
  await grouped.close();
});

t.test('plain TCP beyond loopback needs insecure: true', async (t) => {
  const device = new MemoryDevice({ sizeBytes: 1 << 20 });
  await t.rejects(startNbdServer({ listen: [{ kind: 'tcp', host: '0.0.0.0', port: 0 }], exports: device }), NbdListenError);
  await t.rejects(startNbdServer({ listen: [{ kind: 'tcp', host: '0.0.0.0', port: 0 }], exports: device }), { code: 'E_NBD_INSECURE_TCP' });
  const allowed = await startNbdServer({ listen: [{ kind: 'tcp', host: '0.0.0.0', port: 0, insecure: true }], exports: device });
  t.equal(allowed.listeners[0]!.tls, null);
  await allowed.close();
});
