// Seals and opens 4096-byte data sectors: ChaCha20 (RFC 8439 §2.4) under a
// fresh random 96-bit IV per write, then a 16-byte HMAC-SHA-256 tag over the
// sector's array index, the IV and the ciphertext (tagged-mac.ts):
// Encrypt-then-MAC, so open() authenticates before it decrypts anything.
//
// A sector's IV and tag form its 28-byte entry (IV || MAC), the unit stored
// in table sectors (table-sector.ts). An all-zero entry means "never written"
// and opens as a zero sector; sealing never produces one (iv-source.ts never
// returns a zero IV). Whether a zero entry can be trusted is the table
// sector's job: its self-MAC covers every entry, zero or not.
//
// Trusts: the caller for the index (the address the sector was read from);
// nothing in ciphertext or entry. Does not handle: table lookup, erasure
// coding, or freshness (rollback is caught by attestation and the journal).
import { chacha20Sector } from './chacha20-wasm.ts';
import { batchSectorsMax, entryBytes, indexMax, ivBytes, sectorBytes } from './crypto-constants.ts';
import { checkIndex, checkLength, SectorAuthError } from './crypto-errors.ts';
import { nextIv } from './iv-source.ts';
import type { SectorKeys } from './key-set.ts';
import { computeTag, macLabel, verifyTag } from './tagged-mac.ts';

const sectorLabel = macLabel('teearray:sect:v1');

/** out = ChaCha20 of `input` under the IV in entry[0 .. 12), block counter 0; out may be input. */
function chacha20(key: Uint8Array, entry: Uint8Array, input: Uint8Array, out: Uint8Array): void {
  chacha20Sector(key, entry.subarray(0, ivBytes), input, out);
}

function isBlankEntry(entry: Uint8Array): boolean {
  for (let i = 0; i < entryBytes; i++) if (entry[i] !== 0) return false;
  return true;
}

function sealOne(keys: SectorKeys, index: number, plaintext: Uint8Array, out: Uint8Array, entry: Uint8Array): void {
  nextIv(entry, 0);
  chacha20(keys.sectorEncryption, entry, plaintext, out);
  computeTag(keys.sectorMac, sectorLabel, index, entry, out, entry, ivBytes);
}

function verifyOne(keys: SectorKeys, index: number, ciphertext: Uint8Array, entry: Uint8Array): void {
  const tag = entry.subarray(ivBytes, entryBytes);
  if (!verifyTag(keys.sectorMac, sectorLabel, index, entry, ciphertext, tag)) throw new SectorAuthError(index);
}

/** Decrypts an authenticated sector, or zero-fills a blank one; returns false when blank. */
function decryptOne(keys: SectorKeys, ciphertext: Uint8Array, entry: Uint8Array, out: Uint8Array): boolean {
  if (isBlankEntry(entry)) {
    out.fill(0);
    return false;
  }
  chacha20(keys.sectorEncryption, entry, ciphertext, out);
  return true;
}

function checkOne(index: number, input: Uint8Array, inputName: string, entry: Uint8Array, out: Uint8Array): void {
  checkIndex(index, indexMax, 'index');
  checkLength(input, sectorBytes, inputName);
  checkLength(entry, entryBytes, 'entry');
  checkLength(out, sectorBytes, 'out');
}

/**
 * Encrypts `plaintext` (4096 bytes) for array sector `index` into `out` (may be
 * `plaintext` itself) and writes its IV and MAC to `entry` (28 bytes).
 */
export function sealSector(
  keys: SectorKeys,
  index: number,
  plaintext: Uint8Array,
  out: Uint8Array,
  entry: Uint8Array,
): void {
  checkOne(index, plaintext, 'plaintext', entry, out);
  sealOne(keys, index, plaintext, out, entry);
}

/**
 * Authenticates `ciphertext` read from array sector `index` against its
 * `entry`, then decrypts it into `out`. A blank entry yields zeros. Returns
 * whether the sector was ever written; throws SectorAuthError (E_SECTOR_AUTH)
 * and leaves `out` untouched if the MAC does not verify.
 */
export function openSector(
  keys: SectorKeys,
  index: number,
  ciphertext: Uint8Array,
  entry: Uint8Array,
  out: Uint8Array,
): boolean {
  checkOne(index, ciphertext, 'ciphertext', entry, out);
  if (!isBlankEntry(entry)) verifyOne(keys, index, ciphertext, entry);
  return decryptOne(keys, ciphertext, entry, out);
}

/** Checks a batch's shape (lengths, count bound, every index) and returns its sector count. */
export function checkBatch(indices: ArrayLike<number>, sectors: Uint8Array, out: Uint8Array, entries: Uint8Array): number {
  const count = indices.length;
  checkIndex(count, batchSectorsMax, 'indices.length');
  checkLength(sectors, count * sectorBytes, 'sectors');
  checkLength(out, count * sectorBytes, 'out');
  checkLength(entries, count * entryBytes, 'entries');
  for (let i = 0; i < count; i++) checkIndex(indices[i], indexMax, `indices[${i}]`);
  return count;
}

const sectorAt = (buf: Uint8Array, i: number): Uint8Array => buf.subarray(i * sectorBytes, (i + 1) * sectorBytes);
const entryOf = (buf: Uint8Array, i: number): Uint8Array => buf.subarray(i * entryBytes, (i + 1) * entryBytes);

/**
 * sealSector over a batch: sector i of `plaintexts` goes to array sector
 * indices[i], its ciphertext to sector i of `out` (may alias `plaintexts`)
 * and its entry to entries[28i .. 28i + 28).
 */
export function sealSectors(
  keys: SectorKeys,
  indices: ArrayLike<number>,
  plaintexts: Uint8Array,
  out: Uint8Array,
  entries: Uint8Array,
): void {
  const count = checkBatch(indices, plaintexts, out, entries);
  for (let i = 0; i < count; i++) {
    sealOne(keys, indices[i], sectorAt(plaintexts, i), sectorAt(out, i), entryOf(entries, i));
  }
}

/**
 * openSector over a batch. Every MAC is verified before any sector is
 * decrypted, so on SectorAuthError (naming the first bad index) `out` holds no
 * output of this call. Returns how many sectors were blank.
 */
export function openSectors(
  keys: SectorKeys,
  indices: ArrayLike<number>,
  ciphertexts: Uint8Array,
  entries: Uint8Array,
  out: Uint8Array,
): number {
  const count = checkBatch(indices, ciphertexts, out, entries);
  for (let i = 0; i < count; i++) {
    const entry = entryOf(entries, i);
    if (!isBlankEntry(entry)) verifyOne(keys, indices[i], sectorAt(ciphertexts, i), entry);
  }
  let blank = 0;
  for (let i = 0; i < count; i++) {
    if (!decryptOne(keys, sectorAt(ciphertexts, i), entryOf(entries, i), sectorAt(out, i))) blank++;
  }
  return blank;
}
