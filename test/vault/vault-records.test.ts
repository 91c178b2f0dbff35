// The vault region's records: a round trip, an uninitialised region, and
// every inconsistency refused with a typed error even when the commit
// marker's digest is recomputed to match (a region written by something
// other than this code).
import t from 'tap';
import { createHash } from 'node:crypto';
import { dealEpoch } from '../../vault/dealer.ts';
import { decodeRecords, encodeRecords, sectorBytes, type VaultRecords } from '../../vault/vault-records.ts';
import { vaultSectors } from '../../vault/vault-limits.ts';

const deal = dealEpoch({ epoch: 3, threshold: 2, memberIds: ['a', 'b', 'c'], priors: [] });
const records: VaultRecords = {
  generation: 7,
  memberId: 'b',
  configuration: deal.configuration,
  share: deal.shares[1],
  volumes: [{ name: 'vol', epoch: 3, keyCheck: new Uint8Array(16).fill(9) }],
};

/** Applies `change` to an encoded region and re-seals the marker's digest over sectors 1..15. */
function resealed(change: (region: Uint8Array) => void): Uint8Array {
  const region = encodeRecords(records);
  change(region);
  region.set(createHash('sha256').update(region.subarray(sectorBytes)).digest(), 8 + 8 + 8);
  return region;
}

t.test('round trip and an empty region', async (t) => {
  const back = decodeRecords(encodeRecords(records))!;
  t.same(back, records);
  t.equal(decodeRecords(new Uint8Array(vaultSectors * sectorBytes)), undefined, 'all zero: never initialised');
  const empty = decodeRecords(encodeRecords({ generation: 1, memberId: 'a', volumes: [] }))!;
  t.equal(empty.configuration, undefined);
  t.equal(empty.share, undefined);
});

t.test('inconsistent or malformed regions are refused', async (t) => {
  t.throws(() => decodeRecords(new Uint8Array(100)), { code: 'E_VAULT_ARG' }, 'wrong region length');
  const torn = encodeRecords(records);
  torn[2 * sectorBytes + 20] ^= 1;
  t.throws(() => decodeRecords(torn), { code: 'E_VAULT_TORN' }, 'a share byte changed: the marker digest no longer matches');
  const badMagic = encodeRecords(records);
  badMagic[0] ^= 1;
  t.throws(() => decodeRecords(badMagic), { code: 'E_VAULT_FORMAT' }, 'marker magic');
  t.throws(() => decodeRecords(resealed((r) => (r[13 * sectorBytes] = 1))), { code: 'E_VAULT_FORMAT' }, 'reserved sectors not zero');
  t.throws(() => decodeRecords(resealed((r) => (r[2 * sectorBytes + 15] = 4))), { code: 'E_VAULT_FORMAT' }, 'share record of another epoch than the marker');
  t.throws(() => decodeRecords(resealed((r) => (r[sectorBytes + 8] = 200))), { code: 'E_VAULT_FORMAT' }, 'a member id of 200 NUL bytes');
  t.throws(() => decodeRecords(resealed((r) => (r[3 * sectorBytes + 1] ^= 1))), { code: 'E_VAULT_FORMAT' }, 'configuration magic');
  // The volume's epoch (u64 after magic, count, name length and name) set beyond the configuration's.
  t.throws(() => decodeRecords(resealed((r) => (r[11 * sectorBytes + 8 + 1 + 1 + 3 + 7] = 4))), { code: 'E_VAULT_FORMAT' }, 'a volume on a future epoch');
  t.throws(() => encodeRecords({ ...records, volumes: [...records.volumes, records.volumes[0]] }), { code: 'E_VAULT_ARG' }, 'a volume twice');
  t.throws(() => encodeRecords({ ...records, memberId: 'has space' }), { code: 'E_VAULT_ARG' }, 'member id alphabet');
  t.throws(() => encodeRecords({ ...records, volumes: Array.from({ length: 65 }, (_, i) => ({ name: `v${i}`, epoch: 1, keyCheck: new Uint8Array(16) })) }), { code: 'E_VAULT_ARG' }, '65 volumes');
});
