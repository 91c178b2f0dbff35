// ChaCha20 (RFC 8439 §2.3-2.4) as a WebAssembly SIMD kernel, generated from
// this source at load time by ../erasure/wasm-assembler.ts.
//
// Why not node:crypto: a sector is 64 blocks under its own nonce, so there
// every sector needs a fresh cipher object and a fresh 4 KiB result buffer.
// The kernel is no faster per byte, but it keeps its state in one small
// memory, XORs the keystream into the sector in place and allocates nothing,
// which took about 13 % off the manager's CPU time per MiB read
// (docs/PERFORMANCE.md, "Array").
//
// Layout: one block's state is four v128 rows (constants; key 0-3; key 4-7;
// counter and nonce), so a quarter-round step works on all four columns at
// once, and the diagonal round is the column round after rotating rows 1-3
// by one, two and three lanes. Rotations by 16 and 8 bits are byte shuffles,
// by 12 and 7 two shifts and an OR. Four blocks run interleaved, which gives
// the CPU independent work without running out of vector registers (16 rows
// of state; the initial state is reloaded from memory when needed).
//
// Memory (one 64 KiB page, owned here):
//   [0, 64)      the initial state of the next block, four rows
//   [64, 80)     the counter step: (1, 0, 0, 0)
//   [512, 4608)  the sector, XORed in place
//
// Needs WebAssembly SIMD (every Node.js this project supports has it).
// Trusts: nothing; lengths are checked here.
import { assembleModule, blockVoid, i32, memarg, op, simd, simdOp, sleb, v128, type WasmFunction } from '../erasure/wasm-assembler.ts';
import { ivBytes, keyBytes, sectorBytes } from './crypto-constants.ts';

const stateOffset = 0;
const oneOffset = 64;
const dataOffset = 512;
const blockBytes = 64;
/** Blocks computed together. */
const lanes = 4;

// Locals: params ctx, data, steps; then row i of block b; then the round count.
const P = { ctx: 0, data: 1, steps: 2 } as const;
const row = (b: number, i: number): number => 3 + 4 * b + i;
const rounds = 3 + 4 * lanes;

const get = (local: number): number[] => [op.localGet, local];
const set = (local: number): number[] => [op.localSet, local];
const constant = (value: number): number[] => [op.i32Const, ...sleb(value)];
const load = (offset: number): number[] => simdOp(simd.v128Load, ...memarg(4, offset));
const store = (offset: number): number[] => simdOp(simd.v128Store, ...memarg(4, offset));
const add = simdOp(simd.i32x4Add);
const xor = simdOp(simd.v128Xor);
const forBlocks = (emit: (b: number) => number[]): number[] => Array.from({ length: lanes }, (_, b) => emit(b)).flat();

/** i8x16.shuffle of one operand with itself, by 32-bit lanes. */
function permute(local: number, order: number[]): number[] {
  return [...get(local), ...get(local), ...simdOp(simd.i8x16Shuffle, ...order.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]))];
}

/** The local's four words rotated left by `bits`, on the stack. */
function rotl(local: number, bits: number): number[] {
  if (bits === 16) return [...get(local), ...get(local), ...simdOp(simd.i8x16Shuffle, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)];
  if (bits === 8) return [...get(local), ...get(local), ...simdOp(simd.i8x16Shuffle, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14)];
  return [
    ...get(local), ...constant(bits), ...simdOp(simd.i32x4Shl),
    ...get(local), ...constant(32 - bits), ...simdOp(simd.i32x4ShrU),
    ...simdOp(simd.v128Or),
  ];
}

/** Rows a += b; d ^= a; d <<<= bits, in every block. */
function step(a: number, b: number, d: number, bits: number): number[] {
  return [
    ...forBlocks((k) => [...get(row(k, a)), ...get(row(k, b)), ...add, ...set(row(k, a))]),
    ...forBlocks((k) => [...get(row(k, d)), ...get(row(k, a)), ...xor, ...set(row(k, d))]),
    ...forBlocks((k) => [...rotl(row(k, d), bits), ...set(row(k, d))]),
  ];
}

/** Four quarter-rounds at once: the columns of the rows as they stand. */
const columnRound = [...step(0, 1, 3, 16), ...step(2, 3, 1, 12), ...step(0, 1, 3, 8), ...step(2, 3, 1, 7)];

/** Rotates rows 1-3 by the given lane orders (diagonalise, or undo it). */
function shiftRows(orders: number[][]): number[] {
  return forBlocks((k) => orders.flatMap((order, i) => [...permute(row(k, i + 1), order), ...set(row(k, i + 1))]));
}

const doubleRound = [
  ...columnRound,
  ...shiftRows([[1, 2, 3, 0], [2, 3, 0, 1], [3, 0, 1, 2]]),
  ...columnRound,
  ...shiftRows([[3, 0, 1, 2], [2, 3, 0, 1], [1, 2, 3, 0]]),
];

/** Block b's counter row: the initial row 3 plus b. */
function counterRow(b: number): number[] {
  const out = [...get(P.ctx), ...load(stateOffset + 48)];
  for (let i = 0; i < b; i++) out.push(...get(P.ctx), ...load(oneOffset), ...add);
  return out;
}

const initialRow = (b: number, i: number): number[] => (i === 3 ? counterRow(b) : [...get(P.ctx), ...load(stateOffset + 16 * i)]);

function kernel(): WasmFunction {
  const body: number[] = [op.loop, blockVoid];
  body.push(...forBlocks((b) => [0, 1, 2, 3].flatMap((i) => [...initialRow(b, i), ...set(row(b, i))])));
  body.push(...constant(10), ...set(rounds));
  body.push(op.loop, blockVoid, ...doubleRound, ...get(rounds), ...constant(1), op.i32Sub, op.localTee, rounds, op.brIf, 0, op.end);
  // Keystream = rows + initial rows; XOR it into the data.
  body.push(
    ...forBlocks((b) =>
      [0, 1, 2, 3].flatMap((i) => {
        const at = b * blockBytes + 16 * i;
        return [...get(P.data), ...get(P.data), ...load(at), ...get(row(b, i)), ...initialRow(b, i), ...add, ...xor, ...store(at)];
      }),
    ),
  );
  // Next blocks: counter += lanes, data += lanes blocks.
  body.push(...get(P.ctx), ...counterRow(lanes), ...store(stateOffset + 48));
  body.push(...get(P.data), ...constant(lanes * blockBytes), op.i32Add, ...set(P.data));
  body.push(...get(P.steps), ...constant(1), op.i32Sub, op.localTee, P.steps, op.brIf, 0, op.end);
  return { params: [i32, i32, i32], locals: [...new Array(4 * lanes).fill(v128), i32], body, exportName: 'xorSector' };
}

export function chacha20ModuleBytes(): Uint8Array<ArrayBuffer> {
  return assembleModule([kernel()]);
}

interface Kernel {
  words: Uint32Array;
  bytes: Uint8Array;
  xorSector(ctx: number, data: number, steps: number): void;
}

let instance: Kernel | undefined;

function chacha20Kernel(): Kernel {
  if (instance) return instance;
  const bytes = chacha20ModuleBytes();
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes)) {
    throw new Error('sector encryption needs WebAssembly SIMD, which this runtime lacks');
  }
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as Pick<Kernel, 'xorSector'>;
  const words = new Uint32Array(memory.buffer);
  words[oneOffset / 4] = 1;
  return (instance = { words, bytes: new Uint8Array(memory.buffer), xorSector: exports.xorSector });
}

const sigma = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"
const le32 = (b: Uint8Array, at: number): number => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;

/** Writes ChaCha20(key, nonce, block counter 0) XOR `input` (one sector) to `out`; `out` may be `input`. */
export function chacha20Sector(key: Uint8Array, nonce: Uint8Array, input: Uint8Array, out: Uint8Array): void {
  if (key.length !== keyBytes || nonce.length !== ivBytes || input.length !== sectorBytes || out.length !== sectorBytes) {
    throw new RangeError(`chacha20Sector: needs a ${keyBytes}-byte key, a ${ivBytes}-byte nonce and ${sectorBytes}-byte input and output`);
  }
  const k = chacha20Kernel();
  const w = k.words;
  const s = stateOffset / 4;
  for (let i = 0; i < 4; i++) w[s + i] = sigma[i];
  for (let i = 0; i < 8; i++) w[s + 4 + i] = le32(key, 4 * i);
  w[s + 12] = 0;
  for (let i = 0; i < 3; i++) w[s + 13 + i] = le32(nonce, 4 * i);
  k.bytes.set(input, dataOffset);
  k.xorSector(stateOffset, dataOffset, sectorBytes / (lanes * blockBytes));
  out.set(k.bytes.subarray(dataOffset, dataOffset + sectorBytes));
  // Leave neither the key (in the state) nor the sector in the kernel's memory.
  w.fill(0, s, s + 16);
  k.bytes.fill(0, dataOffset, dataOffset + sectorBytes);
}
