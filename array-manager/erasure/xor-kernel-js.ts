// The XOR program interpreter in plain TypeScript over 32-bit words: the
// fallback where WebAssembly SIMD is missing, and the cross-check of the WASM
// kernel in the tests. Same program format and the same tile walk as
// xor-kernel-wasm.ts; pointers are byte offsets into `words.buffer` and, like
// every length, multiples of 64 (xor-engine.ts guarantees it).

/**
 * Runs `ops` over tiles of `tileBytes` of each packet. `ptr` holds, per
 * packet id, the byte offset of its current tile: entries below realCount
 * are rewritten from `base` at every tile, entries above (scratch packets)
 * are fixed.
 */
export function runXorProgramJs(
  words: Int32Array,
  ops: Uint32Array,
  base: Uint32Array,
  ptr: Uint32Array,
  realCount: number,
  packetBytes: number,
  tileBytes: number,
): void {
  const tileWords = tileBytes >>> 2;
  for (let tileOff = 0; tileOff < packetBytes; tileOff += tileBytes) {
    for (let i = 0; i < realCount; i++) ptr[i] = base[i] + tileOff;
    let cursor = 0;
    while (cursor < ops.length) {
      const header = ops[cursor];
      const end = cursor + 2 + (header >>> 1);
      const d = ptr[ops[cursor + 1]] >>> 2;
      let s = cursor + 2;
      if ((header & 1) === 0) {
        const a = ptr[ops[s++]] >>> 2;
        if (s < end) {
          const b = ptr[ops[s++]] >>> 2;
          for (let w = 0; w < tileWords; w++) words[d + w] = words[a + w] ^ words[b + w];
        } else {
          words.copyWithin(d, a, a + tileWords);
        }
      }
      for (; s + 1 < end; s += 2) {
        const a = ptr[ops[s]] >>> 2;
        const b = ptr[ops[s + 1]] >>> 2;
        for (let w = 0; w < tileWords; w++) words[d + w] ^= words[a + w] ^ words[b + w];
      }
      if (s < end) {
        const a = ptr[ops[s]] >>> 2;
        for (let w = 0; w < tileWords; w++) words[d + w] ^= words[a + w];
      }
      cursor = end;
    }
  }
}
