// The erasure code of the array: a systematic Cauchy Reed-Solomon code over
// GF(2^8) with k data and m parity shards, run in its XOR (bit-matrix) form.
// One object per geometry, created once and reused; no allocation on the
// encode and verify paths, none on updateParity after the first call for a
// shard index, and none on reconstruct for a repeated loss pattern.
//
// Bit-slicing: a shard of S bytes is 8 packets of S/8 bytes; the symbol at
// bit position t (byte t >> 3, bit t & 7 of each packet) has its bit c in
// packet c. Parity symbols are the Cauchy matrix (cauchy.ts) times the data
// symbols in GF(2^8) (gf256.ts), which in this layout is XORs of packets.
//
// Shards are Uint8Array views. Views that lie in this code's memory (from
// allocStripe()) at 64-byte aligned offsets are worked on in place; any other
// view is copied into a staging shard first (inputs) or from it afterwards
// (outputs), costing one memcpy per shard. Output views must not overlap
// input views. Trusts nothing about its arguments: counts, lengths, indices
// and presence masks are checked and rejected with ErasureError.
import { Buffer } from 'node:buffer';
import { cauchyMatrix } from './cauchy.ts';
import { ErasureError } from './errors.ts';
import { gfMatrixInvert, gfMatrixMultiply, type GfMatrix } from './gf-matrix.ts';
import { cseTempsMax, decodeSchedulesMax, packetsPerShard, shardBytesMax, shardGranuleBytes, shardsMax } from './limits.ts';
import { wasmAvailable, XorEngine, type EngineKind } from './xor-engine.ts';
import { expandToBitRows, scheduleDelta, scheduleRows, type ScratchSpace, type XorProgram } from './xor-program.ts';

export interface ErasureCodeOptions {
  /** Data shards, >= 1. */
  k: number;
  /** Parity shards, >= 1; k + m <= 256. */
  m: number;
  /** Bytes per shard: a positive multiple of 512, at most 1 MiB. */
  shardBytes: number;
  /** Kernel: 'auto' (default) takes WASM SIMD where the runtime has it. */
  engine?: EngineKind | 'auto';
  /** Stripes that allocStripe() can hand out (default 1). */
  arenaStripes?: number;
}

interface DecodePlan {
  program: XorProgram;
  survivors: Int32Array;
  missing: Int32Array;
}

const arenaStripesMax = 4096;

/** Scratch packets for common sub-expressions of a (k, m) code: after its k + m + 1 shard slots. */
function scratchOf(k: number, m: number): ScratchSpace {
  return { scratchBase: packetsPerShard * (k + m + 1), scratchMax: cseTempsMax };
}

/** What every code of one (k, m) shares. */
interface Shape {
  coding: GfMatrix;
  encoder: XorProgram;
  /** Decode plans by presence mask, most recently used last. */
  plans: Map<string, DecodePlan>;
}

/**
 * The coding matrix, encode program and decode plans of each (k, m) built
 * so far. They depend on k, m and the presence mask alone and are never
 * written after they are built, so every code of a shape shares them:
 * scheduling programs is most of the cost of a new code, and a manager
 * makes one per array it creates or opens.
 */
const shapes = new Map<string, Shape>();
/** Shapes kept: more than any process uses; past it the oldest is dropped. */
const shapesMax = 64;

function shapeOf(k: number, m: number): Shape {
  const key = `${k}+${m}`;
  let shape = shapes.get(key);
  if (!shape) {
    const coding = cauchyMatrix(k, m);
    const inputIds = Array.from({ length: packetsPerShard * k }, (_, i) => i);
    const outputIds = Array.from({ length: packetsPerShard * m }, (_, i) => packetsPerShard * k + i);
    shape = { coding, encoder: scheduleRows(expandToBitRows(coding), inputIds, outputIds, scratchOf(k, m)), plans: new Map() };
    if (shapes.size >= shapesMax) shapes.delete(shapes.keys().next().value as string);
    shapes.set(key, shape);
  }
  return shape;
}

const zeroCopyAlignBytes = 64;

export class ErasureCode {
  readonly k: number;
  readonly m: number;
  readonly shardBytes: number;
  readonly packetBytes: number;
  readonly engine: EngineKind;
  private readonly coding: GfMatrix;
  private readonly xor: XorEngine;
  private readonly encoder: XorProgram;
  private readonly deltas: (XorProgram | undefined)[];
  private readonly plans: Map<string, DecodePlan>;
  private lastPresent: Uint8Array;
  private lastPlan: DecodePlan | null = null;
  /** Staging shards: k + m for the stripe, one for updateParity's new data, m for verify. */
  private readonly staging: Uint8Array[];
  private readonly staged: Uint8Array;
  /** Per shard slot: the last caller view used in place, its offset, and the offset the base table holds. */
  private readonly inPlace: (Uint8Array | undefined)[];
  private readonly inPlaceOffset: Int32Array;
  private readonly slotOffset: Int32Array;
  private readonly arenaOffset: number;
  private readonly arenaStripes: number;
  private arenaUsed = 0;

  constructor(options: ErasureCodeOptions) {
    const { k, m, shardBytes } = options;
    const arenaStripes = options.arenaStripes ?? 1;
    if (!Number.isSafeInteger(k) || k < 1) throw new ErasureError('E_GEOMETRY', `k must be an integer >= 1, got ${k}`);
    if (!Number.isSafeInteger(m) || m < 1) throw new ErasureError('E_GEOMETRY', `m must be an integer >= 1, got ${m}`);
    if (k + m > shardsMax) throw new ErasureError('E_GEOMETRY', `k + m must be <= ${shardsMax}, got ${k + m}`);
    if (!Number.isSafeInteger(shardBytes) || shardBytes <= 0 || shardBytes % shardGranuleBytes !== 0 || shardBytes > shardBytesMax) {
      throw new ErasureError('E_SHARD_SIZE', `shardBytes must be a positive multiple of ${shardGranuleBytes} up to ${shardBytesMax}, got ${shardBytes}`);
    }
    if (!Number.isSafeInteger(arenaStripes) || arenaStripes < 0 || arenaStripes > arenaStripesMax) {
      throw new ErasureError('E_ARENA', `arenaStripes must be an integer in 0..${arenaStripesMax}, got ${arenaStripes}`);
    }
    const requested = options.engine ?? 'auto';
    if (requested !== 'auto' && requested !== 'wasm' && requested !== 'js') {
      throw new ErasureError('E_ENGINE', `engine must be "auto", "wasm" or "js", got ${String(requested)}`);
    }
    this.k = k;
    this.m = m;
    this.shardBytes = shardBytes;
    this.packetBytes = shardBytes / packetsPerShard;
    this.engine = requested === 'auto' ? (wasmAvailable() ? 'wasm' : 'js') : requested;
    const shape = shapeOf(k, m);
    this.coding = shape.coding;
    this.plans = shape.plans;
    this.arenaStripes = arenaStripes;
    this.lastPresent = new Uint8Array(k + m);

    const stripe = k + m;
    const stagingShards = stripe + 1 + m;
    this.xor = new XorEngine(this.engine, {
      realPackets: packetsPerShard * (stripe + 1),
      scratchPackets: Math.max(packetsPerShard, cseTempsMax),
      packetBytes: this.packetBytes,
      // A scheduled row has at most 8k sources (CSE only shortens rows) after
      // at most cseTempsMax pair ops; the delta program has 8 per row plus its 8 delta ops.
      programWordsMax: packetsPerShard * m * (2 + packetsPerShard * Math.max(k, 2)) + 4 * cseTempsMax,
      dataBytes: (stagingShards + arenaStripes * stripe) * shardBytes,
    });
    const dataOffset = this.xor.dataOffset;
    this.staging = Array.from({ length: stagingShards }, (_, i) => new Uint8Array(this.xor.buffer, dataOffset + i * shardBytes, shardBytes));
    this.staged = new Uint8Array(stagingShards);
    this.inPlace = new Array(stripe + 1);
    this.inPlaceOffset = new Int32Array(stripe + 1);
    this.slotOffset = new Int32Array(stripe + 1).fill(-1);
    this.arenaOffset = dataOffset + stagingShards * shardBytes;

    this.encoder = shape.encoder;
    this.xor.pin(this.encoder);
    this.deltas = new Array(k);
  }

  /** Scratch packets for common sub-expressions: after the k + m + 1 shard slots. */
  private get scratch(): ScratchSpace {
    return scratchOf(this.k, this.m);
  }

  /** A copy of the m x k coding matrix: parity i = sum over j of matrix[i][j] * data j. */
  get matrix(): GfMatrix {
    return this.coding.map((row) => Uint8Array.from(row));
  }

  /** XOR work of one encode, in packet reads (reported by the benchmark). */
  get encodeSourceCount(): number {
    return this.encoder.sourceCount;
  }

  /**
   * A stripe of k + m shard views inside this code's memory: encode,
   * reconstruct and verify work on such shards without copying them.
   */
  allocStripe(): Uint8Array[] {
    if (this.arenaUsed >= this.arenaStripes) {
      throw new ErasureError('E_ARENA', `all ${this.arenaStripes} arena stripes are in use (raise arenaStripes)`);
    }
    const stripe = this.k + this.m;
    const start = this.arenaOffset + this.arenaUsed * stripe * this.shardBytes;
    this.arenaUsed++;
    return Array.from({ length: stripe }, (_, i) => new Uint8Array(this.xor.buffer, start + i * this.shardBytes, this.shardBytes));
  }

  /** parity[i] := sum over j of matrix[i][j] * data[j] (bit-sliced). */
  encode(data: readonly Uint8Array[], parity: readonly Uint8Array[]): void {
    this.checkShards('data', data, this.k);
    this.checkShards('parity', parity, this.m);
    for (let j = 0; j < this.k; j++) this.bind(j, data[j], true);
    for (let i = 0; i < this.m; i++) this.bind(this.k + i, parity[i], false);
    this.xor.run(this.encoder);
    for (let i = 0; i < this.m; i++) this.unstage(this.k + i, parity[i]);
  }

  /**
   * Rebuilds every shard whose present flag is false, in place, from the
   * others. Up to m shards may be missing.
   */
  reconstruct(shards: readonly Uint8Array[], present: readonly boolean[]): void {
    const n = this.k + this.m;
    this.checkShards('shards', shards, n);
    if (!Array.isArray(present) || present.length !== n) {
      throw new ErasureError('E_SHARD_COUNT', `present must be an array of ${n} booleans, got length ${(present as unknown[])?.length}`);
    }
    const plan = this.planFor(present);
    if (plan === null) return;
    const { survivors, missing } = plan;
    for (let i = 0; i < survivors.length; i++) this.bind(survivors[i], shards[survivors[i]], true);
    for (let i = 0; i < missing.length; i++) this.bind(missing[i], shards[missing[i]], false);
    this.xor.run(plan.program);
    for (let i = 0; i < missing.length; i++) this.unstage(missing[i], shards[missing[i]]);
  }

  /** True when the parity shards of `stripe` (k data then m parity) match its data. */
  verify(stripe: readonly Uint8Array[]): boolean {
    const { k, m } = this;
    this.checkShards('stripe', stripe, k + m);
    for (let j = 0; j < k; j++) this.bind(j, stripe[j], true);
    const scratch = k + m + 1;
    for (let i = 0; i < m; i++) this.bindStaging(k + i, scratch + i);
    this.xor.run(this.encoder);
    for (let i = 0; i < m; i++) if (Buffer.compare(this.staging[scratch + i], stripe[k + i]) !== 0) return false;
    return true;
  }

  /**
   * For a write that changes data shard `index` from oldData to newData:
   * parity[i] ^= matrix[i][index] * (oldData ^ newData). Reads no other data
   * shard, so a small write costs one shard read plus the m parities.
   */
  updateParity(parity: readonly Uint8Array[], index: number, oldData: Uint8Array, newData: Uint8Array): void {
    const { k, m } = this;
    this.checkShards('parity', parity, m);
    if (!Number.isSafeInteger(index) || index < 0 || index >= k) {
      throw new ErasureError('E_SHARD_INDEX', `index must be an integer in 0..${k - 1}, got ${index}`);
    }
    this.checkShard('oldData', oldData);
    this.checkShard('newData', newData);
    this.bind(index, oldData, true);
    this.bind(k + m, newData, true);
    for (let i = 0; i < m; i++) this.bind(k + i, parity[i], true);
    this.xor.run(this.deltaFor(index));
    for (let i = 0; i < m; i++) this.unstage(k + i, parity[i]);
  }

  private deltaFor(index: number): XorProgram {
    let program = this.deltas[index];
    if (program === undefined) {
      const { k, m } = this;
      const ids = (shard: number): number[] => Array.from({ length: packetsPerShard }, (_, c) => packetsPerShard * shard + c);
      const column = this.coding.map((row) => row[index]);
      const parityIds = Array.from({ length: packetsPerShard * m }, (_, i) => packetsPerShard * k + i);
      program = scheduleDelta(column, ids(index), ids(k + m), parityIds, packetsPerShard * (k + m + 1));
      this.deltas[index] = program;
    }
    return program;
  }

  /** The decode plan for a presence mask, null when nothing is missing. */
  private planFor(present: readonly boolean[]): DecodePlan | null {
    const n = this.k + this.m;
    let missing = 0;
    let same = this.lastPlan !== null;
    for (let s = 0; s < n; s++) {
      const flag = present[s];
      if (flag !== true && flag !== false) throw new ErasureError('E_SHARD_COUNT', `present[${s}] must be a boolean`);
      if (!flag) missing++;
      if ((flag ? 1 : 0) !== this.lastPresent[s]) same = false;
    }
    if (missing > this.m) throw new ErasureError('E_TOO_MANY_MISSING', `${missing} shards missing, at most m = ${this.m} can be rebuilt`);
    if (missing === 0) return null;
    if (same) return this.lastPlan;
    const key = present.map((flag) => (flag ? '1' : '0')).join('');
    let plan = this.plans.get(key);
    if (plan === undefined) {
      plan = this.buildPlan(present);
      if (this.plans.size >= decodeSchedulesMax) this.plans.delete(this.plans.keys().next().value as string);
    } else {
      this.plans.delete(key); // re-inserted below: Map order is the recency order
    }
    this.plans.set(key, plan);
    for (let s = 0; s < n; s++) this.lastPresent[s] = present[s] ? 1 : 0;
    this.lastPlan = plan;
    return plan;
  }

  private buildPlan(present: readonly boolean[]): DecodePlan {
    const k = this.k;
    const survivors: number[] = [];
    const missing: number[] = [];
    present.forEach((flag, s) => (flag ? survivors.length < k && survivors.push(s) : missing.push(s)));
    const generatorRow = (s: number): Uint8Array => {
      if (s >= k) return this.coding[s - k];
      const row = new Uint8Array(k);
      row[s] = 1;
      return row;
    };
    const inverse = gfMatrixInvert(survivors.map(generatorRow));
    const decodeMatrix = gfMatrixMultiply(missing.map(generatorRow), inverse);
    const inputIds = survivors.flatMap((s) => Array.from({ length: packetsPerShard }, (_, c) => packetsPerShard * s + c));
    const outputIds = missing.flatMap((s) => Array.from({ length: packetsPerShard }, (_, r) => packetsPerShard * s + r));
    return {
      program: scheduleRows(expandToBitRows(decodeMatrix), inputIds, outputIds, this.scratch),
      survivors: Int32Array.from(survivors),
      missing: Int32Array.from(missing),
    };
  }

  private checkShard(field: string, shard: unknown): asserts shard is Uint8Array {
    if (!(shard instanceof Uint8Array) || shard.byteLength !== this.shardBytes) {
      const got = shard instanceof Uint8Array ? `${shard.byteLength} bytes` : typeof shard;
      throw new ErasureError('E_SHARD_LENGTH', `${field} must be a Uint8Array of ${this.shardBytes} bytes, got ${got}`);
    }
  }

  private checkShards(field: string, shards: readonly Uint8Array[], count: number): void {
    if (!Array.isArray(shards) || shards.length !== count) {
      throw new ErasureError('E_SHARD_COUNT', `${field} must be an array of ${count} shards, got ${Array.isArray(shards) ? shards.length : typeof shards}`);
    }
    for (let i = 0; i < count; i++) {
      const shard = shards[i];
      if (!(shard instanceof Uint8Array) || shard.byteLength !== this.shardBytes) this.checkShard(`${field}[${i}]`, shard);
    }
  }

  /** Points shard slot `slot` at `view`, or at its staging shard (copying `view` in when it is an input). */
  private bind(slot: number, view: Uint8Array, input: boolean): void {
    // A view's buffer and offset never change, so the last in-place view of
    // each slot is remembered: reading view.buffer costs more than the rest
    // of a small encode's bookkeeping.
    if (view !== this.inPlace[slot]) {
      if (view.buffer !== this.xor.buffer || view.byteOffset % zeroCopyAlignBytes !== 0) {
        if (input) this.staging[slot].set(view);
        this.bindStaging(slot, slot);
        return;
      }
      this.inPlace[slot] = view;
      this.inPlaceOffset[slot] = view.byteOffset;
    }
    this.staged[slot] = 0;
    this.setBases(slot, this.inPlaceOffset[slot]);
  }

  private bindStaging(slot: number, stagingIndex: number): void {
    this.staged[slot] = 1;
    this.setBases(slot, this.staging[stagingIndex].byteOffset);
  }

  /** Points the 8 packets of `slot` at the shard at byte `offset`, unless they already are. */
  private setBases(slot: number, offset: number): void {
    if (this.slotOffset[slot] === offset) return;
    this.slotOffset[slot] = offset;
    // Locals, not the imported packetsPerShard: imported bindings read in a
    // hot loop measured several times slower here.
    const bases = this.xor.bases;
    const packetBytes = this.packetBytes;
    const first = 8 * slot;
    for (let c = 0; c < 8; c++) bases[first + c] = offset + c * packetBytes;
  }

  private unstage(slot: number, view: Uint8Array): void {
    if (this.staged[slot]) view.set(this.staging[slot]);
  }
}

export function createErasureCode(options: ErasureCodeOptions): ErasureCode {
  return new ErasureCode(options);
}
