// The floor: CPU per MiB of the work an array request cannot avoid, timed
// with the project's own primitives, so a benchmark can set the manager's
// measured CPU against it in the same run (issue 14).
//
// A write of S sectors: seal the S sectors (sealSectors, ChaCha20 +
// HMAC-SHA-256 per sector, sector-crypto.ts); compute the parity of each row
// it touches, in the code's own arena so nothing is copied: a full row by
// encode(), a row it rewrites in part by updateParity() per sector (the
// cheapest parity update the code has); one SHA-256 pass (payloadDigest, the
// journal's digest) over every shard sent: the data and the parity.
// A read of S sectors: open them (openSectors: verify every MAC, then
// decrypt) and one SHA-256 pass over the bytes received (wire.ts sha256, the
// reply's digest).
//
// Not counted, on purpose: table sectors (an entry per sector, a self-MAC per
// 145 entries, their rows' parity), journal headers and commit records,
// frames, the per-batch MACs and per-session signatures and attestations,
// copies, and anything a node does. For 1 MiB requests these are small or
// avoidable by design; for 4 KiB requests the per-batch costs dominate and
// are not in this floor, so the ratio there says how far small I/O is from
// its bytes' cost, not from the design's.
//
// CPU is this process's (process.cpuUsage via cpu-meter.ts, all threads:
// Node 20 has no per-thread figure), the median of a few rounds filling
// `seconds` of wall time; nothing else may run in the process meanwhile.
import { randomFillSync } from 'node:crypto';
import { entryBytes, sectorBytes } from '../array-manager/crypto/crypto-constants.ts';
import type { SectorKeys } from '../array-manager/crypto/key-set.ts';
import { openSectors, sealSectors } from '../array-manager/crypto/sector-crypto.ts';
import { createErasureCode, type ErasureCode } from '../array-manager/erasure/erasure-code.ts';
import { payloadDigest } from '../journal/journal-record.ts';
import { sha256 } from '../disk-node/wire.ts';
import { startCpuMeter } from './cpu-meter.ts';
import { median, secondsSince } from './report.ts';

const mib = 1 << 20;

/** One request's worth of buffers for a write of `sectors` sectors in a k+m array. */
interface WritePlan {
  sectors: number;
  /** Full rows: k data shards sealed in place, then encoded in place. */
  stripes: { data: Uint8Array; whole: Uint8Array; shards: Uint8Array[]; indices: number[]; plain: Uint8Array; entries: Uint8Array }[];
  /** The sectors of a partly rewritten row, if any: sealed to `fresh`, parity updated from the old shard. */
  partial?: { stripe: Uint8Array[]; indices: number[]; plain: Uint8Array; fresh: Uint8Array; entries: Uint8Array };
}

interface ReadPlan {
  indices: number[];
  sealed: Uint8Array;
  entries: Uint8Array;
  out: Uint8Array;
}

export class Floor {
  private readonly code: ErasureCode;
  /** The arena's stripes, shared by every request size (their contents do not matter, only the work). */
  private readonly arena: Uint8Array[][];
  private readonly writes = new Map<number, WritePlan>();
  private readonly reads = new Map<number, ReadPlan>();

  constructor(
    private readonly keys: SectorKeys,
    readonly k: number,
    readonly m: number,
    /** Largest request, in sectors: the arena holds its rows. */
    sectorsMax = 256,
  ) {
    const stripes = Math.ceil(sectorsMax / k) + 1;
    this.code = createErasureCode({ k, m, shardBytes: sectorBytes, arenaStripes: stripes });
    this.arena = Array.from({ length: stripes }, () => this.code.allocStripe().map((shard) => randomFillSync(shard)));
  }

  private writePlan(sectors: number): WritePlan {
    const known = this.writes.get(sectors);
    if (known) return known;
    const { k, m } = this;
    if (Math.ceil(sectors / k) > this.arena.length) throw new Error(`floor: ${sectors} sectors is more than this Floor was made for`);
    const plan: WritePlan = { sectors, stripes: [] };
    let index = 1_000_000;
    for (let r = 0; r < Math.floor(sectors / k); r++) {
      const shards = this.arena[r];
      const base = shards[0];
      const indices = Array.from({ length: k }, () => index++);
      plan.stripes.push({
        shards,
        data: new Uint8Array(base.buffer, base.byteOffset, k * sectorBytes),
        whole: new Uint8Array(base.buffer, base.byteOffset, (k + m) * sectorBytes),
        indices,
        plain: randomFillSync(Buffer.alloc(k * sectorBytes)),
        entries: Buffer.alloc(k * entryBytes),
      });
    }
    const rest = sectors % k;
    if (rest) {
      const stripe = this.arena[plan.stripes.length];
      plan.partial = {
        stripe,
        indices: Array.from({ length: rest }, () => index++),
        plain: randomFillSync(Buffer.alloc(rest * sectorBytes)),
        fresh: Buffer.alloc(rest * sectorBytes),
        entries: Buffer.alloc(rest * entryBytes),
      };
    }
    this.writes.set(sectors, plan);
    return plan;
  }

  private readPlan(sectors: number): ReadPlan {
    const known = this.reads.get(sectors);
    if (known) return known;
    const indices = Array.from({ length: sectors }, (_, i) => 2_000_000 + i);
    const sealed = Buffer.alloc(sectors * sectorBytes);
    const entries = Buffer.alloc(sectors * entryBytes);
    sealSectors(this.keys, indices, randomFillSync(Buffer.alloc(sectors * sectorBytes)), sealed, entries);
    const plan = { indices, sealed, entries, out: Buffer.alloc(sectors * sectorBytes) };
    this.reads.set(sectors, plan);
    return plan;
  }

  /** One write of plan.sectors sectors: seal, parity, one hash pass over data and parity. */
  private write(plan: WritePlan): Buffer {
    const { k, m, code, keys } = this;
    const pieces: Uint8Array[] = [];
    for (const s of plan.stripes) {
      sealSectors(keys, s.indices, s.plain, s.data, s.entries);
      code.encode(s.shards.slice(0, k), s.shards.slice(k));
      pieces.push(s.whole);
    }
    const p = plan.partial;
    if (p) {
      sealSectors(keys, p.indices, p.plain, p.fresh, p.entries);
      const parity = p.stripe.slice(k);
      for (let i = 0; i < p.indices.length; i++) {
        const fresh = p.fresh.subarray(i * sectorBytes, (i + 1) * sectorBytes);
        code.updateParity(parity, i, p.stripe[i], fresh);
        pieces.push(fresh);
      }
      pieces.push(...parity);
    }
    return payloadDigest(pieces);
  }

  /** One read: open (verify, decrypt) every sector, one hash pass over what was received. */
  private read(plan: ReadPlan): Buffer {
    openSectors(this.keys, plan.indices, plan.sealed, plan.entries, plan.out);
    return sha256(plan.sealed);
  }

  /**
   * CPU ms per MiB of requests of `sectors` sectors: the median of `rounds`
   * rounds of `seconds` / `rounds` each, so that a burst of another thread of
   * this process (the garbage collector finishing after the job before) moves
   * one round, not the figure.
   */
  cpuMsPerMiB(kind: 'write' | 'read', sectors: number, seconds: number, rounds = 5): number {
    const run = kind === 'write' ? ((plan) => () => this.write(plan))(this.writePlan(sectors)) : ((plan) => () => this.read(plan))(this.readPlan(sectors));
    run(); // warm: plans, decode programs, JIT
    const figures: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const cpu = startCpuMeter([]);
      const start = process.hrtime.bigint();
      let done = 0;
      do {
        run();
        done++;
      } while (secondsSince(start) < seconds / rounds);
      figures.push(cpu().selfMs / ((done * sectors * sectorBytes) / mib));
    }
    return median(figures);
  }
}
