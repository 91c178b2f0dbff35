// Every bound of the vault in one place: what a configuration, a share, a
// volume map and the vault's region on the disk may hold.

/** Bytes of a rack secret, of a share's y-value and of every derived key. */
export const secretBytes = 32;
/** A share: its 32-byte y-value, then its x-coordinate (the layout of the shamir-secret-sharing package). */
export const shareBytes = secretBytes + 1;
/** Members of a configuration: x-coordinates 1..255 of GF(2^8). */
export const membersMax = 255;
/** Smallest threshold: one share alone would be the secret. */
export const thresholdMin = 2;
/** Bytes of a member id (printable ASCII, docs/VAULT.md). */
export const memberIdBytesMax = 64;
/** Older epochs whose secrets a configuration carries; older ones are dropped. */
export const priorEpochsMax = 64;
/** Volumes in the volume map. */
export const volumesMax = 64;
/** Bytes of a volume name (the same alphabet as member ids). */
export const volumeNameBytesMax = 64;
/** Bytes of a volume key check value. */
export const keyCheckBytes = 16;
/** Sectors of the vault's reserved region (docs/VAULT.md, "Region"). */
export const vaultSectors = 16;
