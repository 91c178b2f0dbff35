// An independent implementation of the sector-crypto formats (docs/CRYPTO.md)
// with @noble/ciphers and @noble/hashes only, written from the document and
// sharing no code with array-manager/crypto/. Tests and the vector generator
// (test/vectors/sector-crypto-format.gen.ts) check node:crypto against it.
import { chacha20 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

export const referenceLabels = {
  sectorEncryption: 'teearray v1 sector encryption',
  sectorMac: 'teearray v1 sector mac',
  tableMac: 'teearray v1 table mac',
  journalMac: 'teearray v1 journal mac',
  membershipMac: 'teearray v1 membership mac',
};
export type ReferenceKeys = Record<keyof typeof referenceLabels, Uint8Array>;

export function referenceKeys(dataKey: Uint8Array, arrayId: Uint8Array): ReferenceKeys {
  const entries = Object.entries(referenceLabels).map(([p, label]) => [p, hkdf(sha256, dataKey, arrayId, ascii(label), 32)]);
  return Object.fromEntries(entries) as ReferenceKeys;
}

function u64be(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/** HMAC-SHA-256 truncated to 16 bytes over label || u64be(index) || nonce || body. */
export function referenceTag(key: Uint8Array, label: string, index: number, nonce: Uint8Array, body: Uint8Array): Uint8Array {
  const msg = new Uint8Array([...ascii(label), ...u64be(index), ...nonce, ...body]);
  return hmac(sha256, key, msg).subarray(0, 16);
}

/** Seals one sector under a given IV: returns the ciphertext and the 28-byte entry. */
export function referenceSeal(
  keys: ReferenceKeys,
  index: number,
  iv: Uint8Array,
  plaintext: Uint8Array,
): { ciphertext: Uint8Array; entry: Uint8Array } {
  const ciphertext = chacha20(keys.sectorEncryption, iv, plaintext); // block counter 0
  const entry = new Uint8Array([...iv, ...referenceTag(keys.sectorMac, 'teearray:sect:v1', index, iv, ciphertext)]);
  return { ciphertext, entry };
}

/** Decrypts with ChaCha20 only (no MAC check): the reference for what openSector returns. */
export function referenceDecrypt(keys: ReferenceKeys, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return chacha20(keys.sectorEncryption, iv, ciphertext);
}

/** A table sector holding `entries` (145 * 28 bytes) at table index `tableIndex`, under `nonce`. */
export function referenceTable(keys: ReferenceKeys, tableIndex: number, entries: Uint8Array, nonce: Uint8Array): Uint8Array {
  const table = new Uint8Array(4096);
  table.set([0x54, 0x54, 0x42, 0x4c, 0x00, 0x01, 0x00, 0x00], 0); // "TTBL", version 1, reserved
  table.set(entries, 8);
  table.set(nonce, 4068);
  table.set(referenceTag(keys.tableMac, 'teearray:tabl:v1', tableIndex, nonce, table.subarray(0, 4068)), 4080);
  return table;
}
