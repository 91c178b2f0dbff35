// The XOR program interpreter as a WebAssembly SIMD module, generated from
// this source at load time by wasm-assembler.ts. It runs a whole program
// (xor-program.ts) in one call, so the JS/WASM boundary is crossed once per
// stripe operation, and works tile by tile (xor-engine.ts) so the packets of
// a tile stay in cache while every op touches them.
//
// Functions (index: what):
//   0-3  set kernels:  d = s0 ^ ... ^ s(n-1) for n = 1..4, over `len` bytes
//   4-7  acc kernels:  d ^= s0 ^ ... ^ s(n-1)
//   8    run(opsPtr, opsEnd, basePtr, ptrPtr, realCount, packetBytes, tileBytes)
// Each kernel step moves 64 bytes as four v128 lanes; len is a non-zero
// multiple of 64 (the packet granule). Trusts its caller (xor-engine.ts) for
// every pointer: memory bounds are still enforced by the WASM runtime.
import { assembleModule, blockVoid, i32, memarg, op, simd, simdOp, sleb, type WasmFunction } from './wasm-assembler.ts';

const laneBytes = 16;
const stepBytes = 64;
const sourcesPerCallMax = 4;

const get = (local: number): number[] => [op.localGet, local];
const set = (local: number): number[] => [op.localSet, local];
const tee = (local: number): number[] => [op.localTee, local];
const constant = (value: number): number[] => [op.i32Const, ...sleb(value)];
const load32 = (offset = 0): number[] => [op.i32Load, ...memarg(2, offset)];
const store32 = (offset = 0): number[] => [op.i32Store, ...memarg(2, offset)];
const addTo = (local: number, value: number): number[] => [...get(local), ...constant(value), op.i32Add, ...set(local)];

/** Kernel over n sources; locals: 0 = d, 1..n = sources, n + 1 = len. */
function kernel(n: number, accumulate: boolean): WasmFunction {
  const len = n + 1;
  const body: number[] = [op.loop, blockVoid];
  for (let lane = 0; lane < stepBytes / laneBytes; lane++) {
    const at = lane * laneBytes;
    body.push(...get(0));
    if (accumulate) body.push(...get(0), ...simdOp(simd.v128Load, ...memarg(4, at)));
    for (let s = 1; s <= n; s++) {
      body.push(...get(s), ...simdOp(simd.v128Load, ...memarg(4, at)));
      if (s > 1 || accumulate) body.push(...simdOp(simd.v128Xor));
    }
    body.push(...simdOp(simd.v128Store, ...memarg(4, at)));
  }
  for (let local = 0; local <= n; local++) body.push(...addTo(local, stepBytes));
  body.push(...get(len), ...constant(stepBytes), op.i32Sub, ...tee(len), op.brIf, 0, op.end);
  return { params: new Array(n + 2).fill(i32), locals: [], body };
}

const setKernelIndex = (n: number): number => n - 1;
const accKernelIndex = (n: number): number => sourcesPerCallMax + n - 1;

// Locals of run().
const L = {
  opsPtr: 0, opsEnd: 1, basePtr: 2, ptrPtr: 3, realCount: 4, packetBytes: 5, tileBytes: 6,
  tileOff: 7, i: 8, cursor: 9, opEnd: 10, dest: 11, acc: 12, left: 13,
} as const;
const runParams = 7;
const runLocals = 7;

/** Pointer of the packet whose id is at cursor + 4 * j: ptrTable[id]. */
function sourcePointer(j: number): number[] {
  return [...get(L.ptrPtr), ...get(L.cursor), ...load32(4 * j), ...constant(2), op.i32Shl, op.i32Add, ...load32()];
}

/** Calls the set or acc kernel for n sources at the cursor, then advances it. */
function chunk(n: number): number[] {
  const args: number[] = [...get(L.dest)];
  for (let j = 0; j < n; j++) args.push(...sourcePointer(j));
  args.push(...get(L.tileBytes));
  return [
    ...get(L.acc), op.if, blockVoid,
    ...args, op.call, accKernelIndex(n),
    op.else,
    ...args, op.call, setKernelIndex(n),
    op.end,
    ...addTo(L.cursor, 4 * n),
  ];
}

/** Chooses the chunk size from `left` (sources still to apply): min(left, 4). */
function dispatch(n: number): number[] {
  if (n === 1) return chunk(1);
  const test = n === sourcesPerCallMax ? [...constant(n), op.i32GeU] : [...constant(n), op.i32Eq];
  return [...get(L.left), ...test, op.if, blockVoid, ...chunk(n), op.else, ...dispatch(n - 1), op.end];
}

function run(): WasmFunction {
  const body = [
    ...constant(0), ...set(L.tileOff),
    op.loop, blockVoid, // tiles
    // ptrTable[i] = baseTable[i] + tileOff for the real packets (byte index i).
    ...constant(0), ...set(L.i),
    op.block, blockVoid, op.loop, blockVoid,
    ...get(L.i), ...get(L.realCount), ...constant(2), op.i32Shl, op.i32GeU, op.brIf, 1,
    ...get(L.ptrPtr), ...get(L.i), op.i32Add,
    ...get(L.basePtr), ...get(L.i), op.i32Add, ...load32(), ...get(L.tileOff), op.i32Add,
    ...store32(),
    ...addTo(L.i, 4), op.br, 0,
    op.end, op.end,
    // Interpret the ops.
    ...get(L.opsPtr), ...set(L.cursor),
    op.block, blockVoid, op.loop, blockVoid,
    ...get(L.cursor), ...get(L.opsEnd), op.i32GeU, op.brIf, 1,
    ...get(L.cursor), ...load32(), ...tee(L.acc),
    ...constant(1), op.i32ShrU, ...constant(2), op.i32Shl, ...get(L.cursor), op.i32Add, ...constant(8), op.i32Add, ...set(L.opEnd),
    ...get(L.acc), ...constant(1), op.i32And, ...set(L.acc),
    ...get(L.ptrPtr), ...get(L.cursor), ...load32(4), ...constant(2), op.i32Shl, op.i32Add, ...load32(), ...set(L.dest),
    ...addTo(L.cursor, 8),
    op.loop, blockVoid, // chunks of up to four sources
    ...get(L.opEnd), ...get(L.cursor), op.i32Sub, ...constant(2), op.i32ShrU, ...set(L.left),
    ...dispatch(sourcesPerCallMax),
    ...constant(1), ...set(L.acc),
    ...get(L.cursor), ...get(L.opEnd), op.i32LtU, op.brIf, 0,
    op.end,
    op.br, 0,
    op.end, op.end,
    ...get(L.tileOff), ...get(L.tileBytes), op.i32Add, ...tee(L.tileOff),
    ...get(L.packetBytes), op.i32LtU, op.brIf, 0,
    op.end,
  ];
  return {
    params: new Array(runParams).fill(i32),
    locals: new Array(runLocals).fill(i32),
    body,
    exportName: 'run',
  };
}

export function xorKernelModuleBytes(): Uint8Array<ArrayBuffer> {
  const functions: WasmFunction[] = [];
  for (let n = 1; n <= sourcesPerCallMax; n++) functions.push(kernel(n, false));
  for (let n = 1; n <= sourcesPerCallMax; n++) functions.push(kernel(n, true));
  functions.push(run());
  return assembleModule(functions);
}

export interface XorKernelExports {
  run(opsPtr: number, opsEnd: number, basePtr: number, ptrPtr: number, realCount: number, packetBytes: number, tileBytes: number): void;
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where this runtime lacks WebAssembly SIMD. */
export function xorKernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = xorKernelModuleBytes();
    compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}
