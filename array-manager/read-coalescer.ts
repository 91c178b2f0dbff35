// Coalesces concurrent reads of one node into one batch: every read asked of
// a slot in the same turn of the event loop goes out together, so sixteen
// concurrent 4 KiB reads cost one signature, one attestation and one round
// trip per node instead of sixteen. Batches stay within the frame bound.
//
// Reads that arrive one at a time (each finished read starting the next, as
// a client at a fixed queue depth does) would still go out one per batch, and
// a batch costs four Ed25519 operations between manager and node whatever
// its size. So each slot has at most inFlightMax batches out: reads asked
// while they are busy wait and leave together when one returns. An idle
// slot sends at once, so a lone read waits for nothing.
import type { ArrayState } from './array-state.ts';
import { ArrayError } from './array-state.ts';
import { sectorBytes } from './geometry.ts';
import { Op, type Command } from './node-client/frame-codec.ts';

/** Most sectors asked of one node in one batch (the reply must fit a frame). */
const batchSectorsMax = 960;
/** Batches out to one slot at once: two keep the node busy while the next one gathers. */
const inFlightMax = 2;

interface ReadRequest {
  sectors: number[];
  resolve: (data: Buffer[]) => void;
  reject: (err: Error) => void;
}

export class ReadCoalescer {
  private readonly queued = new Map<number, ReadRequest[]>();
  private readonly inFlight = new Map<number, number>();
  private scheduled = false;

  constructor(private readonly state: ArrayState) {}

  /** Reads node sectors from one slot; returns one 4096-byte view per sector, in order. */
  read(slot: number, sectors: number[]): Promise<Buffer[]> {
    if (sectors.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      if (!this.queued.has(slot)) this.queued.set(slot, []);
      this.queued.get(slot)!.push({ sectors, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    for (const slot of [...this.queued.keys()]) this.send(slot);
  }

  /** Sends what waits for `slot`, unless it already has inFlightMax batches out. */
  private send(slot: number): void {
    const requests = this.queued.get(slot);
    if (!requests || (this.inFlight.get(slot) ?? 0) >= inFlightMax) return;
    this.queued.delete(slot);
    // Pack whole requests into batches of at most batchSectorsMax sectors (a larger request gets its own batches).
    let group: ReadRequest[] = [];
    let count = 0;
    for (const r of requests) {
      if (group.length && count + r.sectors.length > batchSectorsMax) {
        void this.run(slot, group);
        group = [];
        count = 0;
      }
      group.push(r);
      count += r.sectors.length;
    }
    if (group.length) void this.run(slot, group);
  }

  private async run(slot: number, group: ReadRequest[]): Promise<void> {
    this.inFlight.set(slot, (this.inFlight.get(slot) ?? 0) + 1);
    try {
      const data = await this.fetch(slot, group.flatMap((r) => r.sectors));
      let at = 0;
      for (const r of group) {
        r.resolve(data.slice(at, at + r.sectors.length));
        at += r.sectors.length;
      }
    } catch (err) {
      for (const r of group) r.reject(err as Error);
    } finally {
      this.inFlight.set(slot, this.inFlight.get(slot)! - 1);
      this.send(slot);
    }
  }

  private fetch(slot: number, sectors: number[]): Promise<Buffer[]> {
    // Not patient: a reader rebuilds from other shards rather than wait out a node's death window.
    return fetchSectors(this.state, slot, sectors, false);
  }
}

/**
 * Reads node sectors from one slot in batches whose replies fit a frame,
 * consecutive sectors merged into one READ; one 4096-byte view per sector.
 * `patient`: wait for a node in doubt (reconnecting) rather than fail at once.
 */
export async function fetchSectors(state: ArrayState, slot: number, sectors: number[], patient: boolean): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < sectors.length; i += batchSectorsMax) {
    const commands: Command[] = [];
    for (const s of sectors.slice(i, i + batchSectorsMax)) {
      const last = commands[commands.length - 1];
      if (last && last.op === Op.read && last.sector + last.count === s) last.count++;
      else commands.push({ op: Op.read, sector: s, count: 1 });
    }
    for (const r of await state.handles[slot].batch(commands, undefined, patient)) {
      if (r.op !== Op.read) throw new ArrayError('E_FRAME', 'READ answered with another result');
      state.counters.bytesReceivedFromNodes += r.data.length;
      for (let at = 0; at < r.data.length; at += sectorBytes) out.push(r.data.subarray(at, at + sectorBytes));
    }
  }
  return out;
}
