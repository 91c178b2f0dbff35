// The journal's two on-node records (docs/JOURNAL.md):
//
// - the journal header, one per node: entry version, the home sector of
//   each piece of the entry this node holds, and a digest of those pieces;
//   pieces that are all zeros (trimmed sectors, and parity of rows trimmed
//   whole) are listed by home only and carry no payload: the apply trims
//   their homes instead of copying;
// - the commit record (atomicity record), one per node, identical on all:
//   entry version and, per slot, a digest of that slot's journal header
//   (zero for slots without pieces).
//
// Both fill one 4096-byte sector and end in an HMAC-SHA-256 tag under the
// journal key. Decoding returns undefined for anything that is not a valid
// record of this array (blank, trimmed, torn, forged): recovery treats all of
// those alike, as "no record here".
import { createHash } from 'node:crypto';
import { recordTagBytes, recordTagValid, tagRecord } from '../array-manager/record-mac.ts';

export const recordBytes = 4096;
export const headerDigestBytes = 16;
const headerMagic = Buffer.from('TEAJHDR2');
/** Version 1 had no zero pieces (its zero count field was reserved, zero); still read. */
const headerMagicV1 = Buffer.from('TEAJHDR1');
const commitMagic = Buffer.from('TEAJCMT1');
const fixedBytes = 40;
const payloadDigestBytes = 32;
const homeBytes = 4;
/** Most pieces, with payload and zero together, one header can list. */
export const headerPiecesMax = Math.floor((recordBytes - fixedBytes - payloadDigestBytes - recordTagBytes) / homeBytes);
/** Most slots a commit record can list. */
export const commitSlotsMax = Math.floor((recordBytes - fixedBytes - recordTagBytes) / headerDigestBytes);

export interface JournalHeader {
  version: bigint;
  slot: number;
  /** Home sector of each piece with payload; piece j sits in journal payload sector j. */
  homes: number[];
  /** Home sectors of the all-zero pieces, which have no payload: the apply trims them. */
  zeroHomes: number[];
  /**
   * SHA-256 of the pieces in order. A plain digest suffices: the header's
   * HMAC covers it, and one pass over the payload is cheaper than a MAC per piece.
   */
  payloadDigest: Buffer;
}

export interface CommitRecord {
  version: bigint;
  /** Per slot: digest of its journal header for this entry, or undefined if it holds no piece. */
  headerDigests: (Buffer | undefined)[];
}

/** The digest a header carries for `pieces`: SHA-256 over them in order. */
export function payloadDigest(pieces: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of pieces) h.update(p);
  return h.digest();
}

export function headerDigest(header: Buffer): Buffer {
  return createHash('sha256').update(header).digest().subarray(0, headerDigestBytes);
}

function start(magic: Buffer, version: bigint, arrayId: Buffer): Buffer {
  const record = Buffer.alloc(recordBytes);
  magic.copy(record, 0);
  record.writeBigUInt64BE(version, 8);
  arrayId.copy(record, 16);
  return record;
}

function valid(key: Uint8Array, magics: Buffer[], arrayId: Buffer, record: Buffer): boolean {
  return (
    record.length === recordBytes &&
    magics.some((magic) => record.subarray(0, 8).equals(magic)) &&
    record.subarray(16, 32).equals(arrayId) &&
    recordTagValid(key, record)
  );
}

export function encodeHeader(key: Uint8Array, arrayId: Buffer, h: JournalHeader): Buffer {
  const count = h.homes.length + h.zeroHomes.length;
  if (count > headerPiecesMax || h.payloadDigest.length !== payloadDigestBytes) {
    throw new RangeError(`journal header with ${count} pieces (max ${headerPiecesMax})`);
  }
  const record = start(headerMagic, h.version, arrayId);
  record.writeUInt16BE(h.slot, 32);
  record.writeUInt16BE(h.homes.length, 34);
  record.writeUInt16BE(h.zeroHomes.length, 36);
  h.payloadDigest.copy(record, fixedBytes);
  [...h.homes, ...h.zeroHomes].forEach((home, j) => record.writeUInt32BE(home, fixedBytes + payloadDigestBytes + j * homeBytes));
  return tagRecord(key, record);
}

export function decodeHeader(key: Uint8Array, arrayId: Buffer, record: Buffer): JournalHeader | undefined {
  if (!valid(key, [headerMagic, headerMagicV1], arrayId, record)) return undefined;
  const count = record.readUInt16BE(34);
  const zeroCount = record.readUInt16BE(36);
  if (count + zeroCount > headerPiecesMax) return undefined;
  if (zeroCount > 0 && record.subarray(0, 8).equals(headerMagicV1)) return undefined;
  const homeAt = (j: number) => record.readUInt32BE(fixedBytes + payloadDigestBytes + j * homeBytes);
  const homes = Array.from({ length: count }, (_, j) => homeAt(j));
  const zeroHomes = Array.from({ length: zeroCount }, (_, j) => homeAt(count + j));
  const payloadDigest = Buffer.from(record.subarray(fixedBytes, fixedBytes + payloadDigestBytes));
  return { version: record.readBigUInt64BE(8), slot: record.readUInt16BE(32), homes, zeroHomes, payloadDigest };
}

export function encodeCommit(key: Uint8Array, arrayId: Buffer, c: CommitRecord): Buffer {
  if (c.headerDigests.length > commitSlotsMax) throw new RangeError(`commit record for ${c.headerDigests.length} slots`);
  const record = start(commitMagic, c.version, arrayId);
  record.writeUInt16BE(c.headerDigests.length, 32);
  c.headerDigests.forEach((d, i) => d?.copy(record, fixedBytes + i * headerDigestBytes));
  return tagRecord(key, record);
}

export function decodeCommit(key: Uint8Array, arrayId: Buffer, record: Buffer): CommitRecord | undefined {
  if (!valid(key, [commitMagic], arrayId, record)) return undefined;
  const n = record.readUInt16BE(32);
  if (n > commitSlotsMax) return undefined;
  const headerDigests: (Buffer | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const d = record.subarray(fixedBytes + i * headerDigestBytes, fixedBytes + (i + 1) * headerDigestBytes);
    headerDigests.push(d.every((b) => b === 0) ? undefined : Buffer.from(d));
  }
  return { version: record.readBigUInt64BE(8), headerDigests };
}
