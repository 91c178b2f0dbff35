// Presents a block-aligned BlockDevice at byte granularity, so NBD clients
// that ignore block-size constraints (nbdfuse passes the kernel's unaligned
// FUSE requests straight through) still work on a 4096-byte-block array.
//
//   read         covering aligned range, then the requested slice
//   write        aligned: passed through; unaligned: read the covering aligned
//                range, patch it, write it back (read-modify-write, "RMW")
//   writeZeroes  aligned middle passed through; partial edge blocks by RMW
//   trim         shrunk to the aligned blocks inside the range (a trim is a
//                hint, and the protocol allows rounding it inwards)
//
// An RMW must not interleave with another write to the same blocks, or it
// would write back stale bytes over that write. Every write therefore
// registers its block range in arrival order: an RMW waits for every earlier
// overlapping write, and any write waits for an earlier overlapping RMW.
// Aligned writes never wait for each other, so the aligned path costs one set
// insertion. Reads take no part: they see each block before or after a write,
// as with any device.
//
// Trusts: the inner device for everything it stores; checks ranges itself.
// Does not handle: more concurrency than the callers bound (waiters queue).

import assert from 'node:assert/strict';
import { BlockDeviceError, type BlockDevice } from './block-device.ts';

interface WriteTicket {
  firstBlock: number;
  /** One past the last block. */
  endBlock: number;
  rmw: boolean;
  /** Resolves when the write may run; null if it could run at once. */
  ready: Promise<void> | null;
  start: (() => void) | null;
}

export class UnalignedDevice implements BlockDevice {
  readonly sizeBytes: number;
  readonly blockBytes = 1;
  /** Requests aligned to this size skip read-modify-write. */
  readonly preferredBlockBytes: number;
  readonly supportsMultiConn: boolean;
  readonly fastZeroes: boolean;
  readonly readOnly: boolean;
  private readonly block: number;
  /** Writes in progress or waiting, in arrival order (Set keeps insertion order). */
  private readonly tickets = new Set<WriteTicket>();
  private rmwCount = 0;
  private waiting = 0;

  constructor(private readonly inner: BlockDevice) {
    this.sizeBytes = inner.sizeBytes;
    this.block = inner.blockBytes;
    this.preferredBlockBytes = inner.preferredBlockBytes ?? inner.blockBytes;
    this.supportsMultiConn = inner.supportsMultiConn;
    this.fastZeroes = inner.fastZeroes ?? false;
    this.readOnly = inner.readOnly ?? false;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.check(offset, length);
    const start = this.alignDown(offset);
    const end = this.alignUp(offset + length);
    if (start === offset && end === offset + length) return this.inner.read(offset, length);
    const covering = await this.inner.read(start, end - start);
    return covering.subarray(offset - start, offset - start + length);
  }

  async write(offset: number, data: Uint8Array, fua: boolean): Promise<void> {
    this.check(offset, data.byteLength);
    if (data.byteLength === 0) return;
    const start = this.alignDown(offset);
    const end = this.alignUp(offset + data.byteLength);
    const rmw = start !== offset || end !== offset + data.byteLength;
    const ticket = this.register(start, end, rmw);
    if (ticket.ready) await ticket.ready;
    try {
      if (!rmw) {
        await this.inner.write(offset, data, fua);
      } else {
        const covering = await this.inner.read(start, end - start);
        covering.set(data, offset - start);
        await this.inner.write(start, covering, fua);
      }
    } finally {
      this.unregister(ticket);
    }
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  async trim(offset: number, length: number): Promise<void> {
    this.check(offset, length);
    const start = this.alignUp(offset);
    const end = this.alignDown(offset + length);
    if (end <= start) return;
    await this.locked(start, end, false, () => this.inner.trim(start, end - start));
  }

  async writeZeroes(offset: number, length: number, opts: { noHole: boolean }): Promise<void> {
    this.check(offset, length);
    if (length === 0) return;
    const innerStart = this.alignUp(offset);
    const innerEnd = this.alignDown(offset + length);
    if (innerEnd <= innerStart) {
      // Inside one or two blocks, no whole block: zero by RMW.
      await this.write(offset, new Uint8Array(length), false);
      return;
    }
    const parts: Promise<void>[] = [
      this.locked(innerStart, innerEnd, false, () => this.inner.writeZeroes(innerStart, innerEnd - innerStart, opts)),
    ];
    if (offset < innerStart) parts.push(this.write(offset, new Uint8Array(innerStart - offset), false));
    if (innerEnd < offset + length) parts.push(this.write(innerEnd, new Uint8Array(offset + length - innerEnd), false));
    await Promise.all(parts);
  }

  /** Runs `op` once no earlier conflicting write is registered over [start, end). */
  private async locked<T>(start: number, end: number, rmw: boolean, op: () => Promise<T>): Promise<T> {
    const ticket = this.register(start, end, rmw);
    if (ticket.ready) await ticket.ready;
    try {
      return await op();
    } finally {
      this.unregister(ticket);
    }
  }

  private register(start: number, end: number, rmw: boolean): WriteTicket {
    const ticket: WriteTicket = { firstBlock: start / this.block, endBlock: end / this.block, rmw, ready: null, start: null };
    this.tickets.add(ticket);
    if (rmw) this.rmwCount++;
    // Fast path: with no RMW registered an aligned write conflicts with nothing.
    if (rmw || this.rmwCount > 0) {
      ticket.ready = new Promise<void>((resolve) => (ticket.start = resolve));
      this.waiting++;
      this.startReady();
    }
    return ticket;
  }

  private unregister(ticket: WriteTicket): void {
    this.tickets.delete(ticket);
    if (ticket.rmw) this.rmwCount--;
    if (this.waiting > 0) this.startReady();
  }

  /** Starts every waiting write that no earlier registered write conflicts with. */
  private startReady(): void {
    const earlier: WriteTicket[] = [];
    for (const ticket of this.tickets) {
      if (ticket.start && !earlier.some((e) => conflicts(e, ticket))) {
        ticket.start();
        ticket.start = null;
        this.waiting--;
      }
      earlier.push(ticket);
    }
  }

  private check(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.sizeBytes) {
      throw new BlockDeviceError('E_DEVICE_RANGE', `offset ${offset} + length ${length} outside size ${this.sizeBytes}`);
    }
  }

  private alignDown(at: number): number {
    return at - (at % this.block);
  }

  private alignUp(at: number): number {
    const rest = at % this.block;
    const up = rest === 0 ? at : at + this.block - rest;
    assert(up <= this.sizeBytes, 'size is a whole number of blocks');
    return up;
  }
}

function conflicts(earlier: WriteTicket, later: WriteTicket): boolean {
  if (!earlier.rmw && !later.rmw) return false;
  return earlier.firstBlock < later.endBlock && later.firstBlock < earlier.endBlock;
}
