// sealWrites and OpenBatch (array-manager/sector-batch.ts) give the same
// results with a pool, without one, and when the pool's queue is full:
// trims take zeros and no part in the batch, every bad sector of a batch is
// named and only good ones reach their targets.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { entryBytes, sectorBytes } from '../../array-manager/crypto/crypto-constants.ts';
import { CryptoPool } from '../../array-manager/crypto/crypto-pool.ts';
import { openSector } from '../../array-manager/crypto/sector-crypto.ts';
import { OpenBatch, sealWrites } from '../../array-manager/sector-batch.ts';
import { testKeys } from '../crypto/helpers.ts';

const keys = testKeys();
const S = sectorBytes;

function pools(t: { teardown(fn: () => unknown): void }): [string, CryptoPool | undefined][] {
  const pool = new CryptoPool(keys, { workers: 1, inlineBelowSectors: 2 });
  // A queue bound of 0: every batch is E_POOL_BUSY, so the calling thread does it.
  const busy = new CryptoPool(keys, { workers: 1, inlineBelowSectors: 2, queuedBatchesMax: 0 });
  t.teardown(() => Promise.all([pool.close(), busy.close()]));
  return [['no pool', undefined], ['pool', pool], ['busy pool', busy]];
}

t.test('sealWrites: ciphertext and entry i are the i-th write, trims zero; contiguous or scattered plaintexts', async (t) => {
  t.setTimeout(30_000);
  const request = randomBytes(12 * S);
  const original = Buffer.from(request);
  for (const [name, pool] of pools(t)) {
    // Sectors 100-111 from one request (contiguous), with 104-105 trimmed by a later request and 200 from another buffer.
    const writes = new Map<number, Uint8Array | undefined>();
    for (let i = 0; i < 12; i++) writes.set(100 + i, request.subarray(i * S, (i + 1) * S));
    writes.set(104, undefined).set(105, undefined).set(200, randomBytes(S));
    const onlyWrites = new Map([...writes].filter(([i]) => i < 104 || i > 105));
    for (const [label, set] of [['with trims', writes], ['contiguous', new Map([...writes].filter(([i]) => i < 104))], ['scattered', onlyWrites]] as const) {
      const { sectors, entries } = await sealWrites(keys, pool, set);
      t.equal(sectors.length, set.size * S);
      let i = 0;
      for (const [index, data] of set) {
        const sector = sectors.subarray(i * S, (i + 1) * S);
        const entry = entries.subarray(i * entryBytes, (i + 1) * entryBytes);
        if (!data) t.ok(sector.every((b) => b === 0) && entry.every((b) => b === 0), `${name}, ${label}: trim ${index} is zeros`);
        else {
          const out = Buffer.alloc(S);
          openSector(keys, index, sector, entry, out);
          t.ok(out.equals(data), `${name}, ${label}: sector ${index} opens to its plaintext`);
        }
        i++;
      }
    }
    t.ok(request.equals(original), `${name}: the request's plaintext is left as it was`);
  }
});

t.test('OpenBatch: names every bad sector, fills only the good ones, blanks are zeros', async (t) => {
  t.setTimeout(30_000);
  const n = 40;
  const plain = new Map(Array.from({ length: n }, (_, i) => [1000 + i, randomBytes(S)]));
  const writes = new Map<number, Uint8Array | undefined>(plain);
  for (const [name, pool] of pools(t)) {
    const { sectors, entries } = await sealWrites(keys, undefined, writes);
    sectors[3 * S + 9] ^= 1; // sector 1003
    sectors[31 * S] ^= 1; // sector 1031
    entries.fill(0, 7 * entryBytes, 8 * entryBytes); // sector 1007: blank
    const out = Buffer.alloc(n * S, 0xee);
    const batch = new OpenBatch(keys, pool);
    for (let i = 0; i < n; i++) batch.add(1000 + i, sectors.subarray(i * S, (i + 1) * S), entries.subarray(i * entryBytes, (i + 1) * entryBytes), out.subarray(i * S, (i + 1) * S));
    t.same(await batch.open(), [1003, 1031], `${name}: the bad sectors, in order`);
    for (let i = 0; i < n; i++) {
      const got = out.subarray(i * S, (i + 1) * S);
      if (i === 3 || i === 31) t.ok(got.every((b) => b === 0xee), `${name}: no plaintext for bad sector ${1000 + i}`);
      else if (i === 7) t.ok(got.every((b) => b === 0), `${name}: blank sector is zeros`);
      else t.ok(got.equals(plain.get(1000 + i)!), `${name}: sector ${1000 + i}`);
    }
  }
});
