// Cauchy generator matrices for a systematic k + m code over GF(2^8), chosen
// to have few ones once each element is expanded into its 8x8 bit matrix,
// since every one costs a packet XOR (Plank & Xu, "Optimizing Cauchy
// Reed-Solomon Codes for Fault-Tolerant Network Storage Applications", 2006).
//
// A Cauchy matrix C[i][j] = 1 / (x_i + y_j) over disjoint sets X (m elements)
// and Y (k elements) has every square submatrix invertible, and so has any
// matrix obtained from it by scaling rows and columns by non-zero factors:
// [I; C] is then an MDS generator. Construction:
//  1. X = {0 .. m-1}; Y is either {m .. m+k-1} (Jerasure's "original") or the
//     k remaining elements whose column, scaled to start with 1, has the
//     fewest ones (a greedy choice); whichever gives fewer ones in the end wins.
//  2. Scale each column so that row 0 is all ones (row 0 becomes plain XOR
//     parity: identity bit matrices).
//  3. Scale each other row by the inverse of one of its elements, choosing
//     the element that minimises the row's ones (Plank & Xu, section 4).
// The matrix is part of the on-disk format: changing this construction
// changes every parity shard. Trusts nothing; handles k + m <= 256 only.
import assert from 'node:assert/strict';
import { gfDiv, gfInv, gfMul } from './gf256.ts';
import type { GfMatrix } from './gf-matrix.ts';

/**
 * Rows of the 8x8 bit matrix of multiplication by e: bit c of row r is bit r
 * of e * x^c. With the packets of a shard holding bit planes 0..7 of its
 * symbols, output plane r = XOR of input planes c where bit c of row r is set.
 */
export function bitMatrixRows(e: number): Uint8Array {
  const rows = new Uint8Array(8);
  let column = e;
  for (let c = 0; c < 8; c++) {
    for (let r = 0; r < 8; r++) if ((column >> r) & 1) rows[r] |= 1 << c;
    column = gfMul(column, 2);
  }
  return rows;
}

const onesOf = new Uint8Array(256);
for (let e = 0; e < 256; e++) {
  let ones = 0;
  for (const row of bitMatrixRows(e)) for (let b = row; b; b &= b - 1) ones++;
  onesOf[e] = ones;
}

/** Number of ones in the bit matrix of e: the packet XOR cost of multiplying by e. */
export function bitMatrixOnes(e: number): number {
  return onesOf[e];
}

export function matrixOnes(matrix: GfMatrix): number {
  let ones = 0;
  for (const row of matrix) for (const e of row) ones += onesOf[e];
  return ones;
}

/** The m x k coding part of the generator (the data part is the identity). */
export function cauchyMatrix(k: number, m: number): GfMatrix {
  assert.ok(k >= 1 && m >= 1 && k + m <= 256);
  const xs = Array.from({ length: m }, (_, i) => i);
  const original = improve(build(xs, Array.from({ length: k }, (_, j) => m + j)));
  const greedy = improve(build(xs, greedyColumns(xs, k)));
  return matrixOnes(greedy) < matrixOnes(original) ? greedy : original;
}

function build(xs: number[], ys: number[]): GfMatrix {
  return xs.map((x) => Uint8Array.from(ys, (y) => gfInv(x ^ y)));
}

/** The k elements outside X whose column, normalised to start with 1, is lightest. */
function greedyColumns(xs: number[], k: number): number[] {
  const candidates: { y: number; ones: number }[] = [];
  for (let y = 0; y < 256; y++) {
    if (xs.includes(y)) continue;
    const top = gfInv(xs[0] ^ y);
    let ones = 0;
    for (const x of xs) ones += onesOf[gfDiv(gfInv(x ^ y), top)];
    candidates.push({ y, ones });
  }
  candidates.sort((a, b) => a.ones - b.ones || a.y - b.y);
  return candidates.slice(0, k).map((c) => c.y);
}

function improve(matrix: GfMatrix): GfMatrix {
  const k = matrix[0].length;
  for (let j = 0; j < k; j++) {
    const f = gfInv(matrix[0][j]);
    for (const row of matrix) row[j] = gfMul(row[j], f);
  }
  for (let i = 1; i < matrix.length; i++) {
    const row = matrix[i];
    let best = row;
    let bestOnes = rowOnes(row);
    for (let j = 0; j < k; j++) {
      const f = gfInv(row[j]);
      const scaled = row.map((e) => gfMul(e, f));
      const ones = rowOnes(scaled);
      if (ones < bestOnes) {
        best = scaled;
        bestOnes = ones;
      }
    }
    matrix[i] = best;
  }
  return matrix;
}

function rowOnes(row: Uint8Array): number {
  let ones = 0;
  for (const e of row) ones += onesOf[e];
  return ones;
}
