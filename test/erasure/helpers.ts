// Shared helpers of the erasure tests: deterministic stripes and an
// all-engines loop, so every check runs on the WASM kernel and on the
// TypeScript fallback.
import { createErasureCode, type ErasureCode } from '../../array-manager/erasure/erasure-code.ts';
import { wasmAvailable, type EngineKind } from '../../array-manager/erasure/xor-engine.ts';

export const engines: EngineKind[] = wasmAvailable() ? ['wasm', 'js'] : ['js'];

/** Deterministic pseudo-random bytes (xorshift32), so failures replay. */
export function fill(bytes: Uint8Array, seed: number): Uint8Array {
  let x = seed | 1;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
  }
  return bytes;
}

export function randomShards(count: number, shardBytes: number, seed: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => fill(new Uint8Array(shardBytes), seed * 7919 + i + 1));
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

export function codeFor(k: number, m: number, shardBytes: number, engine: EngineKind): ErasureCode {
  return createErasureCode({ k, m, shardBytes, engine });
}

/** Every set of at most `max` indices out of n, as presence masks with at least one missing. */
export function* lossPatterns(n: number, max: number): Generator<boolean[]> {
  function* choose(start: number, left: number, chosen: number[]): Generator<number[]> {
    if (chosen.length > 0) yield chosen;
    if (left === 0) return;
    for (let i = start; i < n; i++) yield* choose(i + 1, left - 1, [...chosen, i]);
  }
  for (const lost of choose(0, max, [])) yield Array.from({ length: n }, (_, i) => !lost.includes(i));
}
