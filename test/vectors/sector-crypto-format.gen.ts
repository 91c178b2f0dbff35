// Generates test/vectors/sector-crypto-format.json: known answers for the
// sector-crypto formats (docs/CRYPTO.md), computed with the @noble-only
// reference (test/crypto/reference.ts), so the node:crypto implementation in
// array-manager/crypto/ is checked against an independent one.
// Run: npx tsx test/vectors/sector-crypto-format.gen.ts
import { writeFileSync } from 'node:fs';
import { referenceKeys, referenceSeal, referenceTable } from '../crypto/reference.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (n: number, f: (i: number) => number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => f(i) & 0xff);

const dataKey = bytes(32, (i) => i);
const arrayId = bytes(16, (i) => 0xa0 + i);
const keys = referenceKeys(dataKey, arrayId);

// A sector above 2^32 so both halves of the u64 index matter.
const sectorIndex = 2 ** 40 + 5;
const sector = referenceSeal(keys, sectorIndex, bytes(12, (i) => 0x10 + i), bytes(4096, (i) => i * 31 + 7));

// Table 7: the sector's entry in slot 0, a patterned entry in slot 144, the rest blank.
const entries = new Uint8Array(145 * 28);
entries.set(sector.entry, 0);
entries.set(bytes(28, (i) => 0xc0 + i), 144 * 28);
const tableIndex = 7;
const table = referenceTable(keys, tableIndex, entries, bytes(12, (i) => 0x20 + i));

const out = {
  description:
    'Sector-crypto format known answers, computed with @noble by test/vectors/sector-crypto-format.gen.ts ' +
    'from docs/CRYPTO.md. All byte strings are hex. plaintext[i] = (31 * i + 7) mod 256.',
  keySet: {
    dataKey: hex(dataKey),
    arrayId: hex(arrayId),
    keys: Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, hex(v)])),
  },
  sector: { index: sectorIndex, entry: hex(sector.entry), ciphertext: hex(sector.ciphertext) },
  table: { index: tableIndex, bytes: hex(table) },
};
writeFileSync(new URL('./sector-crypto-format.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
