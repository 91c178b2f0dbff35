// The vault on a key-erasure array of in-process disk nodes: init, a deal to
// five members, rotations that each cost one journal entry, every refusal
// (rollback, wrong share, other rack, bad region), reconstituting a share,
// volume keys of the recorded epochs, and the state a new manager reads.
import t from 'tap';
import { openArray } from '../../array-manager/array-open.ts';
import { dealEpoch, priorsAfter } from '../../vault/dealer.ts';
import { keyCheck, volumeKey } from '../../vault/epoch-keys.ts';
import { openVault, unlockSecret } from '../../vault/vault.ts';
import { vaultSectors } from '../../vault/vault-limits.ts';
import { memberArray } from './member-array.ts';
import { createArray } from '../../array-manager/array-create.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';

const ids = ['m1', 'm2', 'm3', 'm4', 'm5'];

t.test('deal, rotate, reopen', async (t) => {
  const arrays = await Promise.all(ids.map(() => memberArray()));
  const vaults = await Promise.all(arrays.map((a) => openVault(a.disk)));
  t.equal(vaults[0].initialised, false);
  t.throws(() => vaults[0].summary(), { code: 'E_VAULT_STATE' });
  await Promise.all(vaults.map((v, i) => v.init(ids[i])));
  await t.rejects(vaults[0].init('m1'), { code: 'E_VAULT_STATE' }, 'init twice');
  const blank = await openVault((await memberArray()).disk);
  await t.rejects(blank.rotate(dealEpoch({ epoch: 1, threshold: 2, memberIds: ids, priors: [] }).configuration, new Uint8Array(33)), { code: 'E_VAULT_STATE' }, 'rotate on an uninitialised vault rejects');
  await t.rejects(blank.readShare(), { code: 'E_VAULT_STATE' }, 'no share to read');

  const first = dealEpoch({ epoch: 1, threshold: 3, memberIds: ids, priors: [] });
  const volumeCheck = (secret: Uint8Array, epoch: number, name: string) => ({ name, keyCheck: keyCheck(volumeKey(secret, first.configuration.rackId, epoch, name)) });
  await t.rejects(vaults[0].storeShare(first.configuration, first.shares[1]), { code: 'E_VAULT_DIGEST' }, "another member's share");
  await t.rejects(vaults[0].rotate(first.configuration, first.shares[0]), { code: 'E_VAULT_STATE' }, 'rotate before the first share');
  await Promise.all(vaults.map((v, i) => v.storeShare(first.configuration, first.shares[i], [volumeCheck(first.secret, 1, 'vol-a'), volumeCheck(first.secret, 1, 'vol-b')])));
  t.equal(vaults[2].summary().configuration?.epoch, 1);
  t.same(await vaults[2].readShare(), first.shares[2]);
  await t.resolves(vaults[2].storeShare(first.configuration, first.shares[2], [volumeCheck(first.secret, 1, 'vol-a'), volumeCheck(first.secret, 1, 'vol-b')]), 'the same configuration again (a dealer retry)');

  // Rotation: the dealer gets epoch 1's secret from three members, seals it into epoch 2.
  const shares1 = await Promise.all([vaults[4], vaults[1], vaults[3]].map((v) => v.readShare()));
  const secret1 = unlockSecret(first.configuration, shares1);
  t.same(secret1, first.secret);
  const second = dealEpoch({ rackId: first.configuration.rackId, epoch: 2, threshold: 3, memberIds: ids, priors: priorsAfter(first.configuration, secret1) });
  const entriesBefore = arrays.map((a) => a.disk.state.counters.journalEntries);
  // vol-a is re-encrypted under epoch 2's key; vol-b stays on epoch 1's until its turn.
  await Promise.all(vaults.map((v, i) => v.rotate(second.configuration, second.shares[i], [volumeCheck(second.secret, 2, 'vol-a')])));
  t.same(
    arrays.map((a, i) => a.disk.state.counters.journalEntries - entriesBefore[i]),
    [1, 1, 1, 1, 1],
    'a rotation costs one journal entry on each member',
  );
  const map = vaults[0].summary().volumes;
  t.same(map.map((v) => [v.name, v.epoch]), [['vol-b', 1], ['vol-a', 2]]);
  // The recorded epoch's key is the one whose check is recorded: no trial decryption.
  const secret2 = unlockSecret(second.configuration, await Promise.all(vaults.slice(0, 3).map((v) => v.readShare())));
  for (const v of map) t.same(keyCheck(vaults[0].volumeKey(secret2, v.name)), v.keyCheck, `${v.name} key matches its epoch ${v.epoch}`);
  t.same(vaults[0].volumeKey(secret2, 'vol-a', 1), volumeKey(first.secret, first.configuration.rackId, 1, 'vol-a'), 'walk back to epoch 1');
  t.throws(() => vaults[0].volumeKey(secret2, 'vol-c'), { code: 'E_VAULT_EPOCH' }, 'a volume not in the map needs an epoch');
  t.throws(() => vaults[0].volumeKey(secret1, 'vol-a'), { code: 'E_VAULT_AUTH' }, "epoch 1's secret does not open epoch 2's priors");

  // Refusals: rollback to epoch 1, epoch 2 with a different deal, another rack.
  await t.rejects(vaults[0].rotate(first.configuration, first.shares[0]), { code: 'E_VAULT_STALE' }, 'rollback refused');
  await t.rejects(vaults[0].storeShare(first.configuration, first.shares[0]), { code: 'E_VAULT_STALE' }, 'rollback refused by storeShare too');
  const rival = dealEpoch({ rackId: first.configuration.rackId, epoch: 2, threshold: 3, memberIds: ids, priors: [] });
  await t.rejects(vaults[0].storeShare(rival.configuration, rival.shares[0]), { code: 'E_VAULT_STALE' }, 'another configuration of the same epoch');
  const other = dealEpoch({ epoch: 3, threshold: 3, memberIds: ids, priors: [] });
  await t.rejects(vaults[0].rotate(other.configuration, other.shares[0]), { code: 'E_VAULT_ARG' }, 'another rack');
  t.equal(vaults[0].summary().generation, 3, 'refusals changed nothing');

  // Member m2 lost its share: the others' shares give it back, checked against its digest.
  const others = await Promise.all([vaults[0], vaults[2], vaults[4]].map((v) => v.readShare()));
  t.same(vaults[1].reconstituteShare(others), second.shares[1]);
  const wrong = Uint8Array.from(others[0]);
  wrong[5] ^= 1;
  t.throws(() => vaults[1].reconstituteShare([wrong, others[1], others[2]]), { code: 'E_VAULT_DIGEST' }, 'a bad share given is caught by its digest');
  t.throws(() => vaults[1].reconstituteShare(others.slice(0, 2)), { code: 'E_VAULT_SHARES' }, 'too few');
  t.throws(() => unlockSecret(second.configuration, [others[0], others[0], others[1]]), { code: 'E_VAULT_SHARES' }, 'duplicates');

  // A new manager opens the array: the vault reads back the same generation.
  await arrays[0].disk.close();
  const again = await openArray({ connector: arrays[0].cluster.connector(), dataKey: arrays[0].key });
  const reopened = await openVault(again);
  t.same(reopened.summary(), vaults[0].summary());
  t.same(await reopened.readShare(), second.shares[0]);
  await again.close();
  for (const a of arrays.slice(1)) await a.disk.close();
});

t.test('an array without key-erasure mode is refused unless asked for', async (t) => {
  const cluster = new SimCluster(3, 256);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 2, m: 1, journalPieces: 16 });
  await t.rejects(openVault(disk), { code: 'E_VAULT_KEY_ERASURE' }, 'old shares would outlive their rotation');
  t.equal((await openVault(disk, { withoutKeyErasure: true })).initialised, false, 'opened when asked');
  await disk.close();
});

t.test('region bounds and a torn region', async (t) => {
  const { disk } = await memberArray();
  await t.rejects(openVault(disk, { baseSector: disk.sectors - vaultSectors + 1 }), { code: 'E_VAULT_ARG' });
  await t.rejects(openVault(disk, { baseSector: -1 }), { code: 'E_VAULT_ARG' });
  const vault = await openVault(disk, { baseSector: 8 });
  await vault.init('m1');
  t.equal((await openVault(disk)).initialised, false, 'the region is where it was asked for');
  await t.rejects(vault.init('bad id'), { code: 'E_VAULT_ARG' });
  // A write outside the vault's transactions to one of its sectors: the marker no longer matches.
  await disk.writeSectors(9, Buffer.alloc(4096, 1));
  await t.rejects(openVault(disk, { baseSector: 8 }), { code: 'E_VAULT_TORN' });
  await disk.close();
});
