// Real `teearray disk-node` processes for the healing tests: an array across
// k + m of them, fresh spares started on demand (a replacement must be a node
// that was never part of an array), and SIGKILL by slot. Every process is
// stopped by stop(), whatever the test did. The manager runs in the test's
// process on the library API (attestedConnector, createArray), so the tests
// need only dist/ (the nodes' measured bundle), not the CLI's healing wiring.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArray } from '../../array-manager/array-create.ts';
import type { CacheLimits } from '../../array-manager/array-state.ts';
import type { HealthPolicy, NodeConnector } from '../../array-manager/node-handle.ts';
import { attestedConnector } from '../../array-manager/node-client/attested-connector.ts';
import type { VirtualDisk } from '../../array-manager/virtual-disk.ts';
import type { ReferenceManifest } from '../../attestation/manifest.ts';
import { generateKeys, loadKeys, type KeyStore } from '../../cli/key-store.ts';
import type { Logger } from '../../cli/log.ts';
import { localManifest } from '../../cli/manifest-file.ts';
import { startLocalNodes, type LocalNodes } from '../../cli/node-processes.ts';
import { cliPath } from '../cli/cli-process.ts';

export interface NodeProcess {
  endpoint: string;
  pid: number;
}

export interface FleetOptions {
  k: number;
  m: number;
  nodeMib: number;
  health?: Partial<HealthPolicy>;
  caches?: CacheLimits;
  journalPieces?: number;
  /** Spare processes to start along with the array's nodes (see Fleet.spares). */
  spares?: number;
}

export interface Fleet {
  disk: VirtualDisk;
  keys: KeyStore;
  manifest: ReferenceManifest;
  connector: NodeConnector;
  /** The process serving each slot now (the test updates it when a replacement takes a slot). */
  slots: NodeProcess[];
  /** The spares started with the fleet. */
  spares: NodeProcess[];
  /** Warnings the node launcher logged (unexpected node exits). */
  warnings: string[];
  /** Starts `count` fresh node processes of the same size, in no array. */
  spawn(count: number): Promise<NodeProcess[]>;
  /** SIGKILLs the process serving `slot`. */
  kill(slot: number): void;
  /** Closes the array (if still open) and stops every node process started. */
  stop(): Promise<void>;
}

export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-fleet-'));
  const groups: LocalNodes[] = [];
  const warnings: string[] = [];
  let stopping = false;
  const log: Logger = {
    info: () => {},
    warn: (event, fields) => void (stopping || warnings.push(`${event} ${JSON.stringify(fields ?? {})}`)),
    error: (event, fields) => void warnings.push(`${event} ${JSON.stringify(fields ?? {})}`),
  };
  let disk: VirtualDisk | undefined;
  const stop = async () => {
    stopping = true;
    await disk?.close().catch(() => {});
    await Promise.all(groups.map((g) => g.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await generateKeys(dir);
    const keys = await loadKeys(dir);
    const manifest = await localManifest(keys);
    const spawn = async (count: number): Promise<NodeProcess[]> => {
      const nodes = await startLocalNodes(
        count,
        { sectors: opts.nodeMib * 256, managerPublicKey: keys.managerPublicKey, platformDir: keys.platformDir, host: '127.0.0.1', command: [process.execPath, cliPath] },
        log,
      );
      groups.push(nodes);
      return nodes.endpoints.map((endpoint, i) => ({ endpoint, pid: nodes.pids[i] }));
    };
    const [slots, spares] = await Promise.all([spawn(opts.k + opts.m), opts.spares ? spawn(opts.spares) : []]);
    const connector = attestedConnector({
      endpoints: slots.map((s) => s.endpoint),
      manifest,
      managerPrivateKey: keys.managerPrivateKey,
      managerPublicKey: keys.managerPublicKey,
      timeoutMs: 30_000,
    });
    disk = await createArray({ connector, dataKey: keys.dataKey, k: opts.k, m: opts.m, health: opts.health, caches: opts.caches, journalPieces: opts.journalPieces });
    return {
      disk,
      keys,
      manifest,
      connector,
      slots,
      spares,
      warnings,
      spawn,
      kill: (slot) => process.kill(slots[slot].pid, 'SIGKILL'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Resolves when `check()` holds, polling every `everyMs`; rejects after `timeoutMs` with `what`. */
export async function until(check: () => boolean, what: string, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
