// Keys derived from an epoch's rack secret, each for one purpose (HKDF-SHA-256,
// RFC 5869, with the rack id as salt and a distinct label in `info`):
//
//   prior-secrets key (epoch)        seals the older epochs' secrets inside the configuration
//   secret check (epoch)             public: tells the epoch's secret from any other
//   volume key (epoch, volume)       encrypts one protected volume
//
// and the key check value of a volume key (HMAC-SHA-256 under the key over a
// label, truncated), stored in the volume map so that a service holding the
// recorded epoch's key knows it is the right one without a trial decryption.
// Every function returns a fresh buffer the caller zeroes when done.
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { VaultError } from './vault-errors.ts';
import { keyCheckBytes, secretBytes, volumeNameBytesMax } from './vault-limits.ts';

const encoder = new TextEncoder();
const priorSecretsLabel = encoder.encode('teearray tq v1 prior-secrets key');
const volumeKeyLabel = encoder.encode('teearray tq v1 volume key');
const keyCheckLabel = encoder.encode('teearray tq v1 volume key check');
const secretCheckLabel = encoder.encode('teearray tq v1 rack secret check');

/** Printable ASCII without spaces or slashes: ids and names end up in logs and file names. */
const namePattern = /^[A-Za-z0-9._:-]+$/;

/** Checks a member id or volume name: 1..max bytes of [A-Za-z0-9._:-]. */
export function checkName(what: string, name: string, max: number): void {
  if (typeof name !== 'string' || name.length < 1 || name.length > max || !namePattern.test(name)) {
    throw new VaultError('E_VAULT_ARG', `${what} must be 1 to ${max} characters of [A-Za-z0-9._:-]`);
  }
}

/** Big-endian u64 of a safe-integer epoch. */
export function epochBytes(epoch: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(epoch));
  return out;
}

function derive(secret: Uint8Array, rackId: Uint8Array, ...info: Uint8Array[]): Uint8Array {
  if (secret.length !== secretBytes) throw new VaultError('E_VAULT_ARG', `secret is ${secret.length} bytes, not ${secretBytes}`);
  const joined = new Uint8Array(info.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of info) {
    joined.set(part, at);
    at += part.length;
  }
  return hkdf(sha256, secret, rackId, joined, secretBytes);
}

/** The key that seals the configuration of `epoch`'s prior secrets. */
export function priorSecretsKey(secret: Uint8Array, rackId: Uint8Array, epoch: number): Uint8Array {
  return derive(secret, rackId, priorSecretsLabel, epochBytes(epoch));
}

/** A public value that tells the right secret of `epoch` from any other (a one-way function of it). */
export function secretCheck(secret: Uint8Array, rackId: Uint8Array, epoch: number): Uint8Array {
  return derive(secret, rackId, secretCheckLabel, epochBytes(epoch));
}

/** The key of `volume` in `epoch`, from that epoch's secret. */
export function volumeKey(secret: Uint8Array, rackId: Uint8Array, epoch: number, volume: string): Uint8Array {
  checkName('volume name', volume, volumeNameBytesMax);
  const name = encoder.encode(volume);
  // The name's length goes first so that no two (epoch, name) pairs give the same info.
  return derive(secret, rackId, volumeKeyLabel, epochBytes(epoch), Uint8Array.of(name.length), name);
}

/** The key check value the volume map records next to a volume's epoch. */
export function keyCheck(key: Uint8Array): Uint8Array {
  if (key.length !== secretBytes) throw new VaultError('E_VAULT_ARG', `key is ${key.length} bytes, not ${secretBytes}`);
  return hmac(sha256, key, keyCheckLabel).subarray(0, keyCheckBytes);
}
