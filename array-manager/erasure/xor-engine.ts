// Owns the linear memory the XOR programs run in and runs them with the WASM
// SIMD kernel or the TypeScript one. Layout of the memory (byte offsets, each
// region 64-byte aligned):
//
//   ptr table     u32 per packet id: byte offset of that packet's current tile
//   base table    u32 per real packet: byte offset of the packet (set per call)
//   resident ops  the pinned program (the encoder), loaded once
//   loaded ops    the last other program run (decode, delta), reloaded on change
//   scratch       tile-sized scratch packets
//   data          left to the owner (staging shards, arena stripes)
//
// The WASM memory is created with maximum = initial size and never grows,
// so Uint8Array views of it stay valid for the life of the engine; that is
// what lets callers keep their stripes in it and skip the copies.
// Trusts the owner (erasure-code.ts) to fill the base table with offsets of
// whole packets inside the memory; bounds are still enforced by the runtime.
import assert from 'node:assert/strict';
import { ErasureError } from './errors.ts';
import { packetGranuleBytes, tileBytesMax } from './limits.ts';
import { runXorProgramJs } from './xor-kernel-js.ts';
import { xorKernelModule, type XorKernelExports } from './xor-kernel-wasm.ts';
import type { XorProgram } from './xor-program.ts';

export type EngineKind = 'wasm' | 'js';

export interface XorEngineLayout {
  /** Packets that live in shards (ids 0 .. realPackets - 1). */
  realPackets: number;
  /** Scratch packets (ids realPackets ..). */
  scratchPackets: number;
  packetBytes: number;
  /** Largest program, in 32-bit words, for each of the two program regions. */
  programWordsMax: number;
  /** Bytes the owner needs in the data region. */
  dataBytes: number;
}

const wasmPageBytes = 65536;
/** Keep the whole memory addressable by the kernel's signed 32-bit offsets. */
export const engineMemoryBytesMax = 2 ** 31;

const align = (n: number): number => Math.ceil(n / packetGranuleBytes) * packetGranuleBytes;

/** Largest multiple of the granule that divides packetBytes and is at most tileBytesMax. */
export function tileBytesFor(packetBytes: number): number {
  for (let tile = Math.min(packetBytes, tileBytesMax); tile > packetGranuleBytes; tile -= packetGranuleBytes) {
    if (packetBytes % tile === 0) return tile;
  }
  return packetGranuleBytes;
}

export function wasmAvailable(): boolean {
  return xorKernelModule() !== null;
}

export class XorEngine {
  readonly kind: EngineKind;
  readonly buffer: ArrayBuffer;
  readonly dataOffset: number;
  /** Byte offset of each real packet; the owner fills it before run(). */
  readonly bases: Uint32Array;
  readonly tileBytes: number;
  private readonly layout: XorEngineLayout;
  private readonly ptr: Uint32Array;
  private readonly words: Int32Array;
  private readonly regionOffsets: [number, number];
  private readonly regionViews: [Uint32Array, Uint32Array];
  private readonly exports: XorKernelExports | null;
  private resident: XorProgram | null = null;
  private loaded: XorProgram | null = null;

  constructor(kind: EngineKind, layout: XorEngineLayout) {
    this.kind = kind;
    this.layout = layout;
    this.tileBytes = tileBytesFor(layout.packetBytes);
    const packets = layout.realPackets + layout.scratchPackets;
    const ptrOffset = 0;
    const baseOffset = align(ptrOffset + 4 * packets);
    const residentOffset = align(baseOffset + 4 * layout.realPackets);
    const loadedOffset = align(residentOffset + 4 * layout.programWordsMax);
    const scratchOffset = align(loadedOffset + 4 * layout.programWordsMax);
    this.dataOffset = align(scratchOffset + layout.scratchPackets * this.tileBytes);
    const totalBytes = this.dataOffset + layout.dataBytes;
    if (totalBytes > engineMemoryBytesMax) {
      throw new ErasureError('E_ARENA', `memory of ${totalBytes} bytes exceeds engineMemoryBytesMax ${engineMemoryBytesMax}`);
    }
    if (kind === 'wasm') {
      const module = xorKernelModule();
      if (!module) throw new ErasureError('E_ENGINE', 'engine "wasm": this runtime lacks WebAssembly SIMD');
      const pages = Math.ceil(totalBytes / wasmPageBytes);
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      this.exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as XorKernelExports;
      this.buffer = memory.buffer;
    } else {
      this.exports = null;
      this.buffer = new ArrayBuffer(totalBytes);
    }
    this.words = new Int32Array(this.buffer);
    this.ptr = new Uint32Array(this.buffer, ptrOffset, packets);
    this.bases = new Uint32Array(this.buffer, baseOffset, layout.realPackets);
    this.regionOffsets = [residentOffset, loadedOffset];
    this.regionViews = [
      new Uint32Array(this.buffer, residentOffset, layout.programWordsMax),
      new Uint32Array(this.buffer, loadedOffset, layout.programWordsMax),
    ];
    for (let t = 0; t < layout.scratchPackets; t++) this.ptr[layout.realPackets + t] = scratchOffset + t * this.tileBytes;
  }

  /** Keeps `program` loaded for good (the encoder, run most often). */
  pin(program: XorProgram): void {
    assert.ok(program.ops.length <= this.layout.programWordsMax);
    this.regionViews[0].set(program.ops);
    this.resident = program;
  }

  run(program: XorProgram): void {
    const { realPackets, packetBytes } = this.layout;
    if (this.exports === null) {
      runXorProgramJs(this.words, program.ops, this.bases, this.ptr, realPackets, packetBytes, this.tileBytes);
      return;
    }
    let region = 0;
    if (program !== this.resident) {
      region = 1;
      if (program !== this.loaded) {
        assert.ok(program.ops.length <= this.layout.programWordsMax);
        this.regionViews[1].set(program.ops);
        this.loaded = program;
      }
    }
    const start = this.regionOffsets[region];
    this.exports.run(start, start + 4 * program.ops.length, this.bases.byteOffset, this.ptr.byteOffset, realPackets, packetBytes, this.tileBytes);
  }
}
