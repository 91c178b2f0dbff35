// The last step of createArray and openArray: the array's state with its
// crypto pool, made ready (formatted, or its membership settled and journal
// recovered) and handed out as a virtual disk. From here on the node
// sessions, the pool's worker threads and the keys are the disk's to release
// on close(); if it never comes to that, because getting ready fails, they
// are released here, so that a manager retrying a failed open does not pile
// up threads and sessions.
import { ArrayState, releaseArray, type CacheLimits } from './array-state.ts';
import type { CryptoPool } from './crypto/crypto-pool.ts';
import type { KeySet } from './crypto/key-set.ts';
import type { Geometry } from './geometry.ts';
import type { Membership } from './membership.ts';
import type { NodeHandle } from './node-handle.ts';
import { startCryptoPool } from './sector-batch.ts';
import { VirtualDisk } from './virtual-disk.ts';

export interface ArrayParts {
  geometry: Geometry;
  keys: KeySet;
  membership: Membership;
  handles: NodeHandle[];
  caches?: CacheLimits;
  /** Crypto worker threads, already checked (cryptoWorkerCount). */
  cryptoWorkers: number;
}

export async function startArray(parts: ArrayParts, ready: (state: ArrayState) => Promise<void>): Promise<VirtualDisk> {
  const { geometry, keys, membership, handles, caches } = parts;
  let pool: CryptoPool | undefined;
  try {
    pool = startCryptoPool(keys, parts.cryptoWorkers);
    const state = new ArrayState(geometry, keys, membership, handles, caches, pool);
    await ready(state);
    return new VirtualDisk(state);
  } catch (err) {
    await releaseArray({ handles, pool, keys });
    throw err;
  }
}
