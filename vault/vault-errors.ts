// Typed errors of the vault. Bad input from a caller, a peer or the disk gets
// a VaultError with a stable code and a message naming the field; callers
// branch on `code`, never on the message. Messages never carry secret bytes.

export type VaultErrorCode =
  | 'E_VAULT_ARG' // an argument out of its bounds (lengths, counts, names)
  | 'E_VAULT_SHARES' // shares that cannot be combined: too few, duplicate or bad x-coordinates
  | 'E_VAULT_FORMAT' // a record or configuration whose bytes are not one (magic, version, lengths)
  | 'E_VAULT_DIGEST' // a share that does not match its configuration's digest
  | 'E_VAULT_AUTH' // prior-epoch secrets that do not decrypt under the key derived from the secret given
  | 'E_VAULT_TORN' // records that do not match the commit marker (never expected: one transaction writes them all)
  | 'E_VAULT_STATE' // the vault is not in the state the call needs (not initialised, no share yet, already initialised)
  | 'E_VAULT_STALE' // a configuration whose epoch is not newer than the committed one: a rollback is refused
  | 'E_VAULT_EPOCH' // an epoch the vault or configuration holds no secret or key for
  | 'E_VAULT_KEY_ERASURE'; // an array that keeps journal copies after apply: an old share's ciphertext would outlive its rotation

export class VaultError extends Error {
  readonly code: VaultErrorCode;
  constructor(code: VaultErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'VaultError';
    this.code = code;
  }
}
