// Cauchy generator construction: row 0 is plain XOR parity, no zero entries,
// never more ones than Jerasure's unoptimised Cauchy matrix, every square
// submatrix invertible (checked exhaustively for small shapes), and the
// matrices pinned in test/vectors/gf256-cauchy-matrices.json (part of the
// on-disk format) are unchanged.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { cauchyMatrix, matrixOnes } from '../../array-manager/erasure/cauchy.ts';
import { gfInv } from '../../array-manager/erasure/gf256.ts';
import { mulTable } from './reference.ts';

interface Pinned {
  k: number;
  m: number;
  ones: number;
  rows: string[];
}

t.test('pinned matrices', async (t) => {
  const file = JSON.parse(readFileSync(new URL('../vectors/gf256-cauchy-matrices.json', import.meta.url), 'utf8')) as { matrices: Pinned[] };
  for (const { k, m, ones, rows } of file.matrices) {
    const matrix = cauchyMatrix(k, m);
    t.same(matrix.map((r) => Buffer.from(r).toString('hex')), rows, `k=${k} m=${m}`);
    t.equal(matrixOnes(matrix), ones);
  }
});

t.test('shape, weight and no zero entries', async (t) => {
  for (const [k, m] of [[1, 1], [3, 5], [8, 3], [20, 12], [100, 100], [128, 128], [255, 1], [1, 255]]) {
    const matrix = cauchyMatrix(k, m);
    t.equal(matrix.length, m);
    t.ok(matrix.every((row) => row.length === k && row.every((e) => e !== 0)), `k=${k} m=${m} no zero entries`);
    t.ok(matrix[0].every((e) => e === 1), 'row 0 is all ones');
    // Jerasure's original Cauchy matrix, 1 / (i ^ (m + j)), unscaled.
    const original = Array.from({ length: m }, (_, i) => Uint8Array.from({ length: k }, (_, j) => gfInv(i ^ (m + j))));
    t.ok(matrixOnes(matrix) <= matrixOnes(original), `k=${k} m=${m}: ${matrixOnes(matrix)} <= ${matrixOnes(original)} ones`);
  }
});

/** Rank of a square matrix over GF(2^8), by elimination with the reference table. */
function isInvertible(rows: Uint8Array[]): boolean {
  const a = rows.map((r) => Uint8Array.from(r));
  const n = a.length;
  for (let col = 0; col < n; col++) {
    const pivot = a.findIndex((row, r) => r >= col && row[col] !== 0);
    if (pivot < 0) return false;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    let inv = 1;
    while (mulTable[256 * a[col][col] + inv] !== 1) inv++;
    for (let r = col + 1; r < n; r++) {
      const f = mulTable[256 * a[r][col] + inv];
      for (let j = 0; j < n; j++) a[r][j] ^= mulTable[256 * f + a[col][j]];
    }
  }
  return true;
}

function* subsets(n: number, size: number, start = 0, chosen: number[] = []): Generator<number[]> {
  if (chosen.length === size) {
    yield chosen;
    return;
  }
  for (let i = start; i < n; i++) yield* subsets(n, size, i + 1, [...chosen, i]);
}

t.test('every square submatrix is invertible (MDS), k <= 8, m <= 4', async (t) => {
  let singular = 0;
  let checked = 0;
  for (let k = 1; k <= 8; k++) {
    for (let m = 1; m <= 4; m++) {
      const matrix = cauchyMatrix(k, m);
      for (let size = 1; size <= Math.min(k, m); size++) {
        for (const rows of subsets(m, size)) {
          for (const cols of subsets(k, size)) {
            checked++;
            if (!isInvertible(rows.map((r) => Uint8Array.from(cols, (c) => matrix[r][c])))) singular++;
          }
        }
      }
    }
  }
  t.equal(singular, 0, `${checked} submatrices`);
});
