// A trust-quorum configuration: rack id, epoch, threshold, the members with
// the digest of each one's share, and the older epochs' secrets sealed under
// a key derived from this epoch's secret (XChaCha20-Poly1305, the rack id
// and epoch as associated data). A member that missed rotations and gets the
// newest configuration and share can, once t members' shares give it the
// newest secret, open the seal and reach every older epoch still carried.
//
// The configuration is public (it holds digests and a sealed blob, no
// secret in the clear); its encoding is in docs/VAULT.md ("Configuration").
import { randomBytes } from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes } from '@noble/ciphers/utils.js';
import { ByteReader, ByteWriter } from './byte-cursor.ts';
import { checkName, epochBytes, priorSecretsKey, secretCheck } from './epoch-keys.ts';
import { shareDigest, shareX } from './shamir.ts';
import { VaultError } from './vault-errors.ts';
import { memberIdBytesMax, membersMax, priorEpochsMax, secretBytes, shareBytes, thresholdMin } from './vault-limits.ts';

export const rackIdBytes = 16;
const magic = 'TQCONF01';
const sealNonceBytes = 24;
const sealTagBytes = 16;
/** One sealed prior epoch: its epoch (u64) and secret. */
const priorEntryBytes = 8 + secretBytes;

export interface Member {
  id: string;
  /** shareDigest() of the member's share in this epoch. */
  shareDigest: Uint8Array;
}

export interface Configuration {
  rackId: Uint8Array;
  /** 1, 2, ...: strictly increasing across rotations. */
  epoch: number;
  threshold: number;
  /** Member i holds the share at x = i + 1. */
  members: Member[];
  /** secretCheck() of the epoch's secret: a combined secret is checked against it before use. */
  secretCheck: Uint8Array;
  /** XChaCha20-Poly1305 nonce and ciphertext of the prior epochs' secrets; empty in epoch 1's. */
  sealedPriors: { nonce: Uint8Array; ciphertext: Uint8Array };
}

/** An older epoch's secret, as sealed in a configuration. */
export interface EpochSecret {
  epoch: number;
  secret: Uint8Array;
}

/** Checks every field against its bounds; called on every configuration built or decoded. */
export function checkConfiguration(c: Configuration): void {
  if (c.rackId.length !== rackIdBytes) throw new VaultError('E_VAULT_ARG', `rack id is ${c.rackId.length} bytes, not ${rackIdBytes}`);
  if (!Number.isSafeInteger(c.epoch) || c.epoch < 1) throw new VaultError('E_VAULT_ARG', `epoch ${c.epoch} is not a positive integer`);
  if (c.members.length < thresholdMin || c.members.length > membersMax) throw new VaultError('E_VAULT_ARG', `${c.members.length} members: not in [${thresholdMin}, ${membersMax}]`);
  if (!Number.isInteger(c.threshold) || c.threshold < thresholdMin || c.threshold > c.members.length) {
    throw new VaultError('E_VAULT_ARG', `threshold ${c.threshold} is not in [${thresholdMin}, ${c.members.length}]`);
  }
  const ids = new Set<string>();
  for (const m of c.members) {
    checkName('member id', m.id, memberIdBytesMax);
    if (ids.has(m.id)) throw new VaultError('E_VAULT_ARG', `member id ${m.id} appears twice`);
    ids.add(m.id);
    if (m.shareDigest.length !== 32) throw new VaultError('E_VAULT_ARG', `member ${m.id}: share digest is not 32 bytes`);
  }
  if (c.secretCheck.length !== 32) throw new VaultError('E_VAULT_ARG', 'secret check is not 32 bytes');
  const sealed = c.sealedPriors.ciphertext.length;
  if (c.sealedPriors.nonce.length !== sealNonceBytes) throw new VaultError('E_VAULT_ARG', `sealed priors: nonce is not ${sealNonceBytes} bytes`);
  if (sealed !== 0 && (sealed < sealTagBytes + 1 + priorEntryBytes || sealed > sealTagBytes + 1 + priorEpochsMax * priorEntryBytes || (sealed - sealTagBytes - 1) % priorEntryBytes !== 0)) {
    throw new VaultError('E_VAULT_ARG', `sealed priors: ${sealed} bytes is not a sealed list of 1 to ${priorEpochsMax} epochs`);
  }
}

/** The x-coordinate of `memberId`'s share, or a typed error when it is not a member. */
export function memberX(c: Configuration, memberId: string): number {
  const i = c.members.findIndex((m) => m.id === memberId);
  if (i < 0) throw new VaultError('E_VAULT_ARG', `${memberId} is not a member of epoch ${c.epoch}`);
  return i + 1;
}

/** Checks that `share` is `memberId`'s share of this configuration (its x and its digest). */
export function checkMemberShare(c: Configuration, memberId: string, share: Uint8Array): void {
  if (share.length !== shareBytes) throw new VaultError('E_VAULT_ARG', `a share is ${share.length} bytes, not ${shareBytes}`);
  const x = memberX(c, memberId);
  if (shareX(share) !== x) throw new VaultError('E_VAULT_DIGEST', `share has x = ${shareX(share)}; ${memberId} is at x = ${x}`);
  if (!equalBytes(shareDigest(share), c.members[x - 1].shareDigest)) throw new VaultError('E_VAULT_DIGEST', `share does not match ${memberId}'s digest in epoch ${c.epoch}`);
}

function sealAad(rackId: Uint8Array, epoch: number): Uint8Array {
  return new ByteWriter().ascii(magic).bytes(rackId).bytes(epochBytes(epoch)).finish();
}

/** Seals the newest `priorEpochsMax` of `priors` (all older than `epoch`) under the key of `epoch`'s secret. */
export function sealPriors(secret: Uint8Array, rackId: Uint8Array, epoch: number, priors: readonly EpochSecret[]): Configuration['sealedPriors'] {
  if (priors.length === 0) return { nonce: new Uint8Array(sealNonceBytes), ciphertext: new Uint8Array(0) };
  const nonce = randomBytes(sealNonceBytes);
  const kept = [...priors].sort((a, b) => b.epoch - a.epoch).slice(0, priorEpochsMax);
  const w = new ByteWriter().u8(kept.length);
  for (const p of kept) {
    if (!(p.epoch >= 1 && p.epoch < epoch) || p.secret.length !== secretBytes) throw new VaultError('E_VAULT_ARG', `prior epoch ${p.epoch} is not a secret of an epoch before ${epoch}`);
    w.u64(p.epoch).bytes(p.secret);
  }
  const plain = w.finish();
  const key = priorSecretsKey(secret, rackId, epoch);
  const ciphertext = xchacha20poly1305(key, nonce, sealAad(rackId, epoch)).encrypt(plain);
  plain.fill(0);
  key.fill(0);
  return { nonce, ciphertext };
}

/** Refuses a secret that is not `c`'s epoch's (a wrong or corrupt share got into the combination). */
export function checkSecret(c: Configuration, secret: Uint8Array): void {
  const check = secretCheck(secret, c.rackId, c.epoch);
  if (!equalBytes(check, c.secretCheck)) throw new VaultError('E_VAULT_AUTH', `the secret given is not epoch ${c.epoch}'s`);
}

/** Opens the sealed prior secrets with this epoch's secret; the caller zeroes the returned secrets. */
export function openPriors(c: Configuration, secret: Uint8Array): EpochSecret[] {
  checkSecret(c, secret);
  if (c.sealedPriors.ciphertext.length === 0) return [];
  const key = priorSecretsKey(secret, c.rackId, c.epoch);
  let plain: Uint8Array;
  try {
    plain = xchacha20poly1305(key, c.sealedPriors.nonce, sealAad(c.rackId, c.epoch)).decrypt(c.sealedPriors.ciphertext);
  } catch {
    throw new VaultError('E_VAULT_AUTH', `epoch ${c.epoch}: prior secrets do not open with the secret given (not this epoch's secret)`);
  } finally {
    key.fill(0);
  }
  const r = new ByteReader(plain, 'prior secrets');
  const out: EpochSecret[] = [];
  for (let i = r.u8('count'); i > 0; i--) out.push({ epoch: r.u64('epoch'), secret: Uint8Array.from(r.bytesOf('secret', secretBytes)) });
  plain.fill(0);
  return out;
}

/** The secret of `epoch` given the secret of configuration `c`'s epoch: itself, or from the sealed priors. */
export function secretOfEpoch(c: Configuration, secret: Uint8Array, epoch: number): Uint8Array {
  checkSecret(c, secret);
  if (epoch === c.epoch) return Uint8Array.from(secret);
  const priors = openPriors(c, secret);
  const found = priors.find((p) => p.epoch === epoch);
  const out = found ? Uint8Array.from(found.secret) : undefined;
  for (const p of priors) p.secret.fill(0);
  if (!out) throw new VaultError('E_VAULT_EPOCH', `epoch ${epoch} is not among the ${priors.length} prior epochs configuration ${c.epoch} carries`);
  return out;
}

export function encodeConfiguration(c: Configuration): Uint8Array {
  checkConfiguration(c);
  const w = new ByteWriter().ascii(magic).bytes(c.rackId).u64(c.epoch).u8(c.threshold).u8(c.members.length);
  for (const m of c.members) w.name(m.id).bytes(m.shareDigest);
  return w.bytes(c.secretCheck).bytes(c.sealedPriors.nonce).u16(c.sealedPriors.ciphertext.length).bytes(c.sealedPriors.ciphertext).finish();
}

/** Decodes and checks a configuration; `padded` allows zero bytes after it (a sector region). */
export function decodeConfiguration(bytes: Uint8Array, padded = false): Configuration {
  const r = new ByteReader(bytes, 'configuration');
  r.magic(magic);
  const rackId = Uint8Array.from(r.bytesOf('rack id', rackIdBytes));
  const epoch = r.u64('epoch');
  const threshold = r.u8('threshold');
  const count = r.u8('member count');
  const members: Member[] = [];
  for (let i = 0; i < count; i++) members.push({ id: r.name('member id'), shareDigest: Uint8Array.from(r.bytesOf('share digest', 32)) });
  const secretCheck = Uint8Array.from(r.bytesOf('secret check', 32));
  const nonce = Uint8Array.from(r.bytesOf('seal nonce', sealNonceBytes));
  const ciphertext = Uint8Array.from(r.bytesOf('sealed priors', r.u16('sealed length')));
  if (padded) r.end();
  else if (r.rest() !== 0) throw new VaultError('E_VAULT_FORMAT', 'configuration: bytes after the record');
  const c: Configuration = { rackId, epoch, threshold, members, secretCheck, sealedPriors: { nonce, ciphertext } };
  try {
    checkConfiguration(c);
  } catch (err) {
    throw new VaultError('E_VAULT_FORMAT', (err as Error).message);
  }
  return c;
}

/** SHA-256 of the encoding: names a configuration (in the commit marker, on the command line). */
export function configurationDigest(c: Configuration): Uint8Array {
  return sha256(encodeConfiguration(c));
}
