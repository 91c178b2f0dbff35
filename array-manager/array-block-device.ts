// The array's virtual disk as an NBD block device. Every write the array
// acknowledges is already journalled, committed and applied on the nodes, so
// FUA needs nothing extra, a flush only waits for writes queued before it,
// and a flush on one connection covers writes acknowledged on any other:
// multi-conn is honest.
import { BlockDeviceError, checkDeviceRange, type BlockDevice } from './nbd/block-device.ts';
import type { VirtualDisk } from './virtual-disk.ts';

/** Most bytes in one request the export passes to the array (the NBD layer bounds requests too). */
const requestBytesMax = 32 * 1024 * 1024;

function deviceError(err: unknown): never {
  const code = (err as { code?: string }).code;
  if (code === 'E_RANGE') throw new BlockDeviceError('E_DEVICE_RANGE', (err as Error).message);
  if (code === 'E_CLOSED') throw new BlockDeviceError('E_DEVICE_SHUTDOWN', (err as Error).message);
  throw new BlockDeviceError('E_DEVICE_IO', (err as Error).message);
}

export class ArrayBlockDevice implements BlockDevice {
  readonly sizeBytes: number;
  readonly blockBytes: number;
  readonly preferredBlockBytes: number;
  readonly supportsMultiConn = true;
  readonly fastZeroes = true;

  constructor(private readonly disk: VirtualDisk) {
    this.sizeBytes = disk.sizeBytes;
    this.blockBytes = disk.blockBytes;
    // A full stripe of data: writes of this size need no read of the old row.
    this.preferredBlockBytes = 2 ** Math.ceil(Math.log2(disk.blockBytes * disk.state.geometry.k));
  }

  private check(offset: number, length: number): void {
    checkDeviceRange(this, offset, length);
    if (length > requestBytesMax) throw new BlockDeviceError('E_DEVICE_RANGE', `request of ${length} bytes exceeds ${requestBytesMax}`);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.check(offset, length);
    if (length === 0) return new Uint8Array(0);
    return this.disk.readSectors(offset / this.blockBytes, length / this.blockBytes).catch(deviceError);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.check(offset, data.length);
    if (data.length === 0) return;
    // The array seals the sectors before the promise resolves, so a view of the network buffer is safe to pass.
    await this.disk.writeSectors(offset / this.blockBytes, data).catch(deviceError);
  }

  async flush(): Promise<void> {
    await this.disk.flush().catch(deviceError);
  }

  async trim(offset: number, length: number): Promise<void> {
    return this.writeZeroes(offset, length);
  }

  /**
   * Trimmed sectors read as zeros (blank table entry) and their old
   * ciphertext is overwritten. A trim carries no payload, so NBD allows it to
   * span the whole disk: it is cut into pieces of requestBytesMax, one after
   * another, so memory stays bounded.
   */
  async writeZeroes(offset: number, length: number): Promise<void> {
    checkDeviceRange(this, offset, length);
    for (let at = offset; at < offset + length; at += requestBytesMax) {
      const bytes = Math.min(requestBytesMax, offset + length - at);
      await this.disk.trimSectors(at / this.blockBytes, bytes / this.blockBytes).catch(deviceError);
    }
  }
}
