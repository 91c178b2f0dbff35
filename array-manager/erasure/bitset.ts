// Small helpers for bitsets stored as Uint32Array words (bit i is bit i & 31
// of word i >>> 5), used by the XOR schedulers.

export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function bitsetOnes(a: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += popcount32(a[i]);
  return n;
}

/** Ones of a ^ b: the cost of deriving one row from the other. */
export function differenceOnes(a: Uint32Array, b: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += popcount32(a[i] ^ b[i]);
  return n;
}
