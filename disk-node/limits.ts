// Every bound the disk node enforces, in one place. They are part of the
// measured build: changing one changes the measurement.

/** Wire protocol version spoken by this build (docs/PROTOCOL.md). */
export const protocolVersion = 3;
/** Largest WebSocket message accepted or sent: 1024 sectors of 4 KiB plus headers. */
export const frameBytesMax = 4 * 1024 * 1024 + 64 * 1024;
/** Largest frame a session may send before it has authenticated: strangers get no hashing of megabytes. */
export const preAuthFrameBytesMax = 64 * 1024;
/** Most commands in one batch. */
export const batchCommandsMax = 1024;
/** Most bytes one batch may COPY and TRIM together, so one signed batch cannot buy unbounded work. */
export const batchWorkBytesMax = 256 * 1024 * 1024;
/** Most batches a client may have outstanding on one session (announced in HELLO). */
export const inflightBatchesMax = 64;
/** Reply bytes queued on a socket before the node stops reading from it. */
export const replyQueueBytesMax = 32 * 1024 * 1024;
/** Most authenticated sessions; one more that authenticates evicts the oldest. */
export const sessionsMax = 16;
/** Most connections not yet authenticated; a new one evicts the oldest, so strangers cannot lock the manager out. */
export const pendingSessionsMax = 64;
/** Most connections not yet upgraded to WebSocket; a new one evicts the oldest. */
export const upgradingConnectionsMax = 16;
/** Most TCP connections, upgraded or not: a hard ceiling above the bounds that evict, for sockets still closing. */
export const connectionsMax = sessionsMax + pendingSessionsMax + upgradingConnectionsMax + 32;
/** A connection that has not completed the WebSocket upgrade by then is destroyed. */
export const upgradeTimeoutMs = 5_000;
/** A session that has not sent one valid signed batch by then is closed. */
export const sessionAuthTimeoutMs = 5_000;
/** Largest attestation evidence the platform may return for one session. */
export const evidenceBytesMax = 32 * 1024;
/** Largest death record (membership) payload. */
export const deathRecordBytesMax = 4096;
/** Sector size bounds: a power of two in this range. */
export const sectorBytesMin = 512, sectorBytesMax = 65536;
/** Most sectors one node holds (the wire carries sector indices as u32). */
export const sectorCountMax = 0xffffffff;
/** Sectors per RAM chunk: the store is split so no single allocation is huge. */
export const chunkSectors = 65536;
