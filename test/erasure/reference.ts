// A plain, slow Reed-Solomon over byte symbols for cross-checking the XOR
// engine. It multiplies with the committed table test/vectors/gf256-mul-table.hex
// (generated independently by gf256-mul-table.py) rather than with gf256.ts,
// and undoes the bit-slicing documented in erasure-code.ts by hand:
// symbol t of a shard has bit c equal to bit t of packet c.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const tablePath = fileURLToPath(new URL('../vectors/gf256-mul-table.hex', import.meta.url));

/** mulTable[256 * a + b] = a * b in GF(2^8) mod 0x11d, from the committed vector file. */
export const mulTable: Uint8Array = (() => {
  const lines = readFileSync(tablePath, 'utf8').trim().split('\n');
  if (lines.length !== 256) throw new Error('gf256-mul-table.hex: expected 256 lines');
  const table = new Uint8Array(65536);
  lines.forEach((line, a) => {
    if (line.length !== 512) throw new Error(`gf256-mul-table.hex: line ${a} has ${line.length} chars`);
    for (let b = 0; b < 256; b++) table[256 * a + b] = parseInt(line.slice(2 * b, 2 * b + 2), 16);
  });
  return table;
})();

const invTable = new Uint8Array(256);
for (let a = 1; a < 256; a++) for (let b = 1; b < 256; b++) if (mulTable[256 * a + b] === 1) invTable[a] = b;

/** The byte symbols of a bit-sliced shard. */
export function unslice(shard: Uint8Array): Uint8Array {
  const packetBytes = shard.length / 8;
  const symbols = new Uint8Array(packetBytes * 8);
  for (let t = 0; t < symbols.length; t++) {
    let symbol = 0;
    for (let c = 0; c < 8; c++) symbol |= ((shard[c * packetBytes + (t >> 3)] >> (t & 7)) & 1) << c;
    symbols[t] = symbol;
  }
  return symbols;
}

export function slice(symbols: Uint8Array): Uint8Array {
  const packetBytes = symbols.length / 8;
  const shard = new Uint8Array(symbols.length);
  for (let t = 0; t < symbols.length; t++) {
    for (let c = 0; c < 8; c++) shard[c * packetBytes + (t >> 3)] |= ((symbols[t] >> c) & 1) << (t & 7);
  }
  return shard;
}

/** rows (r x n) times the symbol vectors of n shards: r shards, in the byte form. */
function applyRows(rows: Uint8Array[], inputs: Uint8Array[]): Uint8Array[] {
  const symbols = inputs.map(unslice);
  return rows.map((row) => {
    const out = new Uint8Array(symbols[0].length);
    row.forEach((f, j) => {
      const src = symbols[j];
      const base = 256 * f;
      for (let t = 0; t < out.length; t++) out[t] ^= mulTable[base + src[t]];
    });
    return slice(out);
  });
}

export function referenceEncode(matrix: Uint8Array[], data: Uint8Array[]): Uint8Array[] {
  return applyRows(matrix, data);
}

/** Gauss-Jordan inverse over the table field. */
function invert(input: Uint8Array[]): Uint8Array[] {
  const n = input.length;
  const a = input.map((r) => Uint8Array.from(r));
  const inv = a.map((_, i) => Uint8Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let col = 0; col < n; col++) {
    const pivot = a.findIndex((row, r) => r >= col && row[col] !== 0);
    if (pivot < 0) throw new Error('reference: singular matrix');
    [a[col], a[pivot], inv[col], inv[pivot]] = [a[pivot], a[col], inv[pivot], inv[col]];
    const scale = invTable[a[col][col]];
    for (const row of [a[col], inv[col]]) for (let j = 0; j < n; j++) row[j] = mulTable[256 * scale + row[j]];
    for (let r = 0; r < n; r++) {
      const f = a[r][col];
      if (r === col || f === 0) continue;
      for (let j = 0; j < n; j++) {
        a[r][j] ^= mulTable[256 * f + a[col][j]];
        inv[r][j] ^= mulTable[256 * f + inv[col][j]];
      }
    }
  }
  return inv;
}

/** The missing shards of a stripe, rebuilt in the byte form from the first k present ones. */
export function referenceReconstruct(matrix: Uint8Array[], shards: Uint8Array[], present: boolean[]): Map<number, Uint8Array> {
  const k = matrix[0].length;
  const generator = (s: number): Uint8Array => (s < k ? Uint8Array.from({ length: k }, (_, j) => (j === s ? 1 : 0)) : matrix[s - k]);
  const survivors = present.flatMap((p, s) => (p ? [s] : [])).slice(0, k);
  const missing = present.flatMap((p, s) => (p ? [] : [s]));
  const data = applyRows(invert(survivors.map(generator)), survivors.map((s) => shards[s]));
  const rebuilt = applyRows(missing.map(generator), data);
  return new Map(missing.map((s, i) => [s, rebuilt[i]]));
}
