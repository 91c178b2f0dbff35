// HMAC-SHA-256 helpers shared by the manager's metadata records (membership,
// journal header, commit record): each record ends in a full 32-byte tag
// over everything before it, under a key derived for that record's purpose.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const recordTagBytes = 32;

export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Writes the tag over record[0 .. end-32) into its last 32 bytes. */
export function tagRecord(key: Uint8Array, record: Buffer): Buffer {
  const end = record.length - recordTagBytes;
  hmac(key, record.subarray(0, end)).copy(record, end);
  return record;
}

/** True when the record's last 32 bytes are the tag over the rest (constant-time compare). */
export function recordTagValid(key: Uint8Array, record: Buffer): boolean {
  if (record.length <= recordTagBytes) return false;
  const end = record.length - recordTagBytes;
  return timingSafeEqual(hmac(key, record.subarray(0, end)), record.subarray(end));
}
