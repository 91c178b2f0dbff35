// Key derivation: the full key set against the @noble-computed format vector
// (test/vectors/sector-crypto-format.json), one distinct key per purpose,
// binding to the array id, zeroing on destroy(), and typed errors for bad keys.
import tap from 'tap';
import { deriveKeySet, keyLabels, type KeyPurpose } from '../../array-manager/crypto/key-set.ts';
import { fromHex, loadVectors, throwsCode } from './helpers.ts';

interface FormatVectors {
  keySet: { dataKey: string; arrayId: string; keys: Record<KeyPurpose, string> };
}
const { keySet } = loadVectors<FormatVectors>('sector-crypto-format.json');
const purposes = Object.keys(keyLabels) as KeyPurpose[];

tap.test('derives every purpose key as the format vector states', async (t) => {
  const keys = deriveKeySet(fromHex(keySet.dataKey), fromHex(keySet.arrayId));
  t.same(Object.keys(keySet.keys).sort(), [...purposes].sort(), 'vector covers every purpose');
  for (const purpose of purposes) {
    t.equal(keys.key(purpose).toString('hex'), keySet.keys[purpose], purpose);
  }
  t.equal(keys.sectorEncryption.toString('hex'), keySet.keys.sectorEncryption);
  t.equal(keys.sectorMac.toString('hex'), keySet.keys.sectorMac);
  t.equal(keys.tableMac.toString('hex'), keySet.keys.tableMac);
  t.equal(keys.journalMac.toString('hex'), keySet.keys.journalMac);
  t.equal(keys.membershipMac.toString('hex'), keySet.keys.membershipMac);
});

tap.test('keys are distinct per purpose and per array', async (t) => {
  const a = deriveKeySet(fromHex(keySet.dataKey), fromHex(keySet.arrayId));
  const b = deriveKeySet(fromHex(keySet.dataKey), Buffer.alloc(16, 1));
  const all = new Set<string>();
  for (const purpose of purposes) {
    all.add(a.key(purpose).toString('hex'));
    all.add(b.key(purpose).toString('hex'));
  }
  t.equal(all.size, 2 * purposes.length, 'no two keys equal across purposes and arrays');
  t.equal(new Set(Object.values(keyLabels)).size, purposes.length, 'labels are distinct');
});

tap.test('destroy() zeroes every derived key and forbids further use', async (t) => {
  const keys = deriveKeySet(fromHex(keySet.dataKey), fromHex(keySet.arrayId));
  const views = purposes.map((p) => keys.key(p));
  keys.destroy();
  for (const view of views) t.ok(view.every((b) => b === 0), 'key bytes are zero');
  t.throws(() => keys.sectorMac, { name: 'AssertionError' }, 'use after destroy is a bug');
});

tap.test('bad data keys and array ids are typed errors', async (t) => {
  const id = Buffer.alloc(16, 7);
  throwsCode(t, () => deriveKeySet(Buffer.alloc(31, 1), id), 'E_CRYPTO_LENGTH', /dataKey must be 32 bytes/);
  throwsCode(t, () => deriveKeySet(Buffer.alloc(33, 1), id), 'E_CRYPTO_LENGTH', /dataKey/);
  throwsCode(t, () => deriveKeySet(Buffer.alloc(32), id), 'E_CRYPTO_KEY', /dataKey must not be all zero/);
  throwsCode(t, () => deriveKeySet(Buffer.alloc(32, 1), Buffer.alloc(15)), 'E_CRYPTO_LENGTH', /arrayId must be 16/);
  throwsCode(t, () => deriveKeySet(Buffer.alloc(32, 1), Buffer.alloc(0)), 'E_CRYPTO_LENGTH', /arrayId/);
});
