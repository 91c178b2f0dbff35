// Reusable buffers for WRITE payloads that arrive split over several socket
// chunks and must be gathered into one piece. Allocating a fresh megabyte per
// request costs page faults and zero-filling on every write; a buffer handed
// back after the device call resolved is reused instead.
//
// Buffers come in power-of-two sizes from payloadPoolBytesMin up; at most
// pooledBytesMax bytes wait in the pool, the rest is left to the collector.
// Trusts: callers release only buffers they got from allocate(), once, after
// the device no longer holds them (the BlockDevice contract says a device
// copies what it keeps beyond its promise).

const payloadPoolBytesMin = 64 * 1024;

export class PayloadPool {
  private readonly free = new Map<number, Uint8Array[]>();
  private pooledBytes = 0;

  constructor(private readonly pooledBytesMax: number) {}

  /** A buffer of exactly `length` bytes (a view into a pooled power-of-two buffer). Contents are stale. */
  allocate(length: number): Uint8Array {
    const size = Math.max(payloadPoolBytesMin, 2 ** Math.ceil(Math.log2(length)));
    const reused = this.free.get(size)?.pop();
    if (reused) {
      this.pooledBytes -= size;
      return reused.subarray(0, length);
    }
    // allocUnsafeSlow: not zero-filled (every byte is overwritten) and not carved from Node's shared slab.
    return Buffer.allocUnsafeSlow(size).subarray(0, length);
  }

  /** Returns a buffer from allocate() for reuse. */
  release(view: Uint8Array): void {
    const size = view.buffer.byteLength;
    if (this.pooledBytes + size > this.pooledBytesMax) return;
    const list = this.free.get(size) ?? [];
    list.push(new Uint8Array(view.buffer, 0, size));
    this.free.set(size, list);
    this.pooledBytes += size;
  }
}
