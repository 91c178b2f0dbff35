// `teearray local` as a first-time user runs it: it starts (keys made in the
// data dir), prints how to attach, serves an export nbdinfo can read and an
// admin API that agrees on the size, and on SIGTERM stops cleanly with exit
// 0, taking its disk-node processes with it.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

  const exported = await local.line((l) => l.includes(' is exported at nbd://'));
  const [, nbdPort] = /nbd:\/\/127\.0\.0\.1:(\d+)/.exec(exported)!;
  t.match(exported, /a k=2 m=1 array of [\d.]+ GiB/, 'banner names the geometry and size');
  const curl = await local.line((l) => l.includes('curl -H'));
  const [, adminPort] = /http:\/\/127\.0\.0\.1:(\d+)\/status/.exec(curl)!;
  t.ok(curl.includes(join(dataDir, 'admin.token')), 'admin help points at the token file');
  await local.line((l) => l.startsWith('Ctrl-C stops it.'));

  const info = await run('nbdinfo', ['--json', `nbd://127.0.0.1:${nbdPort}`]);
  t.equal(info.code, 0, info.stderr);
  const size = JSON.parse(info.stdout).exports[0]['export-size'] as number;
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
  for (const s of status.slots) {
    const url = new URL(s.endpoint);
    t.equal(await listening(url.hostname, Number(url.port)), false, `disk node at ${s.endpoint} stopped with it`);
  }
});
