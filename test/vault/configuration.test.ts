// Configurations and epochs: encode/decode round trips and every malformed
// field refused, a member walking back from the newest epoch to every older
// one through the sealed priors, the bound on priors carried, and keys
// derived with distinct labels per purpose, epoch and volume.
import t from 'tap';
import { dealEpoch, priorsAfter } from '../../vault/dealer.ts';
import { configurationDigest, decodeConfiguration, encodeConfiguration, openPriors, secretOfEpoch, type Configuration } from '../../vault/configuration.ts';
import { keyCheck, priorSecretsKey, secretCheck, volumeKey } from '../../vault/epoch-keys.ts';
import { combineShares } from '../../vault/shamir.ts';
import { priorEpochsMax } from '../../vault/vault-limits.ts';

const members = ['sled-a', 'sled-b', 'sled-c', 'sled-d', 'sled-e'];

/** Rotates `count` times from a fresh rack; returns every epoch's deal. */
function history(count: number) {
  const deals = [dealEpoch({ epoch: 1, threshold: 3, memberIds: members, priors: [] })];
  for (let e = 2; e <= count; e++) {
    const last = deals[deals.length - 1];
    deals.push(dealEpoch({ rackId: last.configuration.rackId, epoch: e, threshold: 3, memberIds: members, priors: priorsAfter(last.configuration, last.secret) }));
  }
  return deals;
}

t.test('encode and decode round trip', async (t) => {
  const [, second] = history(2);
  const bytes = encodeConfiguration(second.configuration);
  const back = decodeConfiguration(bytes);
  t.same(encodeConfiguration(back), bytes);
  t.same(configurationDigest(back), configurationDigest(second.configuration));
  const padded = new Uint8Array(bytes.length + 100);
  padded.set(bytes);
  t.same(decodeConfiguration(padded, true), back, 'zero padding after it, as in the vault region');
  t.throws(() => decodeConfiguration(padded), { code: 'E_VAULT_FORMAT' }, 'but not where the record must end');
});

t.test('malformed configurations are refused by field', async (t) => {
  const bytes = encodeConfiguration(history(2)[1].configuration);
  const mutate = (what: string, f: (b: Uint8Array) => Uint8Array) => t.throws(() => decodeConfiguration(f(Uint8Array.from(bytes))), { code: 'E_VAULT_FORMAT' }, what);
  mutate('magic', (b) => ((b[0] ^= 1), b));
  mutate('truncated', (b) => b.subarray(0, b.length - 1));
  mutate('every prefix', (b) => b.subarray(0, 40));
  mutate('epoch 0', (b) => (b.fill(0, 24, 32), b));
  mutate('threshold above the member count', (b) => ((b[32] = 6), b));
  mutate('threshold 1', (b) => ((b[32] = 1), b));
  mutate('a member id with a space', (b) => ((b[35] = 0x20), b));
  mutate('trailing byte', (b) => Uint8Array.of(...b, 0));
  for (let cut = 0; cut < bytes.length; cut += 7) t.throws(() => decodeConfiguration(bytes.subarray(0, cut)), { code: 'E_VAULT_FORMAT' });
  const c = history(1)[0].configuration;
  const bad = (what: string, change: Partial<Configuration>) => t.throws(() => encodeConfiguration({ ...c, ...change }), { code: 'E_VAULT_ARG' }, what);
  bad('duplicate member', { members: [c.members[0], c.members[0], c.members[1]] });
  bad('one member', { members: [c.members[0]], threshold: 2 });
  bad('rack id length', { rackId: new Uint8Array(15) });
  bad('epoch not an integer', { epoch: 1.5 });
  bad('long member id', { members: [{ id: 'x'.repeat(65), shareDigest: new Uint8Array(32) }, ...c.members.slice(1)] });
  bad('256 members', { members: Array.from({ length: 256 }, (_, i) => ({ id: `m${i}`, shareDigest: new Uint8Array(32) })) });
});

t.test('a member holding the newest secret walks back to every epoch', async (t) => {
  const deals = history(6);
  const newest = deals[5];
  // Any three members' shares of epoch 6 give its secret...
  const secret = combineShares([newest.shares[4], newest.shares[0], newest.shares[2]], 3);
  t.same(secret, newest.secret);
  // ...and from it every older epoch's secret, and so every older volume key.
  for (const d of deals) {
    t.same(secretOfEpoch(newest.configuration, secret, d.configuration.epoch), d.secret, `epoch ${d.configuration.epoch}`);
    t.same(volumeKey(secretOfEpoch(newest.configuration, secret, d.configuration.epoch), d.configuration.rackId, d.configuration.epoch, 'vol0'), volumeKey(d.secret, d.configuration.rackId, d.configuration.epoch, 'vol0'));
  }
  t.equal(openPriors(newest.configuration, secret).length, 5);
  t.throws(() => secretOfEpoch(newest.configuration, deals[4].secret, 1), { code: 'E_VAULT_AUTH' }, 'an older secret does not open the newest seal');
  t.throws(() => secretOfEpoch(newest.configuration, deals[4].secret, 6), { code: 'E_VAULT_AUTH' }, 'nor passes for the newest');
  t.throws(() => secretOfEpoch(newest.configuration, secret, 7), { code: 'E_VAULT_EPOCH' }, 'a future epoch');
  t.throws(() => secretOfEpoch(deals[0].configuration, deals[0].secret, 0), { code: 'E_VAULT_EPOCH' }, 'epoch 1 carries no priors');
  const tampered = structuredClone(newest.configuration);
  tampered.sealedPriors.ciphertext[3] ^= 1;
  t.throws(() => openPriors(tampered, secret), { code: 'E_VAULT_AUTH' }, 'a flipped bit in the seal');
  const moved = { ...newest.configuration, epoch: 9, secretCheck: secretCheck(secret, newest.configuration.rackId, 9) };
  t.throws(() => openPriors(moved, secret), { code: 'E_VAULT_AUTH' }, 'a seal bound to another epoch');
});

t.test('priors are bounded: the oldest are dropped', async (t) => {
  const deals = history(priorEpochsMax + 3);
  const last = deals[deals.length - 1];
  const priors = openPriors(last.configuration, last.secret);
  t.equal(priors.length, priorEpochsMax);
  t.same(priors.map((p) => p.epoch), Array.from({ length: priorEpochsMax }, (_, i) => last.configuration.epoch - 1 - i));
});

t.test('keys have distinct labels per purpose, epoch and volume', async (t) => {
  const { secret, configuration: c } = history(1)[0];
  const keys = [
    priorSecretsKey(secret, c.rackId, 1),
    secretCheck(secret, c.rackId, 1),
    volumeKey(secret, c.rackId, 1, 'a'),
    volumeKey(secret, c.rackId, 2, 'a'),
    volumeKey(secret, c.rackId, 1, 'b'),
    volumeKey(secret, new Uint8Array(16), 1, 'a'),
  ].map((k) => Buffer.from(k).toString('hex'));
  t.equal(new Set(keys).size, keys.length);
  t.equal(keyCheck(volumeKey(secret, c.rackId, 1, 'a')).length, 16);
  t.throws(() => volumeKey(secret, c.rackId, 1, 'a/b'), { code: 'E_VAULT_ARG' });
  t.throws(() => volumeKey(secret, c.rackId, 1, ''), { code: 'E_VAULT_ARG' });
  t.throws(() => volumeKey(secret.subarray(1), c.rackId, 1, 'a'), { code: 'E_VAULT_ARG' });
});
