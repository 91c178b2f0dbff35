// The XOR kernels: the WASM module assembler (LEB128 known answers), and the
// WASM SIMD interpreter against the TypeScript one and against a naive
// byte-by-byte XOR on random programs (many sources, accumulate ops, scratch
// packets, several tiles per packet).
import t from 'tap';
import fc from 'fast-check';
import { sleb, uleb } from '../../array-manager/erasure/wasm-assembler.ts';
import { tileBytesFor, wasmAvailable, XorEngine, type EngineKind } from '../../array-manager/erasure/xor-engine.ts';
import { xorKernelModuleBytes } from '../../array-manager/erasure/xor-kernel-wasm.ts';
import { fill } from './helpers.ts';

t.test('LEB128 (examples from the DWARF 5 spec, section 7.6, and Wikipedia "LEB128")', async (t) => {
  t.same(uleb(0), [0x00]);
  t.same(uleb(127), [0x7f]);
  t.same(uleb(128), [0x80, 0x01]);
  t.same(uleb(12857), [0xb9, 0x64]);
  t.same(uleb(624485), [0xe5, 0x8e, 0x26]);
  t.same(sleb(2), [0x02]);
  t.same(sleb(-2), [0x7e]);
  t.same(sleb(127), [0xff, 0x00]);
  t.same(sleb(-127), [0x81, 0x7f]);
  t.same(sleb(128), [0x80, 0x01]);
  t.same(sleb(-128), [0x80, 0x7f]);
  t.same(sleb(-123456), [0xc0, 0xbb, 0x78]);
});

t.test('the kernel module is valid and built deterministically', async (t) => {
  const a = xorKernelModuleBytes();
  t.same(Array.from(a.slice(0, 8)), [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  t.same(a, xorKernelModuleBytes());
  t.ok(WebAssembly.validate(a), 'WebAssembly.validate (Node 20 has SIMD)');
  t.ok(wasmAvailable());
});

t.test('tile size divides the packet and is a multiple of 64', async (t) => {
  t.equal(tileBytesFor(64), 64);
  t.equal(tileBytesFor(512), 512);
  t.equal(tileBytesFor(8192), 2048);
  t.equal(tileBytesFor(1536), 1536);
  t.equal(tileBytesFor(64 * 33), 64 * 11);
  t.equal(tileBytesFor(64 * 17), 64 * 17);
  t.equal(tileBytesFor(64 * 37), 64, "a prime number of granules above the maximum: one granule");
});

const shards = 6;
const realPackets = 8 * shards;
const scratchPackets = 5;

/** Naive semantics of a program: byte loops over whole packets, scratch packets as whole packets too. */
function naive(memory: Uint8Array, ops: number[], packetBytes: number, tileBytes: number, base: (id: number) => number): void {
  // Scratch packets are tile-local in the engines, so run tile by tile here as well.
  for (let tile = 0; tile < packetBytes; tile += tileBytes) {
    const scratch = Array.from({ length: scratchPackets }, () => new Uint8Array(tileBytes));
    const view = (id: number): Uint8Array =>
      id < realPackets ? memory.subarray(base(id) + tile, base(id) + tile + tileBytes) : scratch[id - realPackets];
    for (let i = 0; i < ops.length; ) {
      const n = ops[i] >>> 1;
      const acc = ops[i] & 1;
      const dest = view(ops[i + 1]);
      const sum = acc ? Uint8Array.from(dest) : new Uint8Array(tileBytes);
      for (let s = 0; s < n; s++) {
        const src = view(ops[i + 2 + s]);
        for (let b = 0; b < tileBytes; b++) sum[b] ^= src[b];
      }
      dest.set(sum);
      i += 2 + n;
    }
  }
}

const opArb = fc.record({
  dest: fc.integer({ min: 0, max: realPackets + scratchPackets - 1 }),
  accumulate: fc.boolean(),
  sources: fc.array(fc.integer({ min: 0, max: realPackets + scratchPackets - 1 }), { minLength: 1, maxLength: 11 }),
});

t.test('engines agree with the naive semantics on random programs', async (t) => {
  const kinds: EngineKind[] = wasmAvailable() ? ['js', 'wasm'] : ['js'];
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 80 }), fc.array(opArb, { minLength: 1, maxLength: 30 }), fc.integer(), (granules, list, seed) => {
      const packetBytes = 64 * granules;
      // Programs obey the format's rules: a destination is never one of its
      // own sources, and a scratch packet is written before it is read (its
      // contents do not carry over from one tile to the next).
      const ops: number[] = [];
      const written = new Set<number>();
      const readable = (id: number): boolean => id < realPackets || written.has(id);
      for (const op of list) {
        const sources = op.sources.filter((id) => id !== op.dest && readable(id));
        if (sources.length === 0) sources.push(op.dest === 0 ? 1 : 0);
        ops.push((sources.length << 1) | (op.accumulate && readable(op.dest) ? 1 : 0), op.dest, ...sources);
        written.add(op.dest);
      }
      const program = { ops: Uint32Array.from(ops), sourceCount: 0, opCount: 0 };
      const results = kinds.map((kind) => {
        const engine = new XorEngine(kind, {
          realPackets,
          scratchPackets,
          packetBytes,
          programWordsMax: ops.length,
          dataBytes: realPackets * packetBytes,
        });
        const data = new Uint8Array(engine.buffer, engine.dataOffset, realPackets * packetBytes);
        fill(data, seed);
        // Packets in a shuffled order, to check that bases are honoured.
        for (let id = 0; id < realPackets; id++) engine.bases[id] = engine.dataOffset + ((id * 7) % realPackets) * packetBytes;
        engine.run(program);
        return { data: Uint8Array.from(data), tileBytes: engine.tileBytes };
      });
      const expected = fill(new Uint8Array(realPackets * packetBytes), seed);
      naive(expected, ops, packetBytes, results[0].tileBytes, (id) => ((id * 7) % realPackets) * packetBytes);
      return results.every((r) => Buffer.compare(r.data, expected) === 0);
    }),
    { numRuns: 60, seed: 3 },
  );
  t.pass('60 random programs');
});
