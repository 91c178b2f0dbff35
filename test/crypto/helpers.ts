// Shared helpers for the sector-crypto tests: vector loading, a fixed key
// set, an assertion that a call fails with a given typed error code, and a
// way to kill a crypto pool's worker in the middle of a batch.
import { readFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import type { Test } from 'tap';
import type { CryptoPool } from '../../array-manager/crypto/crypto-pool.ts';
import { CryptoError } from '../../array-manager/crypto/crypto-errors.ts';
import { deriveKeySet, type KeySet } from '../../array-manager/crypto/key-set.ts';

export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
}

export const fromHex = (hex: string): Buffer => Buffer.from(hex, 'hex');

/** Keys derived from a fixed data key and array id; `variant` changes the array id. */
export function testKeys(variant = 0): KeySet {
  const dataKey = Buffer.alloc(32, 0x42);
  const arrayId = Buffer.alloc(16, variant);
  return deriveKeySet(dataKey, arrayId);
}

/** Asserts that fn throws a CryptoError with `code` whose message matches `field`. */
export function throwsCode(t: Test, fn: () => unknown, code: string, field?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof CryptoError, `${code}: throws a CryptoError (${String(caught)})`);
  t.equal((caught as CryptoError).code, code);
  if (field) t.match((caught as CryptoError).message, field);
}

/** Returns a copy of `buf` with bit `bit` flipped. */
export function flipBit(buf: Uint8Array, bit: number): Buffer {
  const copy = Buffer.from(buf);
  copy[bit >> 3] ^= 1 << (bit & 7);
  return copy;
}

/**
 * Terminates worker `index` of `pool` as soon as it is handed its next job,
 * as if it died mid-batch. Reaches into the pool: it has no API to kill a
 * worker.
 */
export function killWorkerOnNextJob(pool: CryptoPool, index: number): void {
  const { thread } = (pool as unknown as { workers: { thread: Worker }[] }).workers[index];
  const post = thread.postMessage.bind(thread);
  thread.postMessage = (job: unknown) => {
    post(job);
    void thread.terminate();
  };
}
