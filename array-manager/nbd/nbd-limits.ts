// Every bound the NBD server enforces, in one place. Peer input never grows a
// buffer, queue or map beyond these; see docs/NBD.md ("Limits").

export interface NbdLimits {
  /** Largest READ/WRITE payload (advertised as the maximum block size; 2^25 is the protocol's portable maximum). */
  payloadBytesMax: number;
  /** Largest option data accepted during the handshake; longer options end the connection. */
  optionDataBytesMax: number;
  /** Options one connection may send before it must choose an export. */
  optionsPerHandshakeMax: number;
  /** Time a client has to finish the handshake, TLS negotiation included. */
  handshakeTimeoutMs: number;
  /** Requests one connection may have in progress at once; beyond that the server stops reading. */
  requestsInFlightMax: number;
  /**
   * Cost of the requests one connection may have in progress at once (one
   * request may exceed it alone). Every request kind counts: READ, WRITE,
   * TRIM and WRITE_ZEROES by their length, FLUSH and empty requests by
   * requestCostBytesMin, so a client cannot queue unbounded device work
   * behind requests that carry no payload.
   */
  inFlightBytesMax: number;
  /** Least cost charged for one request in progress (FLUSH, zero-length requests). */
  requestCostBytesMin: number;
  /**
   * Payload bytes held in memory across all connections: WRITE payloads from
   * the moment their header is parsed (while the rest is still arriving) until
   * the device call returns, READ data until its reply is queued. A request
   * reserves its whole length before any of its payload is read, in arrival
   * order; a connection that must wait stops reading. Must be at least
   * payloadBytesMax so any single request can be served.
   */
  payloadBytesHeldMax: number;
  /** Reply bytes queued on one socket beyond which the server stops reading requests until it drains. */
  sendBufferBytesMax: number;
  /** Connections served at once, handshaking or not; further ones are closed on accept. */
  connectionsMax: number;
  /** Connections still in the handshake at once; further ones are closed on accept. */
  handshakesMax: number;
  /**
   * A connection with no request in progress and none received for this long
   * is idle: it is closed when a new connection arrives and the server is at
   * connectionsMax (the longest idle first). 0: never.
   */
  idleEvictMs: number;
  /** A connection idle this long is closed whatever the load. 0: never (the default; see docs/NBD.md). */
  idleTimeoutMs: number;
  /** How long a connection we ended may stay half-open before it is dropped. */
  closeLingerMs: number;
  /** How long close() waits for in-flight requests before it drops the remaining connections. */
  closeTimeoutMs: number;
}

export const defaultNbdLimits: Readonly<NbdLimits> = Object.freeze({
  payloadBytesMax: 32 * 1024 * 1024,
  // A name (<= 4096 bytes by the protocol's string rule) plus the fixed fields
  // and a short list of information requests.
  optionDataBytesMax: 4096 + 1024,
  optionsPerHandshakeMax: 256,
  handshakeTimeoutMs: 10_000,
  requestsInFlightMax: 64,
  inFlightBytesMax: 32 * 1024 * 1024,
  requestCostBytesMin: 4096,
  // Four maximum-size requests, or nbdcopy's default 4 connections x 64
  // requests x 256 KiB twice over.
  payloadBytesHeldMax: 128 * 1024 * 1024,
  sendBufferBytesMax: 8 * 1024 * 1024,
  connectionsMax: 32,
  handshakesMax: 8,
  // Long enough that a client between bursts (a mounted filesystem, a VM at
  // rest) is not dropped while the server has room; see docs/NBD.md.
  idleEvictMs: 60_000,
  idleTimeoutMs: 0,
  closeLingerMs: 2_000,
  closeTimeoutMs: 10_000,
});

/** Refuses limits that would deadlock or make no sense; a programming or configuration error, so it throws. */
export function checkNbdLimits(limits: NbdLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`nbd limit ${name} must be a non-negative integer, got ${value}`);
  }
  if (limits.payloadBytesHeldMax < limits.payloadBytesMax) {
    throw new RangeError(`nbd limit payloadBytesHeldMax (${limits.payloadBytesHeldMax}) must be at least payloadBytesMax (${limits.payloadBytesMax})`);
  }
  if (limits.connectionsMax < 1 || limits.handshakesMax < 1) throw new RangeError('nbd limits connectionsMax and handshakesMax must be at least 1');
}
