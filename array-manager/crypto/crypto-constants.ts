// Sizes and bounds of the sector-crypto formats (docs/CRYPTO.md). Every other
// module in array-manager/crypto/ takes its numbers from here, so a reader can
// check the table-sector arithmetic in one place.

/** Bytes of one data sector and of one table sector. */
export const sectorBytes = 4096;
/** ChaCha20 nonce (RFC 8439 §2.3: 96 bits), drawn at random for every write. */
export const ivBytes = 12;
/** HMAC-SHA-256 tag truncated to its first 16 bytes (RFC 2104 §5). */
export const macBytes = 16;
/** One table entry: IV then MAC. All zero means "never written". */
export const entryBytes = ivBytes + macBytes;
/** Bytes of every derived key (ChaCha20 key, HMAC keys). */
export const keyBytes = 32;

/** Table sector: 8-byte header (magic, version, reserved), 145 entries, self entry. */
export const tableHeaderBytes = 8;
export const tableEntriesMax = 145;
export const tableEntriesOffset = tableHeaderBytes;
export const tableSelfOffset = tableEntriesOffset + tableEntriesMax * entryBytes;
/** ASCII "TTBL": tells a table sector from anything else a disk may hold. */
export const tableMagic = 0x5454424c;
export const tableVersion = 1;

/**
 * Largest sector or table index: indices go into MACs as 64-bit big-endian
 * integers, and JavaScript numbers are exact only up to 2^53 - 1.
 */
export const indexMax = Number.MAX_SAFE_INTEGER;
/** Largest batch one seal/open call accepts (16 MiB of sectors). */
export const batchSectorsMax = 4096;
