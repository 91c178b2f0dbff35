// Every bound the NBD server enforces, in one place. Peer input never grows a
// buffer, queue or map beyond these; see docs/NBD.md ("Limits").

export interface NbdLimits {
  /** Largest READ/WRITE payload (advertised as the maximum block size; 2^25 is the protocol's portable maximum). */
  payloadBytesMax: number;
  /** Largest option data accepted during the handshake; longer options end the connection. */
  optionDataBytesMax: number;
  /** Options one connection may send before it must choose an export. */
  optionsPerHandshakeMax: number;
  /** Time a client has to finish the handshake. */
  handshakeTimeoutMs: number;
  /** Requests one connection may have in progress at once; beyond that the server stops reading. */
  requestsInFlightMax: number;
  /** READ/WRITE payload bytes one connection may have in progress at once (one request may exceed it alone). */
  inFlightBytesMax: number;
  /** Reply bytes queued on one socket beyond which the server stops reading requests until it drains. */
  sendBufferBytesMax: number;
  /** Connections served at once; further ones are closed on accept. */
  connectionsMax: number;
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
  sendBufferBytesMax: 8 * 1024 * 1024,
  connectionsMax: 32,
  closeLingerMs: 2_000,
  closeTimeoutMs: 10_000,
});
