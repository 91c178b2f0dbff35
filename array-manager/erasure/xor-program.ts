// Turns a GF(2^8) coding matrix into an XOR program over packets: the
// "bit-matrix" form of Cauchy Reed-Solomon (Blomer et al., "An XOR-Based
// Erasure-Resilient Coding Scheme", 1995).
//
// Packet ids: shard s, bit plane c is packet 8 * s + c. Ids from the
// caller's scratch base up are scratch packets (tile-sized, see xor-engine.ts).
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
// Schedule: first, optionally, pairs of inputs shared by many rows are
// computed once (xor-cse.ts). Then output rows are emitted greedily
// cheapest-first, each either from scratch (one source per one in its bit
// row) or as an already computed output row XOR the difference of the two
// bit rows, when that is cheaper (Plank's "smart scheduling", Jerasure 1.2).
// Of the two programs, with and without the pair pass, the cheaper is kept;
// docs/ERASURE.md lists the savings (up to a third for 16+8).
import assert from 'node:assert/strict';
import { bitsetOnes, differenceOnes } from './bitset.ts';
import { bitMatrixRows } from './cauchy.ts';
import { cseOnesMax } from './limits.ts';
import { eliminateCommonPairs } from './xor-cse.ts';
import type { GfMatrix } from './gf-matrix.ts';

export interface XorProgram {
  readonly ops: Uint32Array;
  /** Number of source reads: the XOR work of one run, in packets. */
  readonly sourceCount: number;
  /** Number of ops: each writes one packet. */
  readonly opCount: number;
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

/** Where common sub-expressions may go: scratch packet ids scratchBase .. scratchBase + scratchMax - 1. */
export interface ScratchSpace {
  scratchBase: number;
  scratchMax: number;
}

/**
 * Program that sets outputIds[i] := row i applied to the inputs, where bit
 * col of a row selects input packet inputIds[col]. Every row of an MDS code
 * is non-zero; a zero row would leave its output unwritten, so it asserts.
 * With scratch space and a small enough matrix, shared pairs are computed
 * once first (xor-cse.ts).
 */
export function scheduleRows(
  bitRows: Uint32Array[],
  inputIds: ArrayLike<number>,
  outputIds: ArrayLike<number>,
  scratch: ScratchSpace = { scratchBase: 0, scratchMax: 0 },
): XorProgram {
  assert.equal(bitRows.length, outputIds.length);
  const plain = smartSchedule(bitRows, Array.from(inputIds), outputIds, [], 0);
  const ones = bitRows.reduce((sum, row) => sum + bitsetOnes(row), 0);
  if (scratch.scratchMax === 0 || ones > cseOnesMax) return plain;
  const cse = eliminateCommonPairs(bitRows, inputIds.length, scratch.scratchMax);
  const columnIds = Array.from(inputIds);
  const prefix: number[] = [];
  cse.temps.forEach(([a, b], i) => {
    const id = scratch.scratchBase + i;
    prefix.push(2 << 1, id, columnIds[a], columnIds[b]);
    columnIds.push(id);
  });
  const shared = smartSchedule(cse.rows, columnIds, outputIds, prefix, 2 * cse.temps.length);
  // Each op writes its destination once: count that as one more stream.
  return shared.sourceCount + shared.opCount < plain.sourceCount + plain.opCount ? shared : plain;
}

/**
 * Emits the rows cheapest-first, each from scratch or from an emitted row
 * plus the difference, after the ops already in `prefix`.
 */
function smartSchedule(
  rows: Uint32Array[],
  columnIds: number[],
  outputIds: ArrayLike<number>,
  prefix: number[],
  prefixSources: number,
): XorProgram {
  const ops = prefix.slice();
  let sourceCount = prefixSources;
  let opCount = prefixSources / 2;
  const count = rows.length;
  const cost = rows.map((row) => bitsetOnes(row));
  const from = new Int32Array(count).fill(-1);
  const done = new Uint8Array(count);
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
        sources.push(columnIds[32 * w + 31 - Math.clz32(low)]);
        word ^= low;
      }
    }
    ops.push(sources.length << 1, outputIds[pick], ...sources);
    sourceCount += sources.length;
    opCount++;
    for (let j = 0; j < count; j++) {
      if (done[j]) continue;
      const viaPick = differenceOnes(rows[pick], rows[j]) + 1;
      if (viaPick < cost[j]) {
        cost[j] = viaPick;
        from[j] = pick;
      }
    }
  }
  return { ops: Uint32Array.from(ops), sourceCount, opCount };
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
  let opCount = 8;
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
      opCount++;
    }
  }
  return { ops: Uint32Array.from(ops), sourceCount, opCount };
}
