// What a disk node's RAM holds of a trust quorum: after a deal to three
// member arrays and after a rotation, every node of every member is scanned
// for the rack secrets, every share, the derived keys and the prior-secrets
// keys, in the clear (whole, or any 16-byte half of one); after the
// rotation, in key-erasure mode, no node holds any 64-byte run of the old
// share record's ciphertext (its home sector was overwritten, and the
// journal copies of both entries were trimmed after their apply).
import t from 'tap';
import { dataStart, locate, slotOfShard } from '../../array-manager/geometry.ts';
import type { VirtualDisk } from '../../array-manager/virtual-disk.ts';
import { dealEpoch, priorsAfter, type Deal } from '../../vault/dealer.ts';
import { keyCheck, priorSecretsKey, volumeKey } from '../../vault/epoch-keys.ts';
import { openVault } from '../../vault/vault.ts';
import { memberArray, scanRam, type MemberArray } from './member-array.ts';

const ids = ['m1', 'm2', 'm3'];
/** The share record's sector in the vault region (docs/VAULT.md). */
const shareRecordSector = 2;

/** Each secret of a deal, whole and as its two 16-byte halves. */
function needles(deal: Deal, label: string): Map<string, Uint8Array> {
  const c = deal.configuration;
  const secrets: [string, Uint8Array][] = [
    ['rack secret', deal.secret],
    ['prior-secrets key', priorSecretsKey(deal.secret, c.rackId, c.epoch)],
    ...['vol-a', 'vol-b'].map((v) => [`volume key ${v}`, volumeKey(deal.secret, c.rackId, c.epoch, v)] as [string, Uint8Array]),
    ...deal.shares.map((s, i) => [`share of ${ids[i]}`, s.subarray(0, 32)] as [string, Uint8Array]),
  ];
  const out = new Map<string, Uint8Array>();
  for (const [name, bytes] of secrets) {
    out.set(`${label} ${name}`, bytes);
    out.set(`${label} ${name} (first half)`, bytes.subarray(0, 16));
    out.set(`${label} ${name} (second half)`, bytes.subarray(16));
  }
  return out;
}

/** The ciphertext of a user sector as its data shard sits in its node's memory. */
function storedCiphertext(member: MemberArray, sector: number): Uint8Array {
  const g = member.disk.state.geometry;
  const { row, shard } = locate(g, sector);
  const node = member.cluster.nodes[slotOfShard(g, row, shard)];
  return Uint8Array.from(node.store.view(dataStart(g) + row, 1)[0]);
}

function volumes(deal: Deal, names: string[]) {
  const c = deal.configuration;
  return names.map((name) => ({ name, keyCheck: keyCheck(volumeKey(deal.secret, c.rackId, c.epoch, name)) }));
}

t.test('no secret in the clear on any node; no old share ciphertext after a rotation', async (t) => {
  const members = await Promise.all(ids.map(() => memberArray()));
  const vaults = await Promise.all(members.map((m) => openVault(m.disk)));
  await Promise.all(vaults.map((v, i) => v.init(ids[i])));
  const first = dealEpoch({ epoch: 1, threshold: 2, memberIds: ids, priors: [] });
  await Promise.all(vaults.map((v, i) => v.storeShare(first.configuration, first.shares[i], volumes(first, ['vol-a', 'vol-b']))));
  const afterDeal = members.flatMap((m) => scanRam(m.cluster, needles(first, 'epoch 1')));
  t.same(afterDeal, [], `after the deal: ${needles(first, '').size} needles, none on the ${members.length * 3} nodes`);

  // The share record's ciphertext as each member's node holds it now, as 64-byte runs.
  const oldCiphertext = members.map((m) => storedCiphertext(m, shareRecordSector));
  const second = dealEpoch({ rackId: first.configuration.rackId, epoch: 2, threshold: 2, memberIds: ids, priors: priorsAfter(first.configuration, first.secret) });
  await Promise.all(vaults.map((v, i) => v.rotate(second.configuration, second.shares[i], volumes(second, ['vol-a']))));

  const afterRotation = members.flatMap((m) => [...scanRam(m.cluster, needles(first, 'epoch 1')), ...scanRam(m.cluster, needles(second, 'epoch 2'))]);
  t.same(afterRotation, [], 'after the rotation: neither epoch in the clear');
  members.forEach((m, i) => {
    const runs = new Map<string, Uint8Array>();
    for (let at = 0; at < 4096; at += 64) runs.set(`old share ciphertext bytes ${at}..${at + 63}`, oldCiphertext[i].subarray(at, at + 64));
    t.same(scanRam(m.cluster, runs), [], `${ids[i]}: no 64-byte run of the old share record's ciphertext on any node`);
    // Compared as buffers: tap's diff of two 4 KiB arrays costs seconds.
    t.notOk(Buffer.from(storedCiphertext(m, shareRecordSector)).equals(Buffer.from(oldCiphertext[i])), `${ids[i]}: the home sector holds new ciphertext`);
  });
  // The control: the scan does find what is there (the new share record's ciphertext).
  const present = new Map([['new share ciphertext', storedCiphertext(members[0], shareRecordSector).subarray(0, 64)]]);
  t.equal(scanRam(members[0].cluster, present).length, 1, 'the scan finds ciphertext that is there');
  await Promise.all(members.map((m: { disk: VirtualDisk }) => m.disk.close()));
});
