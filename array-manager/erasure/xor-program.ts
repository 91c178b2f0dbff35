// Turns a GF(2^8) coding matrix into an XOR program over packets: the
// "bit-matrix" form of Cauchy Reed-Solomon (Blomer et al., "An XOR-Based
// Erasure-Resilient Coding Scheme", 1995).
//
// Packet ids: shard s, bit plane c is packet 8 * s + c. Ids from `tempBase`
// up are scratch packets (tile-sized, see xor-engine.ts).
//
// Program encoding (Uint32Array), one op after another:
//   header = (sourceCount << 1) | accumulate, destination id, source ids...
// An op sets destination := XOR of its sources, or with accumulate set,
// destination ^= XOR of its sources. Ops run in order; a later op may read a
// destination written by an earlier one. A destination is never one of its
// own sources (the kernels stream sources into it), and a scratch packet is
// written before it is read: it is tile-sized and does not keep its value
// from one tile to the next.
//
// Schedule: output rows are emitted greedily cheapest-first, each either
// from scratch (one source per one in its bit row) or as an already computed
// output row XOR the difference of the two bit rows, when that is cheaper
// (Plank's "smart scheduling", Jerasure 1.2; Huang et al. 2007 call reusing
// common sub-expressions this way the key to XOR-count savings). With
// Cauchy rows that share many ones this removes a large part of the XORs.
import assert from 'node:assert/strict';
import { bitMatrixRows } from './cauchy.ts';
import type { GfMatrix } from './gf-matrix.ts';

export interface XorProgram {
  readonly ops: Uint32Array;
  /** Number of source reads: the XOR work of one run, in packets. */
  readonly sourceCount: number;
}

/**
 * Bit rows of matrix (r x n), one per output packet: 8 * r bitsets over the
 * 8 * n input packets (bit 8 * t + c is plane c of input t).
 */
export function expandToBitRows(matrix: GfMatrix): Uint32Array[] {
  const rows: Uint32Array[] = [];
  for (const row of matrix) {
    const planes = Array.from({ length: 8 }, () => new Uint32Array(Math.ceil((8 * row.length) / 32)));
    row.forEach((e, t) => {
      const bits = bitMatrixRows(e);
      for (let r = 0; r < 8; r++) {
        for (let c = 0; c < 8; c++) {
          if ((bits[r] >> c) & 1) {
            const col = 8 * t + c;
            planes[r][col >>> 5] |= 1 << (col & 31);
          }
        }
      }
    });
    rows.push(...planes);
  }
  return rows;
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function bitsetOnes(a: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += popcount32(a[i]);
  return n;
}

function differenceOnes(a: Uint32Array, b: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += popcount32(a[i] ^ b[i]);
  return n;
}

/**
 * Program that sets outputIds[i] := row i applied to the inputs, where bit
 * col of a row selects input packet inputIds[col]. Every row of an MDS code
 * is non-zero; a zero row would leave its output unwritten, so it asserts.
 */
export function scheduleRows(rows: Uint32Array[], inputIds: ArrayLike<number>, outputIds: ArrayLike<number>): XorProgram {
  assert.equal(rows.length, outputIds.length);
  const count = rows.length;
  const cost = rows.map((row) => bitsetOnes(row));
  const from = new Int32Array(count).fill(-1);
  const done = new Uint8Array(count);
  const ops: number[] = [];
  let sourceCount = 0;
  for (let step = 0; step < count; step++) {
    let pick = -1;
    for (let i = 0; i < count; i++) if (!done[i] && (pick < 0 || cost[i] < cost[pick])) pick = i;
    assert.ok(cost[pick] > 0, 'scheduleRows: an output row is zero');
    done[pick] = 1;
    const base = from[pick];
    const sources: number[] = base >= 0 ? [outputIds[base]] : [];
    const bits = rows[pick];
    for (let w = 0; w < bits.length; w++) {
      let word = base >= 0 ? bits[w] ^ rows[base][w] : bits[w];
      while (word) {
        const low = word & -word;
        sources.push(inputIds[32 * w + 31 - Math.clz32(low)]);
        word ^= low;
      }
    }
    ops.push(sources.length << 1, outputIds[pick], ...sources);
    sourceCount += sources.length;
    for (let j = 0; j < count; j++) {
      if (done[j]) continue;
      const viaPick = differenceOnes(rows[pick], rows[j]) + 1;
      if (viaPick < cost[j]) {
        cost[j] = viaPick;
        from[j] = pick;
      }
    }
  }
  return { ops: Uint32Array.from(ops), sourceCount };
}

/**
 * Program for parity ^= column * (oldData ^ newData): eight scratch packets
 * take the delta planes, then every parity plane accumulates the delta
 * planes its bit row selects. Reads only the changed shard and the parities.
 */
export function scheduleDelta(
  column: ArrayLike<number>,
  oldIds: ArrayLike<number>,
  newIds: ArrayLike<number>,
  parityIds: ArrayLike<number>,
  tempBase: number,
): XorProgram {
  const ops: number[] = [];
  let sourceCount = 0;
  for (let c = 0; c < 8; c++) {
    ops.push(2 << 1, tempBase + c, oldIds[c], newIds[c]);
    sourceCount += 2;
  }
  for (let p = 0; p < column.length; p++) {
    const bits = bitMatrixRows(column[p]);
    for (let r = 0; r < 8; r++) {
      const sources: number[] = [];
      for (let c = 0; c < 8; c++) if ((bits[r] >> c) & 1) sources.push(tempBase + c);
      if (sources.length === 0) continue;
      ops.push((sources.length << 1) | 1, parityIds[8 * p + r], ...sources);
      sourceCount += sources.length;
    }
  }
  return { ops: Uint32Array.from(ops), sourceCount };
}
