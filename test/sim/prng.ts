// A small seeded PRNG (mulberry32) so every byte and every fault a scenario
// uses follows from its seed, and a failing scenario replays exactly.

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 4096-byte sector value determined by (seed, sector): the PRNG's words, little-endian. */
export function sectorValue(seed: number, sector: number): Buffer {
  const next = prng((seed * 2654435761 + sector * 40503) >>> 0);
  const b = Buffer.allocUnsafe(4096);
  // A DataView store is several times cheaper than Buffer.writeUInt32LE's checked call; every byte is written.
  const view = new DataView(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < 4096; i += 4) view.setUint32(i, (next() * 4294967296) >>> 0, true);
  return b;
}
