// The journal's two on-node records (docs/JOURNAL.md):
//
// - the journal header, one per node: entry version, and for each piece of
//   the entry this node holds, its home sector and a MAC of its payload;
// - the commit record (atomicity record), one per node, identical on all:
//   entry version and, per slot, a digest of that slot's journal header
//   (zero for slots without pieces).
//
// Both fill one 4096-byte sector and end in an HMAC-SHA-256 tag under the
// journal key. Decoding returns undefined for anything that is not a valid
// record of this array (blank, trimmed, torn, forged): recovery treats all of
// those alike, as "no record here".
import { createHash } from 'node:crypto';
import { hmac, recordTagBytes, recordTagValid, tagRecord } from '../array-manager/record-mac.ts';

export const recordBytes = 4096;
export const headerDigestBytes = 16;
const headerMagic = Buffer.from('TEAJHDR1');
const commitMagic = Buffer.from('TEAJCMT1');
const fixedBytes = 40;
const pieceEntryBytes = 20;
const pieceMacBytes = 16;
/** Most pieces one header can list. */
export const headerPiecesMax = Math.floor((recordBytes - fixedBytes - recordTagBytes) / pieceEntryBytes);
/** Most slots a commit record can list. */
export const commitSlotsMax = Math.floor((recordBytes - fixedBytes - recordTagBytes) / headerDigestBytes);
const pieceLabel = Buffer.from('teearray/journal-piece/v1');

export interface JournalHeader {
  version: bigint;
  slot: number;
  /** Home sector of each piece; piece j sits in journal payload sector j. */
  homes: number[];
  /** MAC of each piece's payload. */
  macs: Buffer[];
}

export interface CommitRecord {
  version: bigint;
  /** Per slot: digest of its journal header for this entry, or undefined if it holds no piece. */
  headerDigests: (Buffer | undefined)[];
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

/** MAC of one journalled payload, bound to the array, entry, slot and home sector. */
export function pieceMac(key: Uint8Array, arrayId: Buffer, version: bigint, slot: number, home: number, payload: Uint8Array): Buffer {
  const where = Buffer.alloc(8);
  where.writeUInt16BE(slot, 0);
  where.writeUInt32BE(home, 2);
  return hmac(key, pieceLabel, arrayId, u64(version), where, payload).subarray(0, pieceMacBytes);
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

function valid(key: Uint8Array, magic: Buffer, arrayId: Buffer, record: Buffer): boolean {
  return (
    record.length === recordBytes &&
    record.subarray(0, 8).equals(magic) &&
    record.subarray(16, 32).equals(arrayId) &&
    recordTagValid(key, record)
  );
}

export function encodeHeader(key: Uint8Array, arrayId: Buffer, h: JournalHeader): Buffer {
  if (h.homes.length > headerPiecesMax || h.homes.length !== h.macs.length) {
    throw new RangeError(`journal header with ${h.homes.length} pieces (max ${headerPiecesMax})`);
  }
  const record = start(headerMagic, h.version, arrayId);
  record.writeUInt16BE(h.slot, 32);
  record.writeUInt16BE(h.homes.length, 34);
  h.homes.forEach((home, j) => {
    const at = fixedBytes + j * pieceEntryBytes;
    record.writeUInt32BE(home, at);
    h.macs[j].copy(record, at + 4);
  });
  return tagRecord(key, record);
}

export function decodeHeader(key: Uint8Array, arrayId: Buffer, record: Buffer): JournalHeader | undefined {
  if (!valid(key, headerMagic, arrayId, record)) return undefined;
  const count = record.readUInt16BE(34);
  if (count > headerPiecesMax) return undefined;
  const homes: number[] = [];
  const macs: Buffer[] = [];
  for (let j = 0; j < count; j++) {
    const at = fixedBytes + j * pieceEntryBytes;
    homes.push(record.readUInt32BE(at));
    macs.push(Buffer.from(record.subarray(at + 4, at + 4 + pieceMacBytes)));
  }
  return { version: record.readBigUInt64BE(8), slot: record.readUInt16BE(32), homes, macs };
}

export function encodeCommit(key: Uint8Array, arrayId: Buffer, c: CommitRecord): Buffer {
  if (c.headerDigests.length > commitSlotsMax) throw new RangeError(`commit record for ${c.headerDigests.length} slots`);
  const record = start(commitMagic, c.version, arrayId);
  record.writeUInt16BE(c.headerDigests.length, 32);
  c.headerDigests.forEach((d, i) => d?.copy(record, fixedBytes + i * headerDigestBytes));
  return tagRecord(key, record);
}

export function decodeCommit(key: Uint8Array, arrayId: Buffer, record: Buffer): CommitRecord | undefined {
  if (!valid(key, commitMagic, arrayId, record)) return undefined;
  const n = record.readUInt16BE(32);
  if (n > commitSlotsMax) return undefined;
  const headerDigests: (Buffer | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const d = record.subarray(fixedBytes + i * headerDigestBytes, fixedBytes + (i + 1) * headerDigestBytes);
    headerDigests.push(d.every((b) => b === 0) ? undefined : Buffer.from(d));
  }
  return { version: record.readBigUInt64BE(8), headerDigests };
}
