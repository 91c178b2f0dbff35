// Derives the array's working keys from its one 32-byte data key.
//
// Each purpose gets its own key from HKDF-SHA-256 (RFC 5869) with a distinct
// info label, so a MAC computed for one purpose can never verify for another
// and compromising one derived key says nothing about the others. The salt is
// the array id, so two arrays that share a data key still have unrelated keys
// and a sector cannot be moved from one array into the other.
//
// Secrets: the data key (the caller's buffer; we never keep it) and the one
// buffer `material` holding all derived keys, allocated outside Node's shared
// Buffer pool and zeroed by destroy(). node:crypto copies a key into an
// OpenSSL context for the length of each call; those copies are freed by
// OpenSSL and are outside our reach.
import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import { keyBytes } from './crypto-constants.ts';
import { checkLength, CryptoError } from './crypto-errors.ts';

/** The array id used as HKDF salt: 16 bytes, from the manager's configuration. */
export const arrayIdBytes = 16;

/** One row per purpose; the label is the HKDF info string (ASCII). docs/CRYPTO.md lists them. */
export const keyLabels = {
  sectorEncryption: 'teearray v1 sector encryption',
  sectorMac: 'teearray v1 sector mac',
  tableMac: 'teearray v1 table mac',
  journalMac: 'teearray v1 journal mac',
  membershipMac: 'teearray v1 membership mac',
} as const;

export type KeyPurpose = keyof typeof keyLabels;
const purposes = Object.keys(keyLabels) as KeyPurpose[];

/** The keys sector-crypto needs; also what a crypto-pool worker receives. */
export interface SectorKeys {
  readonly sectorEncryption: Buffer;
  readonly sectorMac: Buffer;
}

export class KeySet implements SectorKeys {
  /** All derived keys, keyBytes each, in `purposes` order. Secret. */
  private readonly material: Buffer;
  private destroyed = false;

  /** One view of `material` per purpose, made once: keys are read on every sector. */
  private readonly views: Record<KeyPurpose, Buffer>;

  /** Takes ownership of `material` (purposes.length * keyBytes bytes). */
  constructor(material: Buffer) {
    assert.equal(material.length, purposes.length * keyBytes);
    this.material = material;
    const view = (i: number): Buffer => material.subarray(i * keyBytes, (i + 1) * keyBytes);
    this.views = Object.fromEntries(purposes.map((p, i) => [p, view(i)])) as Record<KeyPurpose, Buffer>;
  }

  key(purpose: KeyPurpose): Buffer {
    assert(!this.destroyed, 'key set used after destroy()');
    return this.views[purpose];
  }

  get sectorEncryption(): Buffer {
    return this.key('sectorEncryption');
  }
  get sectorMac(): Buffer {
    return this.key('sectorMac');
  }
  get tableMac(): Buffer {
    return this.key('tableMac');
  }
  get journalMac(): Buffer {
    return this.key('journalMac');
  }
  get membershipMac(): Buffer {
    return this.key('membershipMac');
  }

  /** Zeroes every derived key; any later use is a bug and stops the process. */
  destroy(): void {
    this.material.fill(0);
    this.destroyed = true;
  }
}

/** HKDF-SHA-256(ikm = dataKey, salt = arrayId, info = label, L = 32) for every label. */
export function deriveKeySet(dataKey: Uint8Array, arrayId: Uint8Array): KeySet {
  checkLength(dataKey, keyBytes, 'dataKey');
  checkLength(arrayId, arrayIdBytes, 'arrayId');
  if (dataKey.every((b) => b === 0)) throw new CryptoError('E_CRYPTO_KEY', 'dataKey must not be all zero');
  // Buffer.alloc never hands out a slice of the shared pool, so zeroing it
  // later cannot touch anyone else's bytes and no stale copy stays behind.
  const material = Buffer.alloc(purposes.length * keyBytes);
  purposes.forEach((purpose, i) => {
    const derived = new Uint8Array(hkdfSync('sha256', dataKey, arrayId, keyLabels[purpose], keyBytes));
    material.set(derived, i * keyBytes);
    derived.fill(0);
  });
  return new KeySet(material);
}
