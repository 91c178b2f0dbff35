// The library as the embedding service imports it: 'teearray/vault' through
// package.json "exports" (dist/vault.mjs, built by `npm run build`), types
// from the sources. One deal, store and unlock through that entry point.
import t from 'tap';
import { dealEpoch, openVault, unlockSecret, vaultLimits, VaultError } from 'teearray/vault';
import { memberArray } from './member-array.ts';

t.test('deal, store and unlock through teearray/vault', async (t) => {
  const { disk } = await memberArray();
  const vault = await openVault(disk);
  await vault.init('m1');
  const deal = dealEpoch({ epoch: 1, threshold: 2, memberIds: ['m1', 'm2', 'm3'], priors: [] });
  await vault.storeShare(deal.configuration, deal.shares[0]);
  const share = await vault.readShare();
  t.same(unlockSecret(deal.configuration, [share, deal.shares[2]]), deal.secret);
  share.fill(0);
  t.equal(vaultLimits.vaultSectors, 16);
  t.throws(() => unlockSecret(deal.configuration, [deal.shares[1]]), VaultError, 'typed errors are exported');
  await disk.close();
});
