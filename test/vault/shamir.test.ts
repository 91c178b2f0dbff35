// Shamir secret sharing: known answers (shares made by the audited
// shamir-secret-sharing package), any t shares recover the secret and any
// member's share, t - 1 shares are distributed the same whatever the
// secret (chi-square), both directions of a cross-check against that
// package, and every bound refused with a typed error.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { combine as referenceCombine, split as referenceSplit } from 'shamir-secret-sharing';
import { combineShares, reconstituteShare, shareDigest, shareX, splitSecret } from '../../vault/shamir.ts';

const vectors = JSON.parse(readFileSync(new URL('../vectors/vault-shamir.json', import.meta.url), 'utf8'));
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

/** Every k-subset of `items` (small n only). */
function subsets<T>(items: T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [first, ...s]), ...subsets(rest, k)];
}

t.test('known answers: shares from shamir-secret-sharing 0.0.4', async (t) => {
  const shares = (vectors.shares as string[]).map(hex);
  for (const three of subsets(shares, 3)) t.equal(Buffer.from(combineShares(three, 3)).toString('hex'), vectors.secret);
  // A lost share comes back at its own x from any three others.
  const lost = shares[4];
  t.same(reconstituteShare(shares.slice(0, 3), 3, shareX(lost)), lost, 'share at x of the fifth from the first three');
});

t.test('a hand-computable line: t = 2, secret 0, slope {57}: the share at {83} is {c1} (FIPS 197)', async (t) => {
  const share = (x: number, y: number) => Uint8Array.of(...new Uint8Array(32).fill(y), x);
  // f(x) = {57}*x: f(1) = {57}, f(2) = {ae}.
  const line = [share(1, 0x57), share(2, 0xae)];
  t.same(reconstituteShare(line, 2, 0x83), share(0x83, 0xc1));
  t.same(combineShares(line, 2), new Uint8Array(32), 'f(0) = 0');
});

t.test('any t of n shares recover the secret and every share', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 2, max: 7 }), fc.integer({ min: 0, max: 5 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), async (threshold, extra, secret) => {
      const n = threshold + extra;
      const shares = splitSecret(secret, n, threshold);
      if (!shares.every((s, i) => shareX(s) === i + 1)) return false;
      // A random t-subset, in a random order, recovers the secret and each other member's share.
      const pick = [...shares].sort(() => Math.random() - 0.5).slice(0, threshold);
      if (!Buffer.from(combineShares(pick, threshold)).equals(Buffer.from(secret))) return false;
      return shares.every((s) => Buffer.from(reconstituteShare(pick, threshold, shareX(s))).equals(Buffer.from(s)));
    }),
    { numRuns: 200 },
  );
  const shares = splitSecret(randomBytes(32), 6, 3);
  for (const three of subsets(shares, 3)) t.same(combineShares(three, 3), combineShares(shares, 3));
  t.equal(subsets(shares, 3).length, 20, 'all 20 subsets of 3 of 6 agree');
});

t.test('t - 1 shares are distributed alike whatever the secret (chi-square)', async (t) => {
  // For each secret, the bytes of the t - 1 shares over many splits; with t - 1 shares every
  // secret is equally consistent, so both histograms must be uniform over 256 values.
  const splits = 1500;
  const threshold = 3;
  for (const fillByte of [0x00, 0xff]) {
    const counts = new Array<number>(256).fill(0);
    const secret = new Uint8Array(32).fill(fillByte);
    for (let i = 0; i < splits; i++) for (const s of splitSecret(secret, 5, threshold).slice(0, threshold - 1)) for (let b = 0; b < 32; b++) counts[s[b]]++;
    const total = splits * (threshold - 1) * 32;
    const expected = total / 256;
    const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    // df = 255: the 1e-6 upper tail starts near 371, so a correct split fails about once in a million runs.
    t.ok(chi2 < 371, `secret of 0x${fillByte.toString(16)} bytes: chi-square ${chi2.toFixed(1)} over ${total} bytes`);
  }
});

t.test('cross-check with shamir-secret-sharing in both directions', async (t) => {
  for (let i = 0; i < 30; i++) {
    // The reference insists on a plain Uint8Array, not a Buffer.
    const secret = Uint8Array.from(randomBytes(32));
    const n = 2 + (i % 9);
    const threshold = 2 + (i % (n - 1));
    const ours = splitSecret(secret, n, threshold);
    t.same(await referenceCombine(ours.slice(n - threshold)), secret, `reference combines ours (t=${threshold} n=${n})`);
    const theirs = await referenceSplit(secret, n, threshold);
    t.same(combineShares(theirs.slice(0, threshold), threshold), secret, `we combine the reference's (t=${threshold} n=${n})`);
  }
});

t.test('digests name shares', async (t) => {
  const [a, b] = splitSecret(randomBytes(32), 3, 2);
  t.equal(shareDigest(a).length, 32);
  t.notSame(shareDigest(a), shareDigest(b));
  const flipped = Uint8Array.from(a);
  flipped[0] ^= 1;
  t.notSame(shareDigest(a), shareDigest(flipped), 'one bit changes the digest');
});

t.test('bounds and bad shares get typed errors', async (t) => {
  const s = randomBytes(32);
  for (const [n, th] of [[1, 1], [256, 2], [5, 1], [5, 6], [2.5, 2]]) t.throws(() => splitSecret(s, n, th), { code: 'E_VAULT_ARG' }, `n=${n} t=${th}`);
  t.throws(() => splitSecret(randomBytes(31), 3, 2), { code: 'E_VAULT_ARG' }, 'a 31-byte secret');
  t.doesNotThrow(() => splitSecret(s, 255, 255), 'n = t = 255');
  const shares = splitSecret(s, 4, 3);
  t.throws(() => combineShares(shares.slice(0, 2), 3), { code: 'E_VAULT_SHARES' }, 'fewer than t');
  t.throws(() => combineShares([shares[0], shares[0], shares[1]], 3), { code: 'E_VAULT_SHARES' }, 'duplicate x');
  t.throws(() => combineShares([shares[0], shares[1], shares[2].subarray(0, 32)], 3), { code: 'E_VAULT_SHARES' }, 'a short share');
  const atZero = Uint8Array.from(shares[2]);
  atZero[32] = 0;
  t.throws(() => combineShares([shares[0], shares[1], atZero], 3), { code: 'E_VAULT_SHARES' }, 'x = 0');
  t.throws(() => reconstituteShare(shares, 3, 0), { code: 'E_VAULT_ARG' }, 'reconstituting x = 0 (the secret) is not a share');
  t.throws(() => reconstituteShare(shares, 3, 256), { code: 'E_VAULT_ARG' });
  t.throws(() => shareDigest(new Uint8Array(32)), { code: 'E_VAULT_ARG' });
});
