// The contract between the NBD export and whatever stores the bytes: the
// array's virtual disk, or the in-memory device used by tests and benchmarks.
//
// The server guarantees every call it makes is within the device and aligned
// to `blockBytes` (it refuses other requests on the wire with EINVAL/ENOSPC),
// and that write/trim/writeZeroes lengths are at least 1 block. It may issue
// many calls at once, overlapping ones included; the device orders them.
// Devices still check their arguments (BlockDeviceError E_DEVICE_RANGE) since
// other callers exist.
//
// Durability words: a call is *acknowledged* when its promise resolves.
// `flush()` makes every write, trim and writeZeroes acknowledged before
// flush() was called durable; `fua` on write makes that one write durable
// before it resolves. What "durable" means is the device's business (for the
// array: journalled on enough disk nodes to survive the stated faults).

/** Errors a device reports; the NBD server maps `code` to an NBD error value. */
export class BlockDeviceError extends Error {
  readonly code: 'E_DEVICE_RANGE' | 'E_DEVICE_IO' | 'E_DEVICE_NO_SPACE' | 'E_DEVICE_READ_ONLY' | 'E_DEVICE_SHUTDOWN';
  constructor(code: BlockDeviceError['code'], message: string) {
    super(message);
    this.name = 'BlockDeviceError';
    this.code = code;
  }
}

export interface BlockDevice {
  /** Size of the device in bytes; a multiple of blockBytes, at most Number.MAX_SAFE_INTEGER. */
  readonly sizeBytes: number;
  /** Minimum and preferred I/O size: a power of two from 1 to 65536 (4096 for the array). */
  readonly blockBytes: number;
  /** Size at which aligned I/O is efficient, if larger than blockBytes (a power of two). */
  readonly preferredBlockBytes?: number;
  /** True only if flush on one connection covers writes acknowledged on another (one shared cache or none). */
  readonly supportsMultiConn: boolean;
  /** True if writeZeroes is cheaper than writing the same zeroes (advertised as NBD fast zero). */
  readonly fastZeroes?: boolean;
  /** True if the device refuses every change. */
  readonly readOnly?: boolean;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** `data` may be a view into a network buffer: copy it if it is kept after the promise resolves. */
  write(offset: number, data: Uint8Array, fua: boolean): Promise<void>;
  flush(): Promise<void>;
  /** A hint: the range's contents are unspecified until written again. */
  trim(offset: number, length: number): Promise<void>;
  /** The range reads as zeroes afterwards; with noHole the space stays allocated. */
  writeZeroes(offset: number, length: number, opts: { noHole: boolean }): Promise<void>;
}

/** Checks a range against a device's size and alignment; throws E_DEVICE_RANGE naming the field. */
export function checkDeviceRange(device: Pick<BlockDevice, 'sizeBytes' | 'blockBytes'>, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % device.blockBytes !== 0) {
    throw new BlockDeviceError('E_DEVICE_RANGE', `offset ${offset} is not a block-aligned position`);
  }
  if (!Number.isSafeInteger(length) || length < 0 || length % device.blockBytes !== 0) {
    throw new BlockDeviceError('E_DEVICE_RANGE', `length ${length} is not a whole number of blocks`);
  }
  if (offset + length > device.sizeBytes) {
    throw new BlockDeviceError('E_DEVICE_RANGE', `offset ${offset} + length ${length} exceeds size ${device.sizeBytes}`);
  }
}

/** Largest minimum block size NBD allows ("Block size constraints": MUST NOT be larger than 2^16). */
export const deviceBlockBytesMax = 65536;

/** Throws a plain Error (a configuration mistake, not peer input) if a device's geometry is unusable. */
export function assertDeviceGeometry(device: BlockDevice, what: string): void {
  const { blockBytes, sizeBytes } = device;
  if (!Number.isInteger(blockBytes) || blockBytes < 1 || blockBytes > deviceBlockBytesMax || (blockBytes & (blockBytes - 1)) !== 0) {
    throw new Error(`${what}: blockBytes ${blockBytes} is not a power of two in 1..${deviceBlockBytesMax}`);
  }
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0 || sizeBytes % blockBytes !== 0) {
    throw new Error(`${what}: sizeBytes ${sizeBytes} is not a whole number of ${blockBytes}-byte blocks`);
  }
}
