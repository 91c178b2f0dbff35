// The config file `teearray local` writes into its data directory while it
// runs (DATA_DIR/array.json): the same format as a multi-host array's
// (docs/CLI.md, "Config file"), naming the local nodes, the spares, the
// export and the admin port actually bound, and the crypto worker setting.
// It lets `teearray array status` (and replace, scrub, rate) find the running
// manager without options, and it is the file the healer rewrites when a
// spare takes a slot. Removed on a clean stop: the array it describes lives
// in the nodes' RAM only.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NbdListenerAddress } from '../array-manager/nbd/nbd-listeners.ts';
import { parseArrayConfig, rebuildConfigDefaults, mbpsBytes, type RebuildConfig } from './array-config.ts';
import { writeFileAtomic } from './config-file.ts';
import type { CryptoWorkers } from '../array-manager/sector-batch.ts';

export const localConfigFile = 'array.json';

export interface LocalConfigInput {
  dir: string;
  k: number;
  m: number;
  nodes: string[];
  spares: string[];
  nbd: readonly NbdListenerAddress[];
  pskFile: string | null;
  adminPort: number;
  deathWindowSeconds: number;
  probeSeconds: number;
  /** As given to `teearray local`: an `array open` or `nbd` from this file then runs with the same threads. */
  cryptoWorkers: CryptoWorkers;
  rebuild?: RebuildConfig;
}

/** Writes DATA_DIR/array.json (checked to load as a config first) and returns its path. */
export async function writeLocalConfig(c: LocalConfigInput): Promise<string> {
  const unix = c.nbd.find((l) => l.kind === 'unix');
  const tcp = c.nbd.find((l) => l.kind === 'tcp');
  const r = c.rebuild ?? rebuildConfigDefaults;
  const config = {
    k: c.k,
    m: c.m,
    nodes: c.nodes,
    spares: c.spares,
    dataDir: '.',
    cryptoWorkers: c.cryptoWorkers,
    nbd: {
      ...(unix?.kind === 'unix' && { unixSocket: unix.path }),
      ...(tcp?.kind === 'tcp' && { host: tcp.host, port: tcp.port, ...(c.pskFile ? { tls: { pskFile: c.pskFile } } : { insecureTcp: true }) }),
    },
    admin: { host: '127.0.0.1', port: c.adminPort },
    health: { deathWindowSeconds: c.deathWindowSeconds, probeSeconds: c.probeSeconds },
    rebuild: {
      autoReplace: r.autoReplace,
      replaceDelaySeconds: r.replaceDelayMs / 1000,
      minMBps: r.minBytesPerSecond / mbpsBytes,
      maxMBps: r.maxBytesPerSecond / mbpsBytes,
      stripesPerBatch: r.stripesPerBatch,
      checkpointSeconds: r.checkpointMs / 1000,
    },
  };
  const text = JSON.stringify(config, null, 2) + '\n';
  parseArrayConfig(text, c.dir);
  const path = join(c.dir, localConfigFile);
  await writeFileAtomic(path, text, 0o600);
  return path;
}

export async function removeLocalConfig(dir: string): Promise<void> {
  await rm(join(dir, localConfigFile), { force: true });
}
