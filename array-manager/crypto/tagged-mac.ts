// The one MAC construction of the array: HMAC-SHA-256 (RFC 2104), truncated to
// its first 16 bytes (RFC 2104 §5), over
//
//     label (16 ASCII bytes) || index (u64 big-endian) || nonce (12) || body
//
// Every field but the body has a fixed length, so the encoding is injective.
// HMAC and not Poly1305 because HMAC commits to its key: a tag that verifies
// under one key cannot be made to verify under another (seeds/004; see
// docs/CRYPTO.md). The label separates uses on top of the per-purpose keys.
//
// Trusts: nothing about its inputs except the lengths checked by its callers.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ivBytes, macBytes } from './crypto-constants.ts';

export const macLabelBytes = 16;
const headerBytes = macLabelBytes + 8 + ivBytes;

/** A MAC domain label: exactly macLabelBytes of ASCII. */
export function macLabel(text: string): Buffer {
  const label = Buffer.from(text, 'ascii');
  assert.equal(label.length, macLabelBytes, `MAC label "${text}" must be ${macLabelBytes} bytes`);
  return label;
}

// Scratch for the fixed-length header. Safe to reuse: HMAC update() consumes
// its input before returning, and each worker thread has its own copy.
const header = Buffer.alloc(headerBytes);

function fullTag(key: Uint8Array, label: Buffer, index: number, nonce: Uint8Array, body: Uint8Array): Buffer {
  label.copy(header, 0);
  // u64 big-endian from a safe integer (< 2^53): high and low 32-bit halves.
  header.writeUInt32BE(Math.floor(index / 0x1_0000_0000), macLabelBytes);
  header.writeUInt32BE(index >>> 0, macLabelBytes + 4);
  header.set(nonce.subarray(0, ivBytes), macLabelBytes + 8);
  return createHmac('sha256', key).update(header).update(body).digest();
}

/** Writes the 16-byte tag to out[offset .. offset + 16). */
export function computeTag(
  key: Uint8Array,
  label: Buffer,
  index: number,
  nonce: Uint8Array,
  body: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  fullTag(key, label, index, nonce, body).copy(out, offset, 0, macBytes);
}

/** True when `tag` (16 bytes) is the tag of the inputs; compares in constant time. */
export function verifyTag(
  key: Uint8Array,
  label: Buffer,
  index: number,
  nonce: Uint8Array,
  body: Uint8Array,
  tag: Uint8Array,
): boolean {
  assert.equal(tag.length, macBytes);
  return timingSafeEqual(fullTag(key, label, index, nonce, body).subarray(0, macBytes), tag);
}
