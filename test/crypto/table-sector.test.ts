// Table sectors: the @noble-computed format vector, round trips, and every
// way a hostile disk could alter one: any flipped bit (exhaustive), a zeroed
// entry (a written sector turned "never written"), two tables swapped, and a
// wholly zero table. Plus the sector-to-slot arithmetic and typed errors.
import fc from 'fast-check';
import tap from 'tap';
import { entryBytes, sectorBytes, tableEntriesMax } from '../../array-manager/crypto/crypto-constants.ts';
import { CryptoError } from '../../array-manager/crypto/crypto-errors.ts';
import { deriveKeySet } from '../../array-manager/crypto/key-set.ts';
import { openSector, sealSector } from '../../array-manager/crypto/sector-crypto.ts';
import { decodeTable, encodeTable, entryAt, slotOf, tableIndexOf } from '../../array-manager/crypto/table-sector.ts';
import { flipBit, fromHex, loadVectors, testKeys, throwsCode } from './helpers.ts';

interface FormatVectors {
  keySet: { dataKey: string; arrayId: string };
  sector: { index: number; entry: string; ciphertext: string };
  table: { index: number; bytes: string };
}
const vectors = loadVectors<FormatVectors>('sector-crypto-format.json');
const keys = testKeys();

/** A table with entries for sectors written in `slots`, encoded at `tableIndex`. */
function writtenTable(tableIndex: number, slots: number[]): Buffer {
  const table = Buffer.alloc(sectorBytes);
  const ciphertext = Buffer.alloc(sectorBytes);
  for (const slot of slots) {
    sealSector(keys, tableIndex * tableEntriesMax + slot, Buffer.alloc(sectorBytes, slot), ciphertext, entryAt(table, slot));
  }
  encodeTable(keys, tableIndex, table);
  return table;
}

function decodeCode(table: Uint8Array, tableIndex: number): string | null {
  try {
    decodeTable(keys, tableIndex, table);
    return null;
  } catch (err) {
    return err instanceof CryptoError ? err.code : 'not a CryptoError';
  }
}

tap.test('decodes the @noble-computed format vector and opens its sector', async (t) => {
  const vkeys = deriveKeySet(fromHex(vectors.keySet.dataKey), fromHex(vectors.keySet.arrayId));
  const table = fromHex(vectors.table.bytes);
  t.doesNotThrow(() => decodeTable(vkeys, vectors.table.index, table));
  t.equal(Buffer.from(entryAt(table, 0)).toString('hex'), vectors.sector.entry, 'slot 0 holds the sector entry');
  const out = Buffer.alloc(sectorBytes);
  t.equal(openSector(vkeys, vectors.sector.index, fromHex(vectors.sector.ciphertext), entryAt(table, 0), out), true);
  t.ok(entryAt(table, 1).every((b) => b === 0), 'slot 1 is blank');
});

tap.test('encode then decode; every encode draws a fresh nonce', async (t) => {
  const a = writtenTable(3, [0, 17, 144]);
  t.equal(decodeCode(a, 3), null, 'round trip');
  const b = Buffer.from(a);
  encodeTable(keys, 3, b);
  t.equal(decodeCode(b, 3), null, 're-encoded round trip');
  t.not(b.subarray(4068).toString('hex'), a.subarray(4068).toString('hex'), 'same entries, new nonce and MAC');
  const blank = Buffer.alloc(sectorBytes);
  encodeTable(keys, 9, blank);
  t.equal(decodeCode(blank, 9), null, 'a formatted blank table decodes');
});

tap.test('every single-bit change anywhere in a table sector is rejected (exhaustive)', async (t) => {
  const table = writtenTable(5, [1, 2, 100]);
  const codes = new Map<string | null, number>();
  for (let bit = 0; bit < sectorBytes * 8; bit++) {
    const code = decodeCode(flipBit(table, bit), 5);
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  t.equal(codes.get(null), undefined, 'none of the 32768 flips decodes');
  t.equal(codes.get('E_TABLE_FORMAT'), 64, 'the 64 header bits are format errors');
  t.equal(codes.get('E_TABLE_AUTH'), sectorBytes * 8 - 64, 'all other bits fail the self MAC');
});

tap.test('zeroing an entry, swapping tables and blanking a table are detected', async (t) => {
  const table = writtenTable(4, [10, 11]);
  const zeroed = Buffer.from(table);
  entryAt(zeroed, 10).fill(0);
  t.equal(decodeCode(zeroed, 4), 'E_TABLE_AUTH', 'a written sector cannot be made "never written"');
  const other = writtenTable(6, [10, 11]);
  t.equal(decodeCode(other, 4), 'E_TABLE_AUTH', 'table 6 read where table 4 belongs');
  t.equal(decodeCode(table, 6), 'E_TABLE_AUTH', 'table 4 read where table 6 belongs');
  t.equal(decodeCode(Buffer.alloc(sectorBytes), 4), 'E_TABLE_BLANK', 'an all-zero table is never valid');
  t.equal(decodeCode(writtenTable(4, [10]), 4), null, 'control: an untampered table decodes');
  t.equal(decodeCode(table, 4), null, 'control: the original still decodes');
  const otherKeys = testKeys(1);
  t.throws(() => decodeTable(otherKeys, 4, table), { code: 'E_TABLE_AUTH' }, 'another array cannot read it');
});

tap.test('header fields are checked with E_TABLE_FORMAT', async (t) => {
  const table = writtenTable(2, []);
  const withByte = (at: number, value: number): Buffer => {
    const copy = Buffer.from(table);
    copy[at] = value;
    return copy;
  };
  throwsCode(t, () => decodeTable(keys, 2, withByte(0, 0)), 'E_TABLE_FORMAT', /table 2: bad magic/);
  throwsCode(t, () => decodeTable(keys, 2, withByte(5, 2)), 'E_TABLE_FORMAT', /unknown version 2/);
  throwsCode(t, () => decodeTable(keys, 2, withByte(7, 1)), 'E_TABLE_FORMAT', /reserved bytes/);
});

tap.test('sector index to table and slot', async (t) => {
  for (let s = 0; s < 3 * tableEntriesMax + 5; s++) {
    const [table, slot] = [tableIndexOf(s), slotOf(s)];
    if (table * tableEntriesMax + slot !== s || slot < 0 || slot >= tableEntriesMax) t.fail(`sector ${s}`);
  }
  t.equal(tableIndexOf(144), 0);
  t.equal(tableIndexOf(145), 1);
  t.equal(slotOf(145), 0);
  fc.assert(fc.property(fc.maxSafeNat(), (s) => tableIndexOf(s) * tableEntriesMax + slotOf(s) === s));
  t.pass('inverse for random safe integers');
});

tap.test('bad arguments are typed errors naming the field', async (t) => {
  const table = Buffer.alloc(sectorBytes);
  throwsCode(t, () => entryAt(table, tableEntriesMax), 'E_CRYPTO_INDEX', /slot must be an integer in \[0, 144\]/);
  throwsCode(t, () => entryAt(table, -1), 'E_CRYPTO_INDEX', /slot/);
  throwsCode(t, () => entryAt(Buffer.alloc(4095), 0), 'E_CRYPTO_LENGTH', /table must be 4096/);
  throwsCode(t, () => encodeTable(keys, -1, table), 'E_CRYPTO_INDEX', /tableIndex/);
  throwsCode(t, () => encodeTable(keys, 0, Buffer.alloc(100)), 'E_CRYPTO_LENGTH', /table/);
  throwsCode(t, () => decodeTable(keys, 0.5, table), 'E_CRYPTO_INDEX', /tableIndex/);
  throwsCode(t, () => decodeTable(keys, 0, Buffer.alloc(4097)), 'E_CRYPTO_LENGTH', /table/);
  throwsCode(t, () => tableIndexOf(-3), 'E_CRYPTO_INDEX', /sectorIndex/);
  throwsCode(t, () => slotOf(2 ** 53), 'E_CRYPTO_INDEX', /sectorIndex/);
  t.equal(entryAt(table, 144).length, entryBytes);
  t.equal(entryAt(table, 144).byteOffset - table.byteOffset, 8 + 144 * entryBytes, 'slot 144 ends where the self entry starts');
});
