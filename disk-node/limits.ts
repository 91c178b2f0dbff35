// Every bound the disk node enforces, in one place. They are part of the
// measured build: changing one changes the measurement.

/** Wire protocol version spoken by this build (docs/PROTOCOL.md). */
export const protocolVersion = 1;
/** Largest WebSocket message accepted or sent: 1024 sectors of 4 KiB plus headers. */
export const frameBytesMax = 4 * 1024 * 1024 + 64 * 1024;
/** Most commands in one batch. */
export const batchCommandsMax = 1024;
/** Most batches a client may have outstanding on one session (announced in HELLO). */
export const inflightBatchesMax = 64;
/** Reply bytes queued on a socket before the node stops reading from it. */
export const replyQueueBytesMax = 32 * 1024 * 1024;
/** Most simultaneous sessions (connections). */
export const sessionsMax = 16;
/** A session that has not sent one valid signed batch by then is closed, so strangers cannot hold the slots. */
export const sessionAuthTimeoutMs = 10_000;
/** Largest death record (membership) payload. */
export const deathRecordBytesMax = 4096;
/** Sector size bounds: a power of two in this range. */
export const sectorBytesMin = 512;
export const sectorBytesMax = 65536;
/** Most sectors one node holds (the wire carries sector indices as u32). */
export const sectorCountMax = 0xffffffff;
/** Sectors per RAM chunk: the store is split so no single allocation is huge. */
export const chunkSectors = 65536;
