// `teearray local`: the whole system on one machine, ready to use: keys in a
// data directory (made on first run), n disk-node processes on loopback (and
// any spares), a fresh array across them, the NBD export, the admin API and
// the background healing; DATA_DIR/array.json describes it for `teearray
// array status|replace|scrub|rate` while it runs.
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { rebuildConfigDefaults } from './array-config.ts';
import { CliError } from './cli-error.ts';
import { createHealing } from './healing-service.ts';
import { localConfigFile, removeLocalConfig, writeLocalConfig } from './local-config.ts';
import { createLogger } from './log.ts';
import type { NbdListenerAddress } from '../array-manager/nbd/nbd-listeners.ts';
import { attachLines, ensurePskFile, idleTimeoutSecondsMax, localPskIdentity, nbdListenSpecs, type NbdAccess } from './nbd-access.ts';
import { cryptoWorkersOption, intOption } from './options.ts';
import { progressReporter } from './progress.ts';
import { serve } from './serve.ts';
import { startLocalArray } from './local-array.ts';
import { startTqMembers, tqMembersMax } from './tq-local.ts';

export const localHelp = `usage: teearray local [options]

Starts a complete array on this machine: k + m disk-node processes on
loopback, the array manager, the NBD export and the admin API. Keys live in
the data directory and are created on first run. The nodes hold the data in
RAM: stopping (Ctrl-C) discards it, as losing every node would.

  --data-dir DIR     keys and manifest (default ~/.teearray/local)
  --k N              data nodes (default 4)
  --m N              parity nodes: how many may be lost (default 2)
  --node-mib N       RAM per node in MiB (default 256)
  --nbd-socket PATH  NBD export on a Unix socket, mode 0600 (default DATA_DIR/nbd.sock)
  --nbd-port P       NBD export on 127.0.0.1:P with TLS, pre-shared key in
                     DATA_DIR/nbd.psk, made on first run (default 10809)
  --nbd-insecure-tcp serve port P in plaintext instead: every local user and
                     container in this network namespace could then use it
  --nbd-idle-timeout S  close connections idle for S seconds (default 0: only
                     when their place is needed)
  --admin-port P     admin API port on 127.0.0.1 (default 10810)
  --key-erasure      trim journal copies after every apply
  --spares N         also start N spare disk nodes (default 0): when a node
                     is lost, a spare takes its slot and is rebuilt
  --death-window S   a node unreachable for S seconds is declared lost
                     (default 30)
  --crypto-workers N threads sealing and opening large requests beside the
                     manager's: 0..16 or auto (default auto: none below 4
                     cores, else cores - 2, at most 4)
  --log-json         JSON log lines even on a terminal
  --tq-members N     instead: N small trust-quorum member arrays for
                     \`teearray tq\` (docs/VAULT.md), no NBD export

While it runs, DATA_DIR/array.json describes the array: \`teearray array
status\` (and replace, scrub, rate) use it without options. The banner lists
each disk node's pid: kill -9 one and watch the array heal.`;

export async function localCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string', default: join(homedir(), '.teearray', 'local') },
      k: { type: 'string', default: '4' },
      m: { type: 'string', default: '2' },
      'node-mib': { type: 'string', default: '256' },
      'nbd-port': { type: 'string', default: '10809' },
      'nbd-socket': { type: 'string' },
      'nbd-insecure-tcp': { type: 'boolean', default: false },
      'nbd-idle-timeout': { type: 'string', default: '0' },
      'admin-port': { type: 'string', default: '10810' },
      'key-erasure': { type: 'boolean', default: false },
      spares: { type: 'string', default: '0' },
      'death-window': { type: 'string', default: '30' },
      'crypto-workers': { type: 'string', default: 'auto' },
      'log-json': { type: 'boolean', default: false },
      'tq-members': { type: 'string' },
    },
    strict: true,
  });
  if (values['tq-members'] !== undefined) {
    return startTqMembers(values['data-dir']!, intOption(values['tq-members'], '--tq-members', 1, tqMembersMax), createLogger(values['log-json'] || undefined));
  }
  const k = intOption(values.k, '--k', 1, 64);
  const m = intOption(values.m, '--m', 1, 64);
  if (k + m > 128) throw new CliError('--k + --m must be at most 128');
  const nodeMib = intOption(values['node-mib'], '--node-mib', 4, 1024 * 1024);
  const nbdPort = intOption(values['nbd-port'], '--nbd-port', 0, 65535);
  const adminPort = intOption(values['admin-port'], '--admin-port', 0, 65535);
  const idleTimeoutSeconds = intOption(values['nbd-idle-timeout'], '--nbd-idle-timeout', 0, idleTimeoutSecondsMax);
  const spareCount = intOption(values.spares, '--spares', 0, localSparesMax);
  const deathWindowSeconds = intOption(values['death-window'], '--death-window', 1, 86_400);
  const cryptoWorkers = cryptoWorkersOption(values['crypto-workers'], '--crypto-workers');
  const dir = values['data-dir']!;
  const log = createLogger(values['log-json'] || undefined);
  const insecure = values['nbd-insecure-tcp']!;
  // The key file and socket live in the data directory (0700), created here
  // if this is the first run, before anything starts.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pskFile = insecure ? null : (await ensurePskFile(dir)).path;
  const access: NbdAccess = {
    unixSocket: { path: values['nbd-socket'] ?? join(dir, 'nbd.sock'), group: null },
    tcp: { host: '127.0.0.1', port: nbdPort, tls: pskFile ? { pskFile } : null },
    idleTimeoutSeconds,
  };
  const nbdListen = await nbdListenSpecs(access, log);

  log.info('starting disk nodes', { count: k + m, spares: spareCount, mibEach: nodeMib });
  const local = await startLocalArray({
    dir,
    k,
    m,
    nodeMib,
    spares: spareCount,
    keyErasure: values['key-erasure'],
    cryptoWorkers,
    health: { deathWindowMs: deathWindowSeconds * 1000 },
    log,
    onProgress: progressReporter('creating array'),
  });
  if (local.created.length) log.info('keys created', { dir, files: local.created.join(',') });
  const disk = local.disk;
  const probeSeconds = Math.min(localProbeSecondsMax, deathWindowSeconds);
  const healing = await createHealing(disk, {
    spares: local.spares,
    rebuild: rebuildConfigDefaults,
    scrub: { intervalMs: 0 },
    probeMs: probeSeconds * 1000,
    configPath: join(dir, localConfigFile),
    dataDir: dir,
    log,
  });
  await serve({
    disk,
    healing,
    extraStatus: () => ({ processes: local.processes }),
    onServing: async ({ nbd, adminPort: port }) => {
      await writeLocalConfig({ dir, k, m, nodes: local.endpoints, spares: local.spares, nbd, pskFile, adminPort: port, deathWindowSeconds, probeSeconds, cryptoWorkers });
    },
    nbdListen,
    nbdLimits: { idleTimeoutMs: idleTimeoutSeconds * 1000 },
    adminHost: '127.0.0.1',
    adminPort,
    adminToken: local.keys.adminToken,
    endpoints: local.endpoints,
    log,
    onStop: async () => {
      await removeLocalConfig(dir);
      await local.nodes.stop();
    },
    banner: ({ nbd, adminPort: a }) => attachHelp(k, m, disk.sizeBytes, nbd, pskFile, a, dir) + nodesHelp(local.processes, deathWindowSeconds, dir),
  });
}

/** Spare nodes `teearray local` may start. */
const localSparesMax = 16;
/** The local manager probes its nodes at least this often, so a killed one is noticed on an idle array. */
const localProbeSecondsMax = 2;

/** The node processes, and how to lose one and watch the array heal. */
function nodesHelp(processes: { endpoint: string; pid: number; role: string }[], deathWindowSeconds: number, dir: string): string {
  const defaultDir = dir === join(homedir(), '.teearray', 'local');
  const config = defaultDir ? '' : ` --config ${join(dir, localConfigFile)}`;
  const spares = processes.filter((p) => p.role.startsWith('spare'));
  return `
Disk nodes (pid, endpoint):
${processes.map((p) => `  ${p.role.padEnd(8)} pid ${String(p.pid).padEnd(8)} ${p.endpoint}`).join('\n')}

Lose a node and watch the array heal:
  kill -9 ${processes[0].pid}
  teearray array status${config}     # dead within ~${deathWindowSeconds} s, ${spares.length ? 'then a spare rebuilds the slot' : 'then replace it (start with --spares 1 for a hot spare)'}
`;
}

function attachHelp(k: number, m: number, sizeBytes: number, nbd: readonly NbdListenerAddress[], pskFile: string | null, adminPort: number, dir: string): string {
  const psk = pskFile ? { file: pskFile, identity: localPskIdentity } : null;
  const unix = nbd.find((l) => l.kind === 'unix');
  const fuseUri = unix?.kind === 'unix' ? `'nbd+unix:///?socket=${unix.path}'` : 'URI';
  return `
teearray local: a k=${k} m=${m} array of ${(sizeBytes / 2 ** 30).toFixed(2)} GiB is exported over NBD

Attach it with any NBD client, in one of these ways:
${nbd.map((l) => attachLines(l, psk).join('\n')).join('\n')}
  # a mounted filesystem (as root):
  mkdir -p /tmp/teearray && nbdfuse /tmp/teearray/disk ${fuseUri} &
  mkfs.ext4 /tmp/teearray/disk && mount -o loop /tmp/teearray/disk /mnt

Admin API:
  curl -H "Authorization: Bearer $(cat ${join(dir, 'admin.token')})" http://127.0.0.1:${adminPort}/status

Ctrl-C stops it. The nodes keep sectors in RAM only: stopping discards the data.
`;
}
