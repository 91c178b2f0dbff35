// Data-sector sealing and opening: the format vector, round trips and a
// cross-check against the @noble reference for random inputs (fast-check),
// tamper detection (every field and the index), blank entries, batches, and
// typed errors for wrong lengths and indices.
import fc from 'fast-check';
import tap from 'tap';
import { batchSectorsMax, entryBytes, ivBytes, sectorBytes } from '../../array-manager/crypto/crypto-constants.ts';
import { SectorAuthError } from '../../array-manager/crypto/crypto-errors.ts';
import { deriveKeySet } from '../../array-manager/crypto/key-set.ts';
import { openSector, openSectors, sealSector, sealSectors } from '../../array-manager/crypto/sector-crypto.ts';
import { flipBit, fromHex, loadVectors, testKeys, throwsCode } from './helpers.ts';
import { referenceDecrypt, referenceKeys, referenceSeal } from './reference.ts';

interface FormatVectors {
  keySet: { dataKey: string; arrayId: string };
  sector: { index: number; entry: string; ciphertext: string };
}
const vectors = loadVectors<FormatVectors>('sector-crypto-format.json');
const keys = testKeys();
const refKeys = referenceKeys(Buffer.alloc(32, 0x42), Buffer.alloc(16, 0));
const pattern = (n: number): Buffer => Buffer.from(Uint8Array.from({ length: n * sectorBytes }, (_, i) => i * 31 + 7));

function sealed(index: number, plaintext = pattern(1)): { ciphertext: Buffer; entry: Buffer } {
  const ciphertext = Buffer.alloc(sectorBytes);
  const entry = Buffer.alloc(entryBytes);
  sealSector(keys, index, plaintext, ciphertext, entry);
  return { ciphertext, entry };
}

tap.test('opens the @noble-computed format vector', async (t) => {
  const vkeys = deriveKeySet(fromHex(vectors.keySet.dataKey), fromHex(vectors.keySet.arrayId));
  const out = Buffer.alloc(sectorBytes);
  const written = openSector(vkeys, vectors.sector.index, fromHex(vectors.sector.ciphertext), fromHex(vectors.sector.entry), out);
  t.equal(written, true);
  t.ok(out.equals(pattern(1)), 'plaintext[i] = (31 i + 7) mod 256');
  throwsCode(t, () => openSector(vkeys, vectors.sector.index + 2 ** 32, fromHex(vectors.sector.ciphertext), fromHex(vectors.sector.entry), out), 'E_SECTOR_AUTH');
});

tap.test('seal matches the @noble reference and opens back, for random sectors (fast-check)', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: sectorBytes, maxLength: sectorBytes }), fc.maxSafeNat(), (plaintext, index) => {
      const { ciphertext, entry } = sealed(index, Buffer.from(plaintext));
      const ref = referenceSeal(refKeys, index, entry.subarray(0, ivBytes), plaintext);
      if (!ciphertext.equals(ref.ciphertext) || !entry.equals(ref.entry)) return false;
      const out = Buffer.alloc(sectorBytes);
      return openSector(keys, index, ciphertext, entry, out) && out.equals(plaintext);
    }),
    { numRuns: 200 },
  );
  t.pass('200 random sectors agree with @noble');
});

tap.test('open matches @noble decryption of reference-sealed sectors (fast-check)', async (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: sectorBytes, maxLength: sectorBytes }),
      fc.uint8Array({ minLength: ivBytes, maxLength: ivBytes }).filter((iv) => iv.some((b) => b !== 0)),
      fc.maxSafeNat(),
      (plaintext, iv, index) => {
        const ref = referenceSeal(refKeys, index, iv, plaintext);
        const out = Buffer.alloc(sectorBytes);
        openSector(keys, index, ref.ciphertext, ref.entry, out);
        return out.equals(referenceDecrypt(refKeys, iv, ref.ciphertext)) && out.equals(plaintext);
      },
    ),
    { numRuns: 100 },
  );
  t.pass('100 reference-sealed sectors open');
});

tap.test('any flipped bit in ciphertext, IV or MAC is E_SECTOR_AUTH naming the index', async (t) => {
  const index = 12345;
  const { ciphertext, entry } = sealed(index);
  const out = Buffer.alloc(sectorBytes, 0xee);
  const expectAuth = (c: Buffer, e: Buffer, i = index): boolean => {
    try {
      openSector(keys, i, c, e, out);
      return false;
    } catch (err) {
      return err instanceof SectorAuthError && err.code === 'E_SECTOR_AUTH' && err.index === i;
    }
  };
  let entryBitsRejected = 0;
  for (let bit = 0; bit < entryBytes * 8; bit++) if (expectAuth(ciphertext, flipBit(entry, bit))) entryBitsRejected++;
  t.equal(entryBitsRejected, entryBytes * 8, 'every one of the 224 IV and MAC bits (exhaustive)');
  fc.assert(fc.property(fc.integer({ min: 0, max: sectorBytes * 8 - 1 }), (bit) => expectAuth(flipBit(ciphertext, bit), entry)));
  t.pass('random ciphertext bits');
  for (const other of [index - 1, index + 1, index ^ 0x800, index + 2 ** 32, 0]) {
    t.ok(expectAuth(ciphertext, entry, other), `read at index ${other} instead of ${index}`);
  }
  t.ok(out.every((b) => b === 0xee), 'out is never written when authentication fails');
  const otherArray = testKeys(1);
  t.throws(() => openSector(otherArray, index, ciphertext, entry, out), { code: 'E_SECTOR_AUTH' }, 'other key set');
});

tap.test('blank entries read as zeros; sealing never makes a blank entry', async (t) => {
  const out = Buffer.alloc(sectorBytes, 0xee);
  t.equal(openSector(keys, 7, pattern(1), Buffer.alloc(entryBytes), out), false, 'blank entry: not written');
  t.ok(out.every((b) => b === 0), 'blank entry opens as zeros whatever the ciphertext');
  const ivs = new Set<string>();
  let zeroIvs = 0;
  for (let i = 0; i < 2000; i++) {
    const iv = sealed(i, Buffer.alloc(sectorBytes)).entry.subarray(0, ivBytes);
    if (iv.every((b) => b === 0)) zeroIvs++;
    ivs.add(iv.toString('hex'));
  }
  t.equal(zeroIvs, 0, 'no write drew a zero IV');
  t.equal(ivs.size, 2000, 'every write drew a distinct IV (batches of IVs span refills)');
});

tap.test('seal in place and batches agree with single-sector calls', async (t) => {
  const n = 40;
  const indices = Array.from({ length: n }, (_, i) => i * 977);
  const plain = pattern(n);
  const inPlace = Buffer.from(plain);
  const entries = Buffer.alloc(n * entryBytes);
  sealSectors(keys, indices, inPlace, inPlace, entries);
  for (let i = 0; i < n; i++) {
    const out = Buffer.alloc(sectorBytes);
    openSector(keys, indices[i], inPlace.subarray(i * sectorBytes, (i + 1) * sectorBytes), entries.subarray(i * entryBytes, (i + 1) * entryBytes), out);
    t.ok(out.equals(plain.subarray(i * sectorBytes, (i + 1) * sectorBytes)), `sector ${i} opens singly`);
  }
  entries.fill(0, 3 * entryBytes, 4 * entryBytes);
  const out = Buffer.alloc(n * sectorBytes);
  t.equal(openSectors(keys, indices, inPlace, entries, out), 1, 'one blank sector');
  t.ok(out.subarray(3 * sectorBytes, 4 * sectorBytes).every((b) => b === 0), 'the blank sector reads as zeros');
  t.ok(out.subarray(4 * sectorBytes).equals(plain.subarray(4 * sectorBytes)), 'the rest decrypts');
});

tap.test('a batch with one bad sector fails whole, naming it, and writes nothing', async (t) => {
  const n = 16;
  const indices = Array.from({ length: n }, (_, i) => 1000 + i);
  const ciphertexts = Buffer.alloc(n * sectorBytes);
  const entries = Buffer.alloc(n * entryBytes);
  sealSectors(keys, indices, pattern(n), ciphertexts, entries);
  ciphertexts[9 * sectorBytes + 100] ^= 4;
  const out = Buffer.alloc(n * sectorBytes, 0xee);
  t.throws(() => openSectors(keys, indices, ciphertexts, entries, out), { code: 'E_SECTOR_AUTH', index: 1009 });
  t.ok(out.every((b) => b === 0xee), 'no sector of the batch was decrypted');
  const swapped = [...indices];
  [swapped[2], swapped[5]] = [swapped[5], swapped[2]];
  ciphertexts[9 * sectorBytes + 100] ^= 4;
  t.throws(() => openSectors(keys, swapped, ciphertexts, entries, out), { code: 'E_SECTOR_AUTH', index: 1005 }, 'two sectors swapped');
});

tap.test('wrong lengths and indices are typed errors naming the field', async (t) => {
  const s = Buffer.alloc(sectorBytes);
  const e = Buffer.alloc(entryBytes);
  throwsCode(t, () => sealSector(keys, 0, Buffer.alloc(4095), s, e), 'E_CRYPTO_LENGTH', /plaintext must be 4096/);
  throwsCode(t, () => sealSector(keys, 0, s, Buffer.alloc(4097), e), 'E_CRYPTO_LENGTH', /out must be 4096/);
  throwsCode(t, () => sealSector(keys, 0, s, s, Buffer.alloc(27)), 'E_CRYPTO_LENGTH', /entry must be 28/);
  throwsCode(t, () => openSector(keys, 0, Buffer.alloc(0), e, s), 'E_CRYPTO_LENGTH', /ciphertext/);
  throwsCode(t, () => openSector(keys, 0, s, Buffer.alloc(29), s), 'E_CRYPTO_LENGTH', /entry/);
  throwsCode(t, () => openSector(keys, 0, s, e, Buffer.alloc(10)), 'E_CRYPTO_LENGTH', /out/);
  for (const index of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    throwsCode(t, () => sealSector(keys, index, s, s, e), 'E_CRYPTO_INDEX', /index must be an integer/);
    throwsCode(t, () => openSector(keys, index, s, e, s), 'E_CRYPTO_INDEX', /index/);
  }
  throwsCode(t, () => sealSectors(keys, [0, 1], s, s, e), 'E_CRYPTO_LENGTH', /sectors must be 8192/);
  throwsCode(t, () => sealSectors(keys, [0], s, s, Buffer.alloc(56)), 'E_CRYPTO_LENGTH', /entries/);
  throwsCode(t, () => openSectors(keys, [0, -4], Buffer.alloc(8192), Buffer.alloc(56), Buffer.alloc(8192)), 'E_CRYPTO_INDEX', /indices\[1\]/);
  const tooMany = batchSectorsMax + 1;
  throwsCode(t, () => sealSectors(keys, new Array<number>(tooMany).fill(0), s, s, e), 'E_CRYPTO_INDEX', /indices.length/);
});
