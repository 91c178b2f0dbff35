// Table sectors: the authenticated home of the data sectors' entries.
//
// Layout of one 4096-byte table sector (docs/CRYPTO.md):
//
//     offset  bytes  field
//     0       4      magic "TTBL" (u32 big-endian 0x5454424c)
//     4       2      format version (u16 big-endian, 1)
//     6       2      reserved, zero
//     8       4060   145 entries of IV (12) || MAC (16); slot s of table t
//                    covers array sector t * 145 + s; all zero = never written
//     4068    12     table nonce, fresh random on every encode
//     4080    16     self MAC: HMAC-SHA-256/128 under the table-MAC key over
//                    label || t || nonce || bytes [0, 4068)
//
// The self MAC binds the table to its index t (two table sectors cannot be
// swapped) and covers every entry, so zeroing an entry ("never written") is
// as detectable as any other change. The nonce makes every encode's MAC
// unique, even when the entries return to an earlier state (a trim).
//
// A wholly zero sector is never a valid table: the array writes every table
// sector (blank entries, valid self MAC) when it is created, before its
// superblock, so decodeTable rejects all-zero bytes with E_TABLE_BLANK rather
// than reading it as "145 sectors never written".
//
// Tables are authenticated, not encrypted: IVs and MACs are not secret, and
// what they reveal (which sectors were ever written, when one changes) the
// ciphertexts already show. Freshness (no rollback) is not this module's job.
import {
  entryBytes,
  indexMax,
  ivBytes,
  macBytes,
  sectorBytes,
  tableEntriesMax,
  tableEntriesOffset,
  tableMagic,
  tableSelfOffset,
  tableVersion,
} from './crypto-constants.ts';
import { checkIndex, checkLength, CryptoError } from './crypto-errors.ts';
import { nextIv } from './iv-source.ts';
import { computeTag, macLabel, verifyTag } from './tagged-mac.ts';

/** The key a table sector needs; a KeySet provides it. */
export interface TableKeys {
  readonly tableMac: Buffer;
}

const tableLabel = macLabel('teearray:tabl:v1');
const tableIndexMax = Math.floor(indexMax / tableEntriesMax);
const nonceOffset = tableSelfOffset;
const macOffset = tableSelfOffset + ivBytes;

/** The table sector that holds array sector `sectorIndex`'s entry. */
export function tableIndexOf(sectorIndex: number): number {
  checkIndex(sectorIndex, indexMax, 'sectorIndex');
  return Math.floor(sectorIndex / tableEntriesMax);
}

/** The slot of array sector `sectorIndex`'s entry within its table sector. */
export function slotOf(sectorIndex: number): number {
  checkIndex(sectorIndex, indexMax, 'sectorIndex');
  return sectorIndex % tableEntriesMax;
}

/** A 28-byte view of entry `slot` (0..144) of `table`; writes go into the table. */
export function entryAt(table: Uint8Array, slot: number): Uint8Array {
  checkLength(table, sectorBytes, 'table');
  checkIndex(slot, tableEntriesMax - 1, 'slot');
  const at = tableEntriesOffset + slot * entryBytes;
  return table.subarray(at, at + entryBytes);
}

function view(table: Uint8Array): DataView {
  return new DataView(table.buffer, table.byteOffset, table.byteLength);
}

/**
 * Makes `table` a valid table sector for table index `tableIndex` in place:
 * writes the header, a fresh nonce and the self MAC over the entries it holds.
 * A blank table for formatting is `encodeTable(keys, t, new Uint8Array(4096))`.
 */
export function encodeTable(keys: TableKeys, tableIndex: number, table: Uint8Array): void {
  checkIndex(tableIndex, tableIndexMax, 'tableIndex');
  checkLength(table, sectorBytes, 'table');
  const v = view(table);
  v.setUint32(0, tableMagic);
  v.setUint16(4, tableVersion);
  v.setUint16(6, 0);
  nextIv(table, nonceOffset);
  const nonce = table.subarray(nonceOffset, macOffset);
  computeTag(keys.tableMac, tableLabel, tableIndex, nonce, table.subarray(0, tableSelfOffset), table, macOffset);
}

/**
 * Checks that `table`, read from table index `tableIndex`, is a table sector
 * this array wrote there. Throws E_TABLE_BLANK (all zero), E_TABLE_FORMAT
 * (wrong magic, version or reserved bytes) or E_TABLE_AUTH (self MAC fails).
 */
export function decodeTable(keys: TableKeys, tableIndex: number, table: Uint8Array): void {
  checkIndex(tableIndex, tableIndexMax, 'tableIndex');
  checkLength(table, sectorBytes, 'table');
  const v = view(table);
  if (v.getUint32(0) !== tableMagic) {
    // Only a table without its magic can be all zero, so the full scan stays off the good path.
    if (table.every((b) => b === 0)) {
      throw new CryptoError('E_TABLE_BLANK', `table ${tableIndex}: all zero, but every table is written at format`);
    }
    throw new CryptoError('E_TABLE_FORMAT', `table ${tableIndex}: bad magic`);
  }
  if (v.getUint16(4) !== tableVersion) {
    throw new CryptoError('E_TABLE_FORMAT', `table ${tableIndex}: unknown version ${v.getUint16(4)}`);
  }
  if (v.getUint16(6) !== 0) throw new CryptoError('E_TABLE_FORMAT', `table ${tableIndex}: reserved bytes not zero`);
  const nonce = table.subarray(nonceOffset, macOffset);
  const tag = table.subarray(macOffset, macOffset + macBytes);
  if (!verifyTag(keys.tableMac, tableLabel, tableIndex, nonce, table.subarray(0, tableSelfOffset), tag)) {
    throw new CryptoError('E_TABLE_AUTH', `table ${tableIndex}: self MAC does not verify (tampered or misplaced)`);
  }
}
