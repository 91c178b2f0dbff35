// XOR programs evaluated symbolically: every packet is tracked as the set of
// input packets it is the XOR of, so a program is proved to compute exactly
// its bit rows, for every input at once. Covers the plain schedule, the
// common-subexpression pass (scratch packets), and the delta program.
import t from 'tap';
import fc from 'fast-check';
import { cauchyMatrix, bitMatrixRows } from '../../array-manager/erasure/cauchy.ts';
import { expandToBitRows, scheduleDelta, scheduleRows, type XorProgram } from '../../array-manager/erasure/xor-program.ts';
import { eliminateCommonPairs } from '../../array-manager/erasure/xor-cse.ts';

/** Runs `program` on symbols: packet id -> bigint bitset over input columns. */
function evaluate(program: XorProgram, initial: Map<number, bigint>): Map<number, bigint> {
  const value = new Map(initial);
  const ops = program.ops;
  for (let i = 0; i < ops.length; ) {
    const n = ops[i] >>> 1;
    const dest = ops[i + 1];
    let sum = ops[i] & 1 ? (value.get(dest) ?? 0n) : 0n;
    for (let s = 0; s < n; s++) {
      const src = ops[i + 2 + s];
      if (src === dest) throw new Error('destination among its sources');
      const v = value.get(src);
      if (v === undefined) throw new Error(`packet ${src} read before written`);
      sum ^= v;
    }
    value.set(dest, sum);
    i += 2 + n;
  }
  return value;
}

const toBig = (row: Uint32Array): bigint => row.reduceRight((acc, word) => (acc << 32n) | BigInt(word), 0n);

function checkRows(t: Tap, rows: Uint32Array[], scratchMax: number): XorProgram {
  const inputs = rows[0].length * 32;
  const inputIds = Array.from({ length: inputs }, (_, i) => 1000 + i);
  const outputIds = rows.map((_, i) => i);
  const program = scheduleRows(rows, inputIds, outputIds, { scratchBase: 5000, scratchMax });
  const initial = new Map(inputIds.map((id, i) => [id, 1n << BigInt(i)]));
  const result = evaluate(program, initial);
  t.ok(rows.every((row, i) => result.get(i) === toBig(row)), `${rows.length} rows, scratch ${scratchMax}: outputs exact`);
  let maxScratch = -1;
  for (let i = 0; i < program.ops.length; i += 2 + (program.ops[i] >>> 1)) {
    if (program.ops[i + 1] >= 5000) maxScratch = Math.max(maxScratch, program.ops[i + 1] - 5000);
  }
  t.ok(maxScratch < scratchMax, 'scratch within bound');
  return program;
}
type Tap = Pick<typeof t, 'ok'>;

t.test('encode programs of Cauchy matrices, with and without CSE', async (t) => {
  for (const [k, m] of [[1, 1], [4, 2], [8, 3], [10, 4], [16, 8], [20, 3]]) {
    const rows = expandToBitRows(cauchyMatrix(k, m));
    const plain = checkRows(t, rows, 0);
    const shared = checkRows(t, rows, 256);
    t.ok(shared.sourceCount + shared.opCount <= plain.sourceCount + plain.opCount, `k=${k} m=${m}: CSE never costs more`);
  }
});

t.test('random dense bit matrices', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 64 }), fc.integer(), (count, words, scratchMax, seed) => {
      let x = seed | 1;
      const rows = Array.from({ length: count }, () => {
        const row = new Uint32Array(words);
        for (let w = 0; w < words; w++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          row[w] = x;
        }
        if (row.every((w) => w === 0)) row[0] = 1;
        return row;
      });
      checkRows(t, rows, scratchMax);
      return true;
    }),
    { numRuns: 40, seed: 11 },
  );
});

t.test('CSE temps only combine earlier columns and respect the bound', async (t) => {
  const rows = expandToBitRows(cauchyMatrix(10, 4));
  const { temps, rows: out } = eliminateCommonPairs(rows, 80, 50);
  t.ok(temps.length <= 50);
  t.ok(temps.every(([a, b], i) => a < b && b < 80 + i));
  t.equal(out.length, rows.length);
});

t.test('delta program: parity ^= column * (old ^ new)', async (t) => {
  const column = [0x01, 0x8e, 0x47, 0xff];
  const program = scheduleDelta(column, [0, 1, 2, 3, 4, 5, 6, 7], [10, 11, 12, 13, 14, 15, 16, 17], Array.from({ length: 32 }, (_, i) => 100 + i), 900);
  // Inputs: old planes are bits 0..7, new planes bits 8..15, parity planes start as bits 16.. (their old value).
  const initial = new Map<number, bigint>();
  for (let c = 0; c < 8; c++) {
    initial.set(c, 1n << BigInt(c));
    initial.set(10 + c, 1n << BigInt(8 + c));
  }
  for (let i = 0; i < 32; i++) initial.set(100 + i, 1n << BigInt(16 + i));
  const result = evaluate(program, initial);
  let wrong = 0;
  column.forEach((e, p) => {
    const rows = bitMatrixRows(e);
    for (let r = 0; r < 8; r++) {
      let expected = 1n << BigInt(16 + 8 * p + r);
      for (let c = 0; c < 8; c++) if ((rows[r] >> c) & 1) expected ^= (1n << BigInt(c)) | (1n << BigInt(8 + c));
      if (result.get(100 + 8 * p + r) !== expected) wrong++;
    }
  });
  t.equal(wrong, 0);
});
