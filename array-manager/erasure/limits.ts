// Limits of the erasure code, in one place. Each is checked where a caller's
// argument enters (erasure-code.ts) and stated in docs/ERASURE.md.

/** GF(2^8) has 256 elements; a Cauchy matrix needs k + m distinct ones. */
export const shardsMax = 256;

/**
 * Every shard is cut into 8 packets (one per bit of a GF(2^8) symbol). The
 * XOR kernels move 64 bytes per loop step (four 128-bit lanes), so a packet
 * is a multiple of 64 bytes and a shard a multiple of 512 bytes.
 */
export const packetsPerShard = 8;
export const packetGranuleBytes = 64;
export const shardGranuleBytes = packetsPerShard * packetGranuleBytes;

/** Largest shard accepted: 1 MiB keeps one stripe of 256 shards within 256 MiB. */
export const shardBytesMax = 1 << 20;

/** Decode schedules kept per code object, one per loss pattern, least recently used evicted. */
export const decodeSchedulesMax = 64;

/**
 * Common-subexpression search is quadratic in the row weight per step; above
 * this many bit-matrix ones the plain schedule is used (it is then memory
 * bound anyway, see docs/ERASURE.md).
 */
export const cseOnesMax = 40_000;

/** Scratch packets (one tile each) a program may use for common sub-expressions. */
export const cseTempsMax = 256;

/**
 * The XOR kernels walk each packet in tiles so that a stripe's working set
 * stays in L2 at large shard sizes. Measured here (k=8 m=3, 64 KiB shards):
 * 256-byte tiles lose a third to per-call overhead, 2048 to 8192 are equal.
 */
export const tileBytesMax = 2048;
