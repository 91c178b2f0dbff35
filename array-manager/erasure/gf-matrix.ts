// Dense matrices over GF(2^8), stored as arrays of rows (Uint8Array). Only
// used when a code object is built or a new loss pattern is first decoded, so
// clarity wins over speed here.
import assert from 'node:assert/strict';
import { gfInv, gfMul } from './gf256.ts';

export type GfMatrix = Uint8Array[];

/** Product a (r x n) times b (n x c). */
export function gfMatrixMultiply(a: GfMatrix, b: GfMatrix): GfMatrix {
  const n = b.length;
  const cols = n === 0 ? 0 : b[0].length;
  return a.map((row) => {
    assert.equal(row.length, n);
    const out = new Uint8Array(cols);
    for (let t = 0; t < n; t++) {
      const f = row[t];
      if (f === 0) continue;
      const brow = b[t];
      for (let c = 0; c < cols; c++) out[c] ^= gfMul(f, brow[c]);
    }
    return out;
  });
}

/**
 * Inverse of a square matrix by Gauss-Jordan elimination. Every square
 * submatrix of a systematic Cauchy generator is invertible, so a singular
 * input here means a bug in the caller: it asserts.
 */
export function gfMatrixInvert(input: GfMatrix): GfMatrix {
  const n = input.length;
  const a = input.map((row) => {
    assert.equal(row.length, n);
    return Uint8Array.from(row);
  });
  const inv = a.map((_, i) => {
    const row = new Uint8Array(n);
    row[i] = 1;
    return row;
  });
  for (let col = 0; col < n; col++) {
    let pivot = col;
    while (pivot < n && a[pivot][col] === 0) pivot++;
    assert.ok(pivot < n, 'gfMatrixInvert: singular matrix');
    [a[col], a[pivot]] = [a[pivot], a[col]];
    [inv[col], inv[pivot]] = [inv[pivot], inv[col]];
    const scale = gfInv(a[col][col]);
    scaleRow(a[col], scale);
    scaleRow(inv[col], scale);
    for (let r = 0; r < n; r++) {
      const f = a[r][col];
      if (r === col || f === 0) continue;
      addScaledRow(a[r], a[col], f);
      addScaledRow(inv[r], inv[col], f);
    }
  }
  return inv;
}

function scaleRow(row: Uint8Array, f: number): void {
  for (let i = 0; i < row.length; i++) row[i] = gfMul(row[i], f);
}

function addScaledRow(dst: Uint8Array, src: Uint8Array, f: number): void {
  for (let i = 0; i < dst.length; i++) dst[i] ^= gfMul(src[i], f);
}
