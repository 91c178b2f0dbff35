// A bounds-checked cursor for the attestation decoders: every read names the
// field it is for, so a short or over-long input is refused with
// E_ATT_FORMAT and a message that says where it went wrong.
import { AttestationError } from './errors.ts';

export class ByteReader {
  private offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  /** The next `length` bytes (a copy, so decoded values do not alias the input). */
  take(length: number, field: string): Uint8Array {
    if (this.bytes.length - this.offset < length) {
      throw new AttestationError('E_ATT_FORMAT', `${this.what} truncated in ${field} at byte ${this.offset}`);
    }
    const out = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u8(field: string): number {
    return this.take(1, field)[0];
  }

  u32(field: string): number {
    const b = this.take(4, field);
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  }

  /** Reads and checks a format's magic bytes and version byte. */
  header(magic: Uint8Array, version: number): void {
    const got = this.take(magic.length, 'magic');
    if (!got.every((b, i) => b === magic[i])) throw new AttestationError('E_ATT_FORMAT', `${this.what} magic is wrong`);
    const gotVersion = this.u8('version');
    if (gotVersion !== version) {
      throw new AttestationError('E_ATT_FORMAT', `${this.what} version ${gotVersion} is not ${version}`);
    }
  }

  /** Refuses trailing bytes: every format here has exactly one encoding. */
  end(): void {
    if (this.offset !== this.bytes.length) {
      throw new AttestationError('E_ATT_FORMAT', `${this.what} has ${this.bytes.length - this.offset} trailing bytes`);
    }
  }
}
