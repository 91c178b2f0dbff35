// The public API of the trust-quorum vault, imported as 'teearray/vault'
// (package.json "exports"). docs/VAULT.md describes it.
export { openVault, unlockSecret, Vault, type VaultDisk, type VaultOptions, type VaultSummary, type VolumeUpdate } from './vault.ts';
export type { VolumeEntry } from './vault-records.ts';
export { dealEpoch, priorsAfter, type Deal, type DealOptions } from './dealer.ts';
export {
  configurationDigest,
  decodeConfiguration,
  encodeConfiguration,
  memberX,
  openPriors,
  secretOfEpoch,
  type Configuration,
  type EpochSecret,
  type Member,
} from './configuration.ts';
export { keyCheck, volumeKey } from './epoch-keys.ts';
export { combineShares, reconstituteShare, shareDigest, shareX, splitSecret } from './shamir.ts';
export { VaultError, type VaultErrorCode } from './vault-errors.ts';
export * as vaultLimits from './vault-limits.ts';
