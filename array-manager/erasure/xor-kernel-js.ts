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
      let accumulate = header & 1;
      // Sources in chunks of up to four, like the WASM kernel: fewer passes over d.
      while (s < end) {
        const left = end - s;
        const a = ptr[ops[s]] >>> 2;
        if (left >= 4) {
          const b = ptr[ops[s + 1]] >>> 2;
          const c = ptr[ops[s + 2]] >>> 2;
          const e = ptr[ops[s + 3]] >>> 2;
          if (accumulate) for (let w = 0; w < tileWords; w++) words[d + w] ^= words[a + w] ^ words[b + w] ^ words[c + w] ^ words[e + w];
          else for (let w = 0; w < tileWords; w++) words[d + w] = words[a + w] ^ words[b + w] ^ words[c + w] ^ words[e + w];
          s += 4;
        } else if (left === 3) {
          const b = ptr[ops[s + 1]] >>> 2;
          const c = ptr[ops[s + 2]] >>> 2;
          if (accumulate) for (let w = 0; w < tileWords; w++) words[d + w] ^= words[a + w] ^ words[b + w] ^ words[c + w];
          else for (let w = 0; w < tileWords; w++) words[d + w] = words[a + w] ^ words[b + w] ^ words[c + w];
          s += 3;
        } else if (left === 2) {
          const b = ptr[ops[s + 1]] >>> 2;
          if (accumulate) for (let w = 0; w < tileWords; w++) words[d + w] ^= words[a + w] ^ words[b + w];
          else for (let w = 0; w < tileWords; w++) words[d + w] = words[a + w] ^ words[b + w];
          s += 2;
        } else {
          if (accumulate) for (let w = 0; w < tileWords; w++) words[d + w] ^= words[a + w];
          else words.copyWithin(d, a, a + tileWords);
          s += 1;
        }
        accumulate = 1;
      }
      cursor = end;
    }
  }
}
