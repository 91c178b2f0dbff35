// `teearray local`: the whole system on one machine, ready to use: keys in a
// data directory (made on first run), n disk-node processes on loopback, a
// fresh array across them, the NBD export and the admin API.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CliError } from './cli-error.ts';
import { createLogger } from './log.ts';
import { intOption } from './options.ts';
import { progressReporter } from './progress.ts';
import { serve } from './serve.ts';
import { startLocalArray } from './local-array.ts';

export const localHelp = `usage: teearray local [options]

Starts a complete array on this machine: k + m disk-node processes on
loopback, the array manager, the NBD export and the admin API. Keys live in
the data directory and are created on first run. The nodes hold the data in
RAM: stopping (Ctrl-C) discards it, as losing every node would.

  --data-dir DIR     keys and manifest (default ~/.teearray/local)
  --k N              data nodes (default 4)
  --m N              parity nodes: how many may be lost (default 2)
  --node-mib N       RAM per node in MiB (default 256)
  --nbd-port P       NBD export port on 127.0.0.1 (default 10809)
  --admin-port P     admin API port on 127.0.0.1 (default 10810)
  --key-erasure      trim journal copies after every apply
  --log-json         JSON log lines even on a terminal`;

export async function localCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string', default: join(homedir(), '.teearray', 'local') },
      k: { type: 'string', default: '4' },
      m: { type: 'string', default: '2' },
      'node-mib': { type: 'string', default: '256' },
      'nbd-port': { type: 'string', default: '10809' },
      'admin-port': { type: 'string', default: '10810' },
      'key-erasure': { type: 'boolean', default: false },
      'log-json': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const k = intOption(values.k, '--k', 1, 64);
  const m = intOption(values.m, '--m', 1, 64);
  if (k + m > 128) throw new CliError('--k + --m must be at most 128');
  const nodeMib = intOption(values['node-mib'], '--node-mib', 4, 1024 * 1024);
  const nbdPort = intOption(values['nbd-port'], '--nbd-port', 0, 65535);
  const adminPort = intOption(values['admin-port'], '--admin-port', 0, 65535);
  const dir = values['data-dir']!;
  const log = createLogger(values['log-json'] || undefined);

  log.info('starting disk nodes', { count: k + m, mibEach: nodeMib });
  const local = await startLocalArray({ dir, k, m, nodeMib, keyErasure: values['key-erasure'], log, onProgress: progressReporter('creating array') });
  if (local.created.length) log.info('keys created', { dir, files: local.created.join(',') });
  const disk = local.disk;
  await serve({
    disk,
    nbdHost: '127.0.0.1',
    nbdPort,
    adminHost: '127.0.0.1',
    adminPort,
    adminToken: local.keys.adminToken,
    endpoints: local.nodes.endpoints,
    log,
    onStop: local.nodes.stop,
    banner: ({ nbdPort: p, adminPort: a }) => attachHelp(k, m, disk.sizeBytes, p, a, dir),
  });
}

function attachHelp(k: number, m: number, sizeBytes: number, nbdPort: number, adminPort: number, dir: string): string {
  const uri = `nbd://127.0.0.1:${nbdPort}`;
  return `
teearray local: a k=${k} m=${m} array of ${(sizeBytes / 2 ** 30).toFixed(2)} GiB is exported at ${uri}

Attach it with any NBD client:
  nbdinfo ${uri}
  qemu-img convert -n -O raw disk.img ${uri}          # write an image onto it
  nbdcopy ${uri} copy.img                             # read it back
  mkdir -p /tmp/teearray && nbdfuse /tmp/teearray/disk ${uri} &
  mkfs.ext4 /tmp/teearray/disk && mount -o loop /tmp/teearray/disk /mnt   # as root
  nbd-client 127.0.0.1 ${nbdPort} /dev/nbd0            # where the nbd kernel module exists

Admin API:
  curl -H "Authorization: Bearer $(cat ${join(dir, 'admin.token')})" http://127.0.0.1:${adminPort}/status

Ctrl-C stops it. The nodes keep sectors in RAM only: stopping discards the data.
`;
}
