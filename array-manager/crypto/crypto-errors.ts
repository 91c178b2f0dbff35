// Typed errors of the sector-crypto modules. Bad bytes from a disk (a MAC that
// does not verify, a table sector that is not one) and bad arguments (wrong
// buffer lengths, out-of-range indices) get an error with a stable `code` and
// a message naming the field; callers branch on `code`, never on the message.

export type CryptoErrorCode =
  | 'E_SECTOR_AUTH' // a data sector's MAC does not verify under its index
  | 'E_TABLE_AUTH' // a table sector's self-MAC does not verify under its index
  | 'E_TABLE_FORMAT' // a table sector's magic, version or reserved bytes are wrong
  | 'E_TABLE_BLANK' // a table sector is all zero: never valid once the array is formatted
  | 'E_CRYPTO_LENGTH' // a buffer has the wrong length
  | 'E_CRYPTO_INDEX' // an index or count is not an integer in range
  | 'E_CRYPTO_KEY' // a data key that cannot be one (all zero: an uninitialised buffer)
  | 'E_POOL_CLOSED' // work handed to a crypto pool after close()
  | 'E_POOL_BUSY'; // more batches waiting for a crypto pool than its queue bound

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'CryptoError';
    this.code = code;
  }
}

/** Thrown when a data sector fails authentication; `index` is the array sector index. */
export class SectorAuthError extends CryptoError {
  readonly index: number;
  constructor(index: number) {
    super('E_SECTOR_AUTH', `sector ${index}: MAC does not verify (tampered, misplaced or stale)`);
    this.index = index;
  }
}

export function checkLength(bytes: Uint8Array, length: number, field: string): void {
  if (bytes.length !== length) {
    throw new CryptoError('E_CRYPTO_LENGTH', `${field} must be ${length} bytes, got ${bytes.length}`);
  }
}

export function checkIndex(value: number, max: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new CryptoError('E_CRYPTO_INDEX', `${field} must be an integer in [0, ${max}], got ${value}`);
  }
}
