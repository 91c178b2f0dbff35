// `teearray local` as a first-time user runs it: it starts (keys made in the
// data dir), prints how to attach, serves an export nbdinfo can read through
// the 0600 Unix socket and over TLS with the generated key (and not without
// it), an admin API that agrees on the size, and on SIGTERM stops cleanly
// with exit 0, removing its socket and taking its disk-node processes with it.
import t from 'tap';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { has, run } from '../nbd/child-process.ts';
import { notBuilt, startCli } from './cli-process.ts';

/** True if something accepts TCP connections at host:port. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

t.test('local: starts, prints attach help, serves NBD, stops on SIGTERM', { skip: notBuilt || (!has('nbdinfo') && 'nbdinfo not installed') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-local-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const local = startCli(t, ['local', '--data-dir', dataDir, '--k', '2', '--m', '1', '--node-mib', '16', '--nbd-port', '0', '--admin-port', '0']);

  const exported = await local.line((l) => l.includes(' is exported over NBD'));
  t.match(exported, /a k=2 m=1 array of [\d.]+ GiB/, 'banner names the geometry and size');
  const socketPath = join(dataDir, 'nbd.sock');
  const pskFile = join(dataDir, 'nbd.psk');
  const unixUri = `nbd+unix:///?socket=${socketPath}`;
  await local.line((l) => l.trim() === `nbdinfo '${unixUri}'`);
  const tlsLine = await local.line((l) => l.includes('nbdinfo ') && l.includes('nbds://teearray@127.0.0.1:'));
  const [, nbdPort] = /127\.0\.0\.1:(\d+)/.exec(tlsLine)!;
  t.ok(tlsLine.includes(`tls-psk-file=${pskFile}`), 'the TLS line names the key file');
  await local.line((l) => l.includes('qemu-img convert') && l.includes('tls-creds-psk'));
  const curl = await local.line((l) => l.includes('curl -H'));
  const [, adminPort] = /http:\/\/127\.0\.0\.1:(\d+)\/status/.exec(curl)!;
  t.ok(curl.includes(join(dataDir, 'admin.token')), 'admin help points at the token file');
  await local.line((l) => l.startsWith('Ctrl-C stops it.'));

  t.equal(lstatSync(socketPath).mode & 0o777, 0o600, 'the socket is private to its owner');
  t.equal(lstatSync(pskFile).mode & 0o777, 0o600, 'the key file is private to its owner');
  const info = await run('nbdinfo', ['--json', unixUri]);
  t.equal(info.code, 0, info.stderr);
  const size = JSON.parse(info.stdout).exports[0]['export-size'] as number;
  const overTls = await run('nbdinfo', ['--json', `nbds://teearray@127.0.0.1:${nbdPort}/?tls-psk-file=${pskFile}`]);
  t.equal(overTls.code, 0, overTls.stderr);
  t.equal(JSON.parse(overTls.stdout).TLS, true, 'TCP is TLS with the generated key');
  const plain = await run('nbdinfo', [`nbd://127.0.0.1:${nbdPort}`]);
  t.not(plain.code, 0, 'no plaintext on the TCP port');
  t.ok(size > 0 && size % 4096 === 0, `export of ${size} bytes`);

  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${adminPort}/status`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
  t.equal(res.status, 200);
  const status = (await res.json()) as { sizeBytes: number; health: string; slots: { endpoint: string }[] };
  t.equal(status.sizeBytes, size, 'admin API and NBD agree on the size');
  t.equal(status.health, 'ok');
  t.equal(status.slots.length, 3);

  t.equal(await local.stop('SIGTERM'), 0, 'exit 0 on SIGTERM');
  t.match(local.stderr(), /stopped/);
  t.notOk(existsSync(socketPath), 'the socket is removed on stop');
  for (const s of status.slots) {
    const url = new URL(s.endpoint);
    t.equal(await listening(url.hostname, Number(url.port)), false, `disk node at ${s.endpoint} stopped with it`);
  }
});
