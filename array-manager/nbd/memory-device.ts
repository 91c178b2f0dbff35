// An in-memory BlockDevice: the reference device for the NBD server's tests
// and the device under test of bench/nbd.ts.
//
// Two modes. Write-through (default): every acknowledged write is in the one
// store, flush does nothing, and the device is "durable" by definition.
// Write-back (`writeBack: true`): writes without FUA land in a volatile cache
// of whole blocks that `flush()` moves to the durable store and `crash()`
// throws away, so tests can check that the server only acknowledges FLUSH and
// FUA after the data is durable. The cache is shared by every caller, so
// multi-connection use is safe in both modes.
//
// Trusts: nothing about its arguments (checked against size and alignment).
// Does not handle: sizes above memoryDeviceBytesMax; trim is implemented as
// zeroing, which the NBD TRIM contract allows.

import { BlockDeviceError, checkDeviceRange, assertDeviceGeometry, type BlockDevice } from './block-device.ts';

/** The largest device this keeps in one typed array (Node 20 limit on ArrayBuffer length). */
export const memoryDeviceBytesMax = 4 * 1024 ** 3;

export interface MemoryDeviceOptions {
  sizeBytes: number;
  /** Default 4096, like the array. */
  blockBytes?: number;
  /** Keep unflushed, non-FUA writes in a volatile cache (see header). */
  writeBack?: boolean;
  readOnly?: boolean;
}

export class MemoryDevice implements BlockDevice {
  readonly sizeBytes: number;
  readonly blockBytes: number;
  readonly supportsMultiConn = true;
  readonly fastZeroes = true;
  readonly readOnly: boolean;
  private readonly durable: Uint8Array;
  /** Write-back cache: block index -> block contents not yet durable. Null when write-through. */
  private readonly cache: Map<number, Uint8Array> | null;

  constructor(opts: MemoryDeviceOptions) {
    this.sizeBytes = opts.sizeBytes;
    this.blockBytes = opts.blockBytes ?? 4096;
    this.readOnly = opts.readOnly ?? false;
    assertDeviceGeometry(this, 'MemoryDevice');
    if (this.sizeBytes > memoryDeviceBytesMax) {
      throw new Error(`MemoryDevice: sizeBytes ${this.sizeBytes} exceeds ${memoryDeviceBytesMax}`);
    }
    // A zero-filled typed array is backed by pages the OS maps on first touch.
    this.durable = new Uint8Array(this.sizeBytes);
    this.cache = opts.writeBack ? new Map() : null;
  }

  /** Blocks written but not yet durable (always 0 in write-through mode). */
  get dirtyBlocks(): number {
    return this.cache?.size ?? 0;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkDeviceRange(this, offset, length);
    // A copy: the caller sends it later, and later writes must not change it.
    const out = this.durable.slice(offset, offset + length);
    if (this.cache && this.cache.size > 0) {
      for (let at = offset; at < offset + length; at += this.blockBytes) {
        const cached = this.cache.get(at / this.blockBytes);
        if (cached) out.set(cached, at - offset);
      }
    }
    return out;
  }

  async write(offset: number, data: Uint8Array, fua: boolean): Promise<void> {
    this.checkWritable();
    checkDeviceRange(this, offset, data.byteLength);
    if (!this.cache || fua) {
      this.durable.set(data, offset);
      this.forget(offset, data.byteLength);
      return;
    }
    for (let at = 0; at < data.byteLength; at += this.blockBytes) {
      this.cache.set((offset + at) / this.blockBytes, data.slice(at, at + this.blockBytes));
    }
  }

  async flush(): Promise<void> {
    if (!this.cache) return;
    for (const [block, contents] of this.cache) this.durable.set(contents, block * this.blockBytes);
    this.cache.clear();
  }

  async trim(offset: number, length: number): Promise<void> {
    await this.writeZeroes(offset, length, { noHole: false });
  }

  async writeZeroes(offset: number, length: number, _opts: { noHole: boolean }): Promise<void> {
    this.checkWritable();
    checkDeviceRange(this, offset, length);
    // Zeroing goes straight to the durable store, which is allowed: making
    // data durable early never breaks a flush contract.
    this.durable.fill(0, offset, offset + length);
    this.forget(offset, length);
  }

  /** Test hook: loses everything not yet durable, as a power cut would. */
  crash(): void {
    this.cache?.clear();
  }

  private forget(offset: number, length: number): void {
    if (!this.cache || this.cache.size === 0) return;
    for (let at = offset; at < offset + length; at += this.blockBytes) this.cache.delete(at / this.blockBytes);
  }

  private checkWritable(): void {
    if (this.readOnly) throw new BlockDeviceError('E_DEVICE_READ_ONLY', 'MemoryDevice: device is read-only');
  }
}
