// A FIFO of received socket chunks that hands out exact-length messages.
//
// take(n) returns a view into the chunk when the message lies inside one (no
// copy), and copies only when a message spans chunks. The queue holds what the
// caller pushed; the caller bounds that (the NBD connection stops reading when
// its limits are reached).

import assert from 'node:assert/strict';

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Index of the first unread chunk in `chunks`, and the read position inside it. */
  private head = 0;
  private headOffset = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.byteLength;
  }

  /** The first n bytes without consuming them (a copy only if they span chunks). */
  peek(n: number): Uint8Array {
    assert(n <= this.total, 'peek beyond queued bytes');
    const first = this.chunks[this.head];
    if (first && first.byteLength - this.headOffset >= n) return first.subarray(this.headOffset, this.headOffset + n);
    return this.gather(new Uint8Array(n), false);
  }

  /**
   * Consumes n bytes: a view into a chunk if they lie in one, else a copy
   * into `allocate(n)` (which must return exactly n bytes).
   */
  take(n: number, allocate: (n: number) => Uint8Array = (k) => new Uint8Array(k)): Uint8Array {
    assert(n <= this.total, 'take beyond queued bytes');
    const first = this.chunks[this.head];
    if (first && first.byteLength - this.headOffset >= n) {
      const out = first.subarray(this.headOffset, this.headOffset + n);
      this.advance(n);
      return out;
    }
    return this.gather(allocate(n), true);
  }

  /** Drops n bytes. */
  skip(n: number): void {
    assert(n <= this.total, 'skip beyond queued bytes');
    this.advance(n);
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.headOffset = 0;
    this.total = 0;
  }

  private gather(out: Uint8Array, consume: boolean): Uint8Array {
    const n = out.byteLength;
    let filled = 0;
    let index = this.head;
    let offset = this.headOffset;
    while (filled < n) {
      const chunk = this.chunks[index];
      const count = Math.min(n - filled, chunk.byteLength - offset);
      out.set(chunk.subarray(offset, offset + count), filled);
      filled += count;
      index++;
      offset = 0;
    }
    if (consume) this.advance(n);
    return out;
  }

  private advance(n: number): void {
    this.total -= n;
    while (n > 0) {
      const available = this.chunks[this.head].byteLength - this.headOffset;
      if (n < available) {
        this.headOffset += n;
        return;
      }
      n -= available;
      this.head++;
      this.headOffset = 0;
    }
    // Compact once the consumed prefix is large, so the array does not grow forever.
    if (this.head > 64 || this.head === this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
