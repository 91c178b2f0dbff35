// Common-subexpression elimination on a bit matrix before it is scheduled:
// Paar's greedy ("Optimized arithmetic for Reed-Solomon encoders", ISIT 1997),
// the standard heuristic for XOR counts (Plank, Schuman & Robison, "Heuristics
// for Optimizing Matrix-Based Erasure Codes", FAST 2012, compare it with others).
//
// Repeatedly take the pair of columns that occur together in the most rows,
// compute their XOR once into a new column (a scratch packet), and use that
// column in those rows instead. A pair shared by c rows saves c source reads
// and costs one op of two reads and a write, so pairs are taken only while
// c >= pairRowsMin. Pair counts come from column bitsets over the rows and
// are kept in a table updated for the three columns each step touches, with
// the best pair of each table row cached, so a step costs a few passes over
// the columns. The caller bounds the matrix size (limits.ts: cseOnesMax) and
// the temps (cseTempsMax).
import { popcount32 } from './bitset.ts';

export interface CseResult {
  /** Rows as bitsets over inputCount + temps.length columns. */
  rows: Uint32Array[];
  /** Column inputCount + i is the XOR of columns temps[i][0] and temps[i][1] (earlier columns only). */
  temps: [number, number][];
}

const pairRowsMin = 3;

export function eliminateCommonPairs(rows: Uint32Array[], inputCount: number, tempsMax: number): CseResult {
  const rowWords = Math.ceil(rows.length / 32);
  const columns: Uint32Array[] = [];
  for (let c = 0; c < inputCount; c++) {
    const column = new Uint32Array(rowWords);
    rows.forEach((row, r) => {
      if ((row[c >>> 5] >>> (c & 31)) & 1) column[r >>> 5] |= 1 << (r & 31);
    });
    columns.push(column);
  }
  const temps: [number, number][] = [];
  const weight = (column: Uint32Array): number => {
    let n = 0;
    for (let w = 0; w < rowWords; w++) n += popcount32(column[w]);
    return n;
  };
  const shared = (a: Uint32Array, b: Uint32Array): number => {
    let n = 0;
    for (let w = 0; w < rowWords; w++) n += popcount32(a[w] & b[w]);
    return n;
  };
  // counts[a * stride + b] (a < b) = rows holding both columns. rowBest[a]
  // is the largest count in row a (at column rowArg[a]), so a step scans
  // rows, not pairs. Only pairs touching the two merged columns and the new
  // temp change; rows whose best pair was one of those are recomputed.
  const stride = inputCount + tempsMax;
  const counts = new Uint16Array(stride * stride);
  const rowBest = new Uint16Array(stride);
  const rowArg = new Int32Array(stride);
  const refreshRow = (a: number): void => {
    let best = 0;
    let arg = -1;
    for (let b = a + 1; b < columns.length; b++) {
      if (counts[a * stride + b] > best) {
        best = counts[a * stride + b];
        arg = b;
      }
    }
    rowBest[a] = best;
    rowArg[a] = arg;
  };
  const recount = (c: number, stale: Set<number>): void => {
    const live = weight(columns[c]) >= pairRowsMin;
    for (let x = 0; x < c; x++) {
      const n = live ? shared(columns[c], columns[x]) : 0;
      counts[x * stride + c] = n;
      if (n > rowBest[x]) {
        rowBest[x] = n;
        rowArg[x] = c;
      } else if (rowArg[x] === c && n < rowBest[x]) {
        stale.add(x);
      }
    }
    for (let x = c + 1; x < columns.length; x++) counts[c * stride + x] = live ? shared(columns[c], columns[x]) : 0;
    stale.add(c);
  };
  for (let a = 0; a < inputCount; a++) for (let b = a + 1; b < inputCount; b++) counts[a * stride + b] = shared(columns[a], columns[b]);
  for (let a = 0; a < inputCount; a++) refreshRow(a);
  while (temps.length < tempsMax) {
    let bestA = -1;
    for (let a = 0; a < columns.length; a++) if (rowBest[a] >= pairRowsMin && (bestA < 0 || rowBest[a] > rowBest[bestA])) bestA = a;
    if (bestA < 0) break;
    const bestB = rowArg[bestA];
    const a = columns[bestA];
    const b = columns[bestB];
    const both = a.map((word, w) => word & b[w]);
    for (let w = 0; w < rowWords; w++) {
      a[w] &= ~both[w];
      b[w] &= ~both[w];
    }
    columns.push(both);
    temps.push([bestA, bestB]);
    const stale = new Set<number>();
    recount(bestA, stale);
    recount(bestB, stale);
    recount(columns.length - 1, stale);
    for (const x of stale) refreshRow(x);
  }
  const total = columns.length;
  const out = rows.map(() => new Uint32Array(Math.ceil(total / 32)));
  columns.forEach((column, c) => {
    out.forEach((row, r) => {
      if ((column[r >>> 5] >>> (r & 31)) & 1) row[c >>> 5] |= 1 << (c & 31);
    });
  });
  return { rows: out, temps };
}
