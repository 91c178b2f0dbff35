// Shamir secret sharing of a 32-byte secret over GF(2^8) (Rijndael
// polynomial), byte by byte: split into n shares with threshold t, combine
// any t of them into the secret (the polynomial at x = 0), or reconstitute
// the share of any member at its own x-coordinate from t others (Oxide's
// gfss does both; a member that lost its share gets it back this way).
//
// A share is 33 bytes: the 32 y-bytes, then x (1..255), the layout of the
// audited shamir-secret-sharing package, which the tests cross-check
// against. Member i of a configuration holds the share at x = i + 1.
//
// Secret bytes (the secret, the random coefficients, the y-values) only pass
// through gf256-ct.ts; x-coordinates are public and are checked with plain
// branches. Buffers holding secrets are the caller's to zero, except the
// coefficients, which are zeroed here.
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { gfInvCt, gfMulCt } from './gf256-ct.ts';
import { VaultError } from './vault-errors.ts';
import { membersMax, secretBytes, shareBytes, thresholdMin } from './vault-limits.ts';

/** The x-coordinate of a share (public). */
export function shareX(share: Uint8Array): number {
  return share[secretBytes];
}

/** Splits `secret` into `n` shares at x = 1..n; any `t` of them recover it, t - 1 tell nothing. */
export function splitSecret(secret: Uint8Array, n: number, t: number): Uint8Array[] {
  if (secret.length !== secretBytes) throw new VaultError('E_VAULT_ARG', `secret is ${secret.length} bytes, not ${secretBytes}`);
  if (!Number.isInteger(n) || n < thresholdMin || n > membersMax) throw new VaultError('E_VAULT_ARG', `share count ${n} is not in [${thresholdMin}, ${membersMax}]`);
  if (!Number.isInteger(t) || t < thresholdMin || t > n) throw new VaultError('E_VAULT_ARG', `threshold ${t} is not in [${thresholdMin}, ${n}]`);
  // Coefficients 1..t-1 of each byte's polynomial, uniformly random; coefficient 0 is the secret byte.
  const coefficients = randomBytes((t - 1) * secretBytes);
  const shares: Uint8Array[] = [];
  for (let x = 1; x <= n; x++) {
    const share = new Uint8Array(shareBytes);
    for (let b = 0; b < secretBytes; b++) {
      // Horner's rule from the highest coefficient down.
      let y = 0;
      for (let c = t - 2; c >= 0; c--) y = gfMulCt(y, x) ^ coefficients[c * secretBytes + b];
      share[b] = gfMulCt(y, x) ^ secret[b];
    }
    share[secretBytes] = x;
    shares.push(share);
  }
  coefficients.fill(0);
  return shares;
}

/** Checks the shares can be interpolated: enough of them, 33 bytes each, distinct x in 1..255. */
function checkShares(shares: readonly Uint8Array[], threshold: number): void {
  if (!Number.isInteger(threshold) || threshold < thresholdMin || threshold > membersMax) {
    throw new VaultError('E_VAULT_ARG', `threshold ${threshold} is not in [${thresholdMin}, ${membersMax}]`);
  }
  if (shares.length < threshold) throw new VaultError('E_VAULT_SHARES', `${shares.length} shares given; the threshold is ${threshold}`);
  const seen = new Set<number>();
  for (const s of shares.slice(0, threshold)) {
    if (s.length !== shareBytes) throw new VaultError('E_VAULT_SHARES', `a share is ${s.length} bytes, not ${shareBytes}`);
    const x = shareX(s);
    if (x === 0) throw new VaultError('E_VAULT_SHARES', 'a share has x = 0, the secret\'s coordinate');
    if (seen.has(x)) throw new VaultError('E_VAULT_SHARES', `two shares have x = ${x}`);
    seen.add(x);
  }
}

/**
 * The value at `at` of the polynomial through the first `threshold` shares
 * (Lagrange form): the secret for at = 0, a member's y-value for at = its x.
 */
function interpolate(shares: readonly Uint8Array[], threshold: number, at: number): Uint8Array {
  checkShares(shares, threshold);
  const used = shares.slice(0, threshold);
  const out = new Uint8Array(secretBytes);
  for (let i = 0; i < used.length; i++) {
    const xi = shareX(used[i]);
    // Lagrange basis at `at`: prod over j != i of (at - xj) / (xi - xj); subtraction is XOR.
    let numerator = 1;
    let denominator = 1;
    for (let j = 0; j < used.length; j++) {
      if (j === i) continue;
      const xj = shareX(used[j]);
      numerator = gfMulCt(numerator, at ^ xj);
      denominator = gfMulCt(denominator, xi ^ xj);
    }
    const weight = gfMulCt(numerator, gfInvCt(denominator));
    for (let b = 0; b < secretBytes; b++) out[b] ^= gfMulCt(weight, used[i][b]);
  }
  return out;
}

/** The secret from `threshold` shares (the first `threshold` given are used). */
export function combineShares(shares: readonly Uint8Array[], threshold: number): Uint8Array {
  return interpolate(shares, threshold, 0);
}

/** The share at x = `x` (1..255) from `threshold` others: how a member gets back a lost share. */
export function reconstituteShare(shares: readonly Uint8Array[], threshold: number, x: number): Uint8Array {
  if (!Number.isInteger(x) || x < 1 || x > membersMax) throw new VaultError('E_VAULT_ARG', `x-coordinate ${x} is not in [1, ${membersMax}]`);
  const y = interpolate(shares, threshold, x);
  const share = new Uint8Array(shareBytes);
  share.set(y);
  share[secretBytes] = x;
  y.fill(0);
  return share;
}

const shareDigestDomain = new TextEncoder().encode('teearray tq v1 share digest');

/** SHA-256 over a domain label and the share's 33 bytes: what a configuration lists per member. */
export function shareDigest(share: Uint8Array): Uint8Array {
  if (share.length !== shareBytes) throw new VaultError('E_VAULT_ARG', `a share is ${share.length} bytes, not ${shareBytes}`);
  return sha256.create().update(shareDigestDomain).update(share).digest();
}
