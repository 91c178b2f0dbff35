// A whole array on this machine: keys in a data directory (made if missing),
// k + m disk-node processes on loopback, and a fresh array across them, plus
// any number of spare nodes, started the same way and left out of the array.
// `teearray local` serves it; the end-to-end tests and the NBD benchmark
// measure it.
import { join } from 'node:path';
import { createArray } from '../array-manager/array-create.ts';
import type { HealthPolicy } from '../array-manager/node-handle.ts';
import type { CacheLimits } from '../array-manager/array-state.ts';
import { attestedConnector } from '../array-manager/node-client/attested-connector.ts';
import type { VirtualDisk } from '../array-manager/virtual-disk.ts';
import type { CryptoWorkers } from '../array-manager/sector-batch.ts';
import { generateKeys, loadKeys, type KeyStore } from './key-store.ts';
import type { Logger } from './log.ts';
import { localManifest, saveManifest } from './manifest-file.ts';
import { startLocalNodes, type LocalNodes } from './node-processes.ts';

export interface LocalArrayOptions {
  dir: string;
  k: number;
  m: number;
  nodeMib: number;
  keyErasure?: boolean;
  /** Spare nodes to start beside the array's (default 0). */
  spares?: number;
  caches?: CacheLimits;
  /** Crypto worker threads, or 'auto' (default 0: none). */
  cryptoWorkers?: CryptoWorkers;
  /** When a silent node is declared lost (default: healthDefaults). */
  health?: Partial<HealthPolicy>;
  /** The `teearray` command the nodes run (default: this process's own). */
  command?: string[];
  log: Logger;
  onProgress?: (done: number, total: number) => void;
}

export interface LocalArray {
  disk: VirtualDisk;
  /** Every node process: the array's k + m first, then the spares. */
  nodes: LocalNodes;
  /** The array's node endpoints, in slot order, at creation. */
  endpoints: string[];
  /** Endpoints of the spare nodes. */
  spares: string[];
  /** Each node process with its endpoint and what it was started as ("slot 2", "spare 0"). */
  processes: { endpoint: string; pid: number; role: string }[];
  keys: KeyStore;
  /** Keys created by this start (empty when the directory had them). */
  created: string[];
  /** Closes the array, then stops the nodes. */
  stop(): Promise<void>;
}

export async function startLocalArray(opts: LocalArrayOptions): Promise<LocalArray> {
  const created = await generateKeys(opts.dir);
  const keys = await loadKeys(opts.dir);
  const manifest = await localManifest(keys);
  await saveManifest(join(opts.dir, 'manifest.json'), manifest);
  const n = opts.k + opts.m;
  const roles = Array.from({ length: n + (opts.spares ?? 0) }, (_, i) => (i < n ? `slot ${i}` : `spare ${i - n}`));
  const nodes = await startLocalNodes(
    roles.length,
    { sectors: opts.nodeMib * 256, managerPublicKey: keys.managerPublicKey, platformDir: keys.platformDir, host: '127.0.0.1', command: opts.command },
    opts.log,
    roles.map((r) => (r.startsWith('slot') ? `node ${r.slice(5)}` : r)),
  );
  const endpoints = nodes.endpoints.slice(0, n);
  try {
    const connector = attestedConnector({ endpoints, manifest, managerPrivateKey: keys.managerPrivateKey, managerPublicKey: keys.managerPublicKey });
    const disk = await createArray({ connector, dataKey: keys.dataKey, k: opts.k, m: opts.m, keyErasure: opts.keyErasure, caches: opts.caches, cryptoWorkers: opts.cryptoWorkers, health: opts.health, onProgress: opts.onProgress });
    return {
      disk,
      nodes,
      endpoints,
      spares: nodes.endpoints.slice(n),
      processes: roles.map((role, i) => ({ endpoint: nodes.endpoints[i], pid: nodes.pids[i], role })),
      keys,
      created,
      stop: async () => {
        await disk.close();
        await nodes.stop();
      },
    };
  } catch (err) {
    await nodes.stop();
    throw err;
  }
}
