// Reuses the buffers of a session's large request frames. A journal entry
// sends each node a frame of a few hundred KiB; allocating each one afresh
// puts megabytes per request on V8's external memory, which makes it run a
// full mark-compact several times a second (docs/PERFORMANCE.md, "Frame
// buffers"). A frame's buffer is reusable once the node's reply to it has
// arrived: the node has read the whole frame by then, so neither a socket
// nor an in-process channel still reads it. Frames that get no reply (a
// session poisoned, a frame withheld by the network) are simply not given
// back.

/** Frames below this come from Node's shared small-buffer pool as before. */
export const pooledFrameBytesMin = 64 * 1024;

export class FramePool {
  private readonly spare: ArrayBuffer[] = [];
  private spareBytes = 0;

  /** `spareBytesMax`: most bytes kept for reuse; a buffer given back beyond it is left to the collector. */
  constructor(private readonly spareBytesMax: number) {}

  /** A buffer of `size` bytes: a view on a spare one when one is large enough and not more than twice that. */
  take(size: number): Buffer {
    if (size < pooledFrameBytesMin) return Buffer.allocUnsafe(size);
    const i = this.spare.findIndex((b) => b.byteLength >= size && b.byteLength <= 2 * size);
    if (i < 0) return Buffer.allocUnsafeSlow(size);
    const [buffer] = this.spare.splice(i, 1);
    this.spareBytes -= buffer.byteLength;
    return Buffer.from(buffer, 0, size);
  }

  /** Takes back a frame `take` returned, once nothing reads it any more. */
  give(frame: Buffer): void {
    if (frame.length < pooledFrameBytesMin || this.spareBytes + frame.buffer.byteLength > this.spareBytesMax) return;
    this.spare.push(frame.buffer as ArrayBuffer);
    this.spareBytes += frame.buffer.byteLength;
  }
}
