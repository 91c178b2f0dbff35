// A minimal WebAssembly binary writer: just enough (LEB128, a handful of
// opcodes, the type/import/function/export/code sections) to build the XOR
// kernel in xor-kernel-wasm.ts from source at load time. Writing the bytes
// here keeps the kernel reproducible from the repository with no assembler
// dependency and no committed binary (see docs/DEPENDENCIES.md).
// Reference: WebAssembly Core Specification 2.0, section 5 (binary format);
// SIMD opcodes from the fixed-width SIMD proposal (0xfd prefix).

export const i32 = 0x7f;
export const v128 = 0x7b;

/** Opcodes used by the kernel (spec section 5.4). */
export const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  call: 0x10,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i32Store: 0x36,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Shl: 0x74,
  i32ShrU: 0x76,
} as const;

/** SIMD opcodes, each emitted as 0xfd then the LEB128 number. */
export const simd = {
  v128Load: 0,
  v128Store: 11,
  /** Followed by 16 lane indices into the two operands' 32 bytes. */
  i8x16Shuffle: 13,
  v128Or: 80,
  v128Xor: 81,
  i32x4Shl: 171,
  i32x4ShrU: 173,
  i32x4Add: 174,
} as const;

/** Block type "no result" (spec 5.3.2). */
export const blockVoid = 0x40;

export function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

export function sleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** A memory argument: log2 alignment hint and constant byte offset. */
export function memarg(alignLog2: number, offset: number): number[] {
  return [...uleb(alignLog2), ...uleb(offset)];
}

export function simdOp(code: number, ...rest: number[]): number[] {
  return [0xfd, ...uleb(code), ...rest];
}

export interface WasmFunction {
  params: number[];
  /** Extra locals, all of one type each entry. */
  locals: number[];
  body: number[];
  /** Export name, if exported. */
  exportName?: string;
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

/**
 * A module importing one memory as env.memory (so the host fixes its size and
 * views of it never detach) and defining `functions` in order; function i
 * has index i (there are no imported functions). Every function returns nothing.
 */
export function assembleModule(functions: WasmFunction[]): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vector(f.params.map((p) => [p])), 0x00]);
  const imports = [[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]]; // memory, limits {min 0}
  const exports = functions.flatMap((f, i) => (f.exportName ? [[...name(f.exportName), 0x00, ...uleb(i)]] : []));
  const codes = functions.map((f) => {
    const locals = vector(f.locals.map((t) => [0x01, t]));
    const body = [...locals, ...f.body, op.end];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    ...section(1, vector(types)),
    ...section(2, vector(imports)),
    ...section(3, vector(functions.map((_, i) => uleb(i)))),
    ...section(7, vector(exports)),
    ...section(10, vector(codes)),
  ]);
}
