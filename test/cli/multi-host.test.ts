// The multi-host flow of deploy/README.md, on loopback, with the built CLI:
// keygen; three `teearray disk-node` processes (k=2 m=1) launched with the
// manager key and platform dir; a config file; `array create`; `array open
// --json`; `teearray nbd`; `array status --json` through the admin API; data
// written and read back with qemu-io; one node killed, the array degraded
// after the next write and the data still there; SIGTERM exits 0.
// Every child is bounded by cli-process.ts and killed at teardown.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { has, run } from '../nbd/child-process.ts';
import { cli, freePort, notBuilt, startCli, type CliChild } from './cli-process.ts';

const nodeSectors = 4096;

interface StartedNode {
  proc: CliChild;
  port: number;
  instanceId: string;
  measurement: string;
}

async function startNode(t: Test, managerKey: string, platformDir: string): Promise<StartedNode> {
  const proc = startCli(t, ['disk-node', '--manager-key', managerKey, '--sectors', String(nodeSectors), '--platform-dir', platformDir, '--port', '0']);
  const info = JSON.parse(await proc.line((l) => l.startsWith('{'))) as { event: string; port: number; instanceId: string; measurement: string };
  t.equal(info.event, 'listening');
  return { proc, port: info.port, instanceId: info.instanceId, measurement: info.measurement };
}

const skip = notBuilt || (!has('qemu-io') && 'qemu-io not installed');

t.test('keygen, nodes, create, open, nbd, status, node loss, stop', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-hosts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keysDir = join(dir, 'keys');

  const keygen = await cli(['keygen', '--data-dir', keysDir, '--json']);
  t.equal(keygen.code, 0, keygen.stderr);
  const { managerPublicKey } = JSON.parse(keygen.stdout) as { managerPublicKey: string };
  t.match(managerPublicKey, /^[0-9a-f]{64}$/);

  const nodes = await Promise.all([0, 1, 2].map(() => startNode(t, managerPublicKey, join(keysDir, 'platform'))));
  t.equal(new Set(nodes.map((n) => n.instanceId)).size, 3, 'each node has its own instance id');

  // The auditor's check: the measurement nodes attest to is the one the audit computes for this launch config.
  const audit = await cli(['audit', '--json', '--manager-key', managerPublicKey, '--sectors', String(nodeSectors)]);
  t.equal(audit.code, 0, audit.stderr);
  const expected = (JSON.parse(audit.stdout) as { measurement: string }).measurement;
  for (const n of nodes) t.equal(n.measurement, expected, `node on port ${n.port} runs the audited measurement`);

  const [nbdPort, adminPort] = [await freePort(), await freePort()];
  const config = join(dir, 'array.json');
  writeFileSync(
    config,
    // A 2 s death window, so the killed node below costs the test 2 s, not the default 30.
    JSON.stringify({
      k: 2,
      m: 1,
      nodes: nodes.map((n) => `ws://127.0.0.1:${n.port}`),
      dataDir: 'keys',
      nbd: { port: nbdPort, tls: { pskFile: 'keys/nbd.psk' }, unixSocket: 'nbd.sock' },
      admin: { port: adminPort },
      health: { deathWindowSeconds: 2 },
    }),
  );

  const create = await cli(['array', 'create', '--config', config]);
  t.equal(create.code, 0, create.stderr);
  t.match(create.stdout, /^array [0-9a-f]{32}: k=2 m=1, .* ok /, 'create reports the new array');
  t.match(create.stderr, /creating array: 100%/, 'progress as plain lines when stderr is not a TTY');

  const open = await cli(['array', 'open', '--config', config, '--json']);
  t.equal(open.code, 0, open.stderr);
  const opened = JSON.parse(open.stdout);
  t.equal(opened.health, 'ok');
  t.same(opened.geometry.k, 2);
  t.same(
    opened.slots.map((s: { instanceId: string; state: string }) => [s.state, s.instanceId]),
    nodes.map((n) => ['live', n.instanceId]),
    'every slot pinned to its node',
  );

  const nbd = startCli(t, ['nbd', '--config', config]);
  const serving = JSON.parse(await nbd.line((l) => l.includes('"serving"'), 'stderr'));
  t.equal(serving.nbd, `unix:${join(dir, 'nbd.sock')}(mode 600) 127.0.0.1:${nbdPort}(tls-psk)`, 'logs are JSON lines when stderr is not a TTY');

  const status = async () => {
    const r = await cli(['array', 'status', '--config', config, '--json']);
    t.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const before = await status();
  t.equal(before.health, 'ok');
  t.equal(before.arrayId, opened.arrayId, 'the running manager serves the created array');
  t.equal(before.nbd.port, nbdPort);

  const uri = `nbd+unix:///?socket=${join(dir, 'nbd.sock')}`;
  const info = await run('nbdinfo', ['--json', `nbds://teearray@127.0.0.1:${nbdPort}/?tls-psk-file=${join(dir, 'keys', 'nbd.psk')}`]);
  t.equal(info.code, 0, `nbdinfo over TLS with the key keygen made: ${info.stderr}`);
  if (info.code === 0) t.equal(JSON.parse(info.stdout).exports[0]['export-size'], opened.sizeBytes, 'nbdinfo sees the array size');
  const write1 = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 0 1M', uri]);
  t.equal(write1.code, 0, write1.stderr);

  const victim = 1;
  t.equal(await nodes[victim].proc.stop('SIGKILL'), 'SIGKILL', 'node process killed');
  const write2 = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0xa5 1M 64k', uri]);
  t.equal(write2.code, 0, `a write succeeds with one node gone: ${write2.stderr}`);
  const after = await status();
  t.equal(after.health, 'degraded');
  t.equal(after.deadSlots, 1);
  t.same(
    after.slots.map((s: { state: string }) => s.state),
    ['live', 'dead', 'live'],
    'the killed node is the dead slot',
  );
  t.ok(after.counters.nodeFailures >= 1, 'the node failure is counted');
  const read = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x5a 0 1M', '-c', 'read -P 0xa5 1M 64k', uri]);
  t.equal(read.code, 0, read.stderr);
  t.notMatch(read.stdout, /Pattern verification failed/, 'both writes read back from the degraded array');

  t.equal(await nbd.stop('SIGTERM'), 0, 'teearray nbd exits 0 on SIGTERM');
  t.match(nbd.stderr(), /"event":"stopped"/);

  const reopen = await cli(['array', 'open', '--config', config, '--json']);
  t.equal(reopen.code, 0, reopen.stderr);
  const reopened = JSON.parse(reopen.stdout);
  t.equal(reopened.health, 'degraded', 'a new manager sees the death record');
  t.same(
    reopened.slots.map((s: { answering: boolean }) => s.answering),
    [true, false, true],
    'and which slots answer',
  );

  for (const n of [nodes[0], nodes[2]]) t.equal(await n.proc.stop('SIGTERM'), 0, 'disk node exits 0 on SIGTERM');
});
