// The node's RAM: S sectors held in fixed chunks allocated (and written, so
// every page is really committed) at start, plus the death record. The
// store knows nothing of arrays, keys or sessions; callers check ranges first.
import { chunkSectors, sectorBytesMax, sectorBytesMin, sectorCountMax } from './limits.ts';

export class StoreError extends Error { readonly code = 'E_STORE_ALLOC'; }

export class SectorStore {
  readonly chunks: Buffer[] = [];
  deathVersion = 0n;
  deathRecord: Buffer = Buffer.alloc(0);

  constructor(
    readonly sectorBytes: number,
    readonly sectorCount: number,
  ) {
    const pow2 = (sectorBytes & (sectorBytes - 1)) === 0;
    if (!Number.isInteger(sectorBytes) || !pow2 || sectorBytes < sectorBytesMin || sectorBytes > sectorBytesMax) {
      throw new StoreError(`sector size ${sectorBytes} is not a power of two in [${sectorBytesMin}, ${sectorBytesMax}]`);
    }
    if (!Number.isInteger(sectorCount) || sectorCount < 1 || sectorCount > sectorCountMax) {
      throw new StoreError(`sector count ${sectorCount} is not in [1, ${sectorCountMax}]`);
    }
    for (let first = 0; first < sectorCount; first += chunkSectors) {
      const sectors = Math.min(chunkSectors, sectorCount - first);
      try {
        // Writing every byte makes the OS commit the pages now: a node given more memory than its host fails here, not later.
        this.chunks.push(Buffer.allocUnsafeSlow(sectors * sectorBytes).fill(0));
      } catch (err) {
        this.chunks.length = 0;
        throw new StoreError(`cannot allocate ${sectorCount * sectorBytes} bytes of sector memory: ${(err as Error).message}`);
      }
    }
  }

  /** True when [sector, sector+count) is a non-empty range inside the store. */
  inRange(sector: number, count: number): boolean {
    return count >= 1 && sector + count <= this.sectorCount;
  }

  /** Views (no copy) of the bytes of [sector, sector+count), one per chunk touched. */
  view(sector: number, count: number): Buffer[] {
    const parts: Buffer[] = [];
    while (count > 0) {
      const chunk = Math.floor(sector / chunkSectors);
      const first = sector - chunk * chunkSectors;
      const n = Math.min(count, chunkSectors - first);
      parts.push(this.chunks[chunk].subarray(first * this.sectorBytes, (first + n) * this.sectorBytes));
      sector += n;
      count -= n;
    }
    return parts;
  }

  write(sector: number, data: Uint8Array): void {
    let at = 0;
    for (const part of this.view(sector, data.length / this.sectorBytes)) {
      part.set(data.subarray(at, at + part.length));
      at += part.length;
    }
  }

  /** Copies sector by sector in the direction that keeps overlapping ranges correct (memmove). */
  copy(src: number, dst: number, count: number): void {
    const forward = dst <= src;
    for (let i = 0; i < count; i++) {
      const j = forward ? i : count - 1 - i;
      this.view(dst + j, 1)[0].set(this.view(src + j, 1)[0]);
    }
  }

  /** Overwrites the memory with zeros: trimmed data is gone, not just unmapped. */
  trim(sector: number, count: number): void {
    for (const part of this.view(sector, count)) part.fill(0);
  }

  /** The caller has checked that the version is above the current one and the record within deathRecordBytesMax. */
  updateDeathRecord(version: bigint, record: Uint8Array): void {
    this.deathVersion = version;
    this.deathRecord = Buffer.from(record);
  }
}
