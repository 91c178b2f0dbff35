// A bounds-checked reader and a growing writer for the vault's big-endian
// records. A read past the end is a format error naming the field, never a
// RangeError from a typed array. (attestation/byte-reader.ts is the same idea
// for the attestation formats, with their error codes; the vault, a component
// of its own, keeps its codes and needs u64 epochs, names and padded records.)
import { VaultError } from './vault-errors.ts';

export class ByteReader {
  private at = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  bytesOf(field: string, length: number): Uint8Array {
    if (this.at + length > this.bytes.length) throw new VaultError('E_VAULT_FORMAT', `${this.what}: ${field} runs past the end`);
    const out = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  u8(field: string): number {
    return this.bytesOf(field, 1)[0];
  }

  u16(field: string): number {
    const b = this.bytesOf(field, 2);
    return (b[0] << 8) | b[1];
  }

  /** A u64 that must be a safe integer (epochs and generations never get near 2^53). */
  u64(field: string): number {
    const b = this.bytesOf(field, 8);
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new VaultError('E_VAULT_FORMAT', `${this.what}: ${field} ${v} is too large`);
    return Number(v);
  }

  /** A u8 length, then that many ASCII bytes. */
  name(field: string): string {
    return new TextDecoder().decode(this.bytesOf(field, this.u8(`${field} length`)));
  }

  magic(expected: string): void {
    const got = new TextDecoder().decode(this.bytesOf('magic', expected.length));
    if (got !== expected) throw new VaultError('E_VAULT_FORMAT', `${this.what}: magic is not ${expected}`);
  }

  /** Bytes not read yet. */
  rest(): number {
    return this.bytes.length - this.at;
  }

  /** Everything after the record must be zero padding. */
  end(): void {
    if (!isZero(this.bytes.subarray(this.at))) throw new VaultError('E_VAULT_FORMAT', `${this.what}: non-zero bytes after the record`);
  }
}

export class ByteWriter {
  private readonly parts: Uint8Array[] = [];

  bytes(b: Uint8Array): this {
    this.parts.push(Uint8Array.from(b));
    return this;
  }

  u8(v: number): this {
    return this.bytes(Uint8Array.of(v));
  }

  u16(v: number): this {
    return this.bytes(Uint8Array.of(v >>> 8, v & 0xff));
  }

  u64(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v));
    return this.bytes(b);
  }

  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u8(b.length).bytes(b);
  }

  ascii(s: string): this {
    return this.bytes(new TextEncoder().encode(s));
  }

  /** The record, zero-padded to `length` bytes when given. */
  finish(length?: number): Uint8Array {
    const total = this.parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(length ?? total);
    if (total > out.length) throw new VaultError('E_VAULT_ARG', `record of ${total} bytes exceeds its ${out.length}-byte room`);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
      // The parts are this writer's own copies, some of a share: nothing of them outlives the record.
      p.fill(0);
    }
    return out;
  }
}

/** True when every byte is zero (a plain loop: records are checked on every read). */
export function isZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i];
  return acc === 0;
}
