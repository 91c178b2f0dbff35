// A whole array on this machine: keys in a data directory (made if missing),
// k + m disk-node processes on loopback, and a fresh array across them.
// `teearray local` serves it; the end-to-end tests and the NBD benchmark
// measure it.
import { join } from 'node:path';
import { createArray } from '../array-manager/array-create.ts';
import type { HealthPolicy } from '../array-manager/node-handle.ts';
import type { CacheLimits } from '../array-manager/array-state.ts';
import { attestedConnector } from '../array-manager/node-client/attested-connector.ts';
import type { VirtualDisk } from '../array-manager/virtual-disk.ts';
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
  caches?: CacheLimits;
  /** When a silent node is declared lost (default: healthDefaults). */
  health?: Partial<HealthPolicy>;
  /** The `teearray` command the nodes run (default: this process's own). */
  command?: string[];
  log: Logger;
  onProgress?: (done: number, total: number) => void;
}

export interface LocalArray {
  disk: VirtualDisk;
  nodes: LocalNodes;
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
  const nodes = await startLocalNodes(
    opts.k + opts.m,
    { sectors: opts.nodeMib * 256, managerPublicKey: keys.managerPublicKey, platformDir: keys.platformDir, host: '127.0.0.1', command: opts.command },
    opts.log,
  );
  try {
    const connector = attestedConnector({ endpoints: nodes.endpoints, manifest, managerPrivateKey: keys.managerPrivateKey, managerPublicKey: keys.managerPublicKey });
    const disk = await createArray({ connector, dataKey: keys.dataKey, k: opts.k, m: opts.m, keyErasure: opts.keyErasure, caches: opts.caches, health: opts.health, onProgress: opts.onProgress });
    return {
      disk,
      nodes,
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
