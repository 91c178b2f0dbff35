// The NBD handshake as a state machine without I/O: bytes from the client go
// in through a ByteQueue, bytes to send come out in an array, and the result
// says whether to wait, enter transmission with a chosen export, or close.
//
// Implements fixed newstyle negotiation (proto.md "Handshake"): client flags,
// then options EXPORT_NAME, ABORT, LIST, INFO, GO, STRUCTURED_REPLY, and
// STARTTLS on a listener that requires TLS; every other option (metadata
// contexts among them) gets NBD_REP_ERR_UNSUP and the connection carries on.
//
// TLS (proto.md "TLS support", the server's FORCEDTLS mode): until TLS is up
// only STARTTLS and ABORT are served; every other option gets
// NBD_REP_ERR_TLS_REQD, and EXPORT_NAME, which cannot carry an error, ends the
// connection. STARTTLS is acknowledged, then the result tells the caller to
// run the TLS handshake on the same socket and call tlsEstablished(); the
// negotiation then continues inside TLS with nothing kept from before it.
// Without TLS credentials (NOTLS mode) STARTTLS gets NBD_REP_ERR_UNSUP.
//
// Trusts: nothing from the client. Option data longer than optionDataBytesMax,
// more than optionsPerHandshakeMax options and unknown client flags end the
// connection (a hard disconnect, which the protocol permits for a peer that
// breaks a MUST or looks like a denial of service). The caller bounds time.
// Does not handle: the TLS handshake itself (nbd-tls.ts), extended headers,
// metadata contexts.

import type { BlockDevice } from './block-device.ts';
import type { ByteQueue } from './byte-queue.ts';
import type { NbdLimits } from './nbd-limits.ts';
import * as wire from './nbd-wire.ts';

/** What a connection agreed to for the transmission phase. */
export interface NbdSession {
  exportName: string;
  device: BlockDevice;
  structuredReplies: boolean;
  transmissionFlags: number;
  blockSizes: wire.BlockSizes;
}

export type HandshakeResult =
  | { kind: 'more' }
  /** STARTTLS was acknowledged: run the TLS handshake, then call tlsEstablished() and feed decrypted bytes. */
  | { kind: 'starttls' }
  | { kind: 'transmit'; session: NbdSession }
  | { kind: 'close'; reason: string };

/** The handshake flags this server offers. */
export const serverHandshakeFlags = wire.NBD_FLAG_FIXED_NEWSTYLE | wire.NBD_FLAG_NO_ZEROES;
const knownClientFlags = wire.NBD_FLAG_C_FIXED_NEWSTYLE | wire.NBD_FLAG_C_NO_ZEROES;

/**
 * Block sizes advertised for a device ("Block size constraints"): its block as
 * minimum, its preferred size but at least the protocol's default 4096 as
 * preferred, payloadBytesMax (a multiple of any minimum up to 2^16) as maximum.
 */
export function blockSizesFor(device: BlockDevice, payloadBytesMax: number): wire.BlockSizes {
  return {
    minimumBytes: device.blockBytes,
    preferredBytes: Math.max(device.preferredBlockBytes ?? device.blockBytes, 4096),
    maximumBytes: payloadBytesMax,
  };
}

/** Transmission flags for a device; SEND_DF only once structured replies are agreed (proto.md "Transmission flags"). */
export function transmissionFlagsFor(device: BlockDevice, structuredReplies: boolean): number {
  let flags =
    wire.NBD_FLAG_HAS_FLAGS |
    wire.NBD_FLAG_SEND_FLUSH |
    wire.NBD_FLAG_SEND_FUA |
    wire.NBD_FLAG_SEND_TRIM |
    wire.NBD_FLAG_SEND_WRITE_ZEROES |
    // Advertised for every device: one that is not fast answers FAST_ZERO
    // requests with ENOTSUP at once, which the protocol explicitly allows.
    wire.NBD_FLAG_SEND_FAST_ZERO;
  if (structuredReplies) flags |= wire.NBD_FLAG_SEND_DF;
  if (device.supportsMultiConn) flags |= wire.NBD_FLAG_CAN_MULTI_CONN;
  if (device.readOnly) flags |= wire.NBD_FLAG_READ_ONLY;
  return flags;
}

/** Whether a listener requires TLS before anything but STARTTLS and ABORT (FORCEDTLS) or offers none (NOTLS). */
export type TlsPolicy = 'none' | 'required';

export class NbdHandshake {
  private state: 'client-flags' | 'options' | 'tls-handshake' | 'done' = 'client-flags';
  private tlsUp = false;
  private noZeroes = false;
  private structuredReplies = false;
  private options = 0;

  constructor(
    private readonly exports: ReadonlyMap<string, BlockDevice>,
    private readonly limits: Pick<NbdLimits, 'optionDataBytesMax' | 'optionsPerHandshakeMax' | 'payloadBytesMax'>,
    private readonly tls: TlsPolicy = 'none',
  ) {}

  /** The TLS handshake after STARTTLS succeeded: negotiation starts over inside TLS. */
  tlsEstablished(): void {
    if (this.state !== 'tls-handshake') throw new Error('tlsEstablished() without an acknowledged STARTTLS');
    this.tlsUp = true;
    // "the server MUST NOT retain any state from before TLS" (proto.md "TLS support"):
    // with TLS required, STARTTLS and ABORT were the only options served, so
    // only the flags agreed before the first option survive.
    this.structuredReplies = false;
    this.state = 'options';
  }

  greeting(): Uint8Array {
    return wire.encodeGreeting(serverHandshakeFlags);
  }

  /** Consumes every complete message in `input`, appending replies to `output`. */
  advance(input: ByteQueue, output: Uint8Array[]): HandshakeResult {
    if (this.state === 'tls-handshake') return this.close('data between STARTTLS and the TLS handshake');
    while (this.state !== 'done') {
      if (this.state === 'client-flags') {
        if (input.length < wire.clientFlagsBytes) return { kind: 'more' };
        const flags = wire.decodeClientFlags(input.take(wire.clientFlagsBytes));
        if ((flags & ~knownClientFlags) !== 0) return this.close(`unknown client flags 0x${flags.toString(16)}`);
        this.noZeroes = (flags & wire.NBD_FLAG_C_NO_ZEROES) !== 0;
        this.state = 'options';
        continue;
      }
      if (input.length < wire.optionHeaderBytes) return { kind: 'more' };
      let header: wire.OptionHeader;
      try {
        header = wire.decodeOptionHeader(input.peek(wire.optionHeaderBytes));
      } catch (err) {
        return this.close(err instanceof wire.NbdWireError ? err.message : String(err));
      }
      if (header.length > this.limits.optionDataBytesMax) {
        return this.close(`option ${header.option} data length ${header.length} exceeds ${this.limits.optionDataBytesMax}`);
      }
      if (input.length < wire.optionHeaderBytes + header.length) return { kind: 'more' };
      input.skip(wire.optionHeaderBytes);
      const data = input.take(header.length);
      if (++this.options > this.limits.optionsPerHandshakeMax) {
        return this.close(`more than ${this.limits.optionsPerHandshakeMax} options`);
      }
      const result = this.tls === 'required' && !this.tlsUp ? this.optionBeforeTls(header.option, data, output) : this.option(header.option, data, output);
      if (result?.kind === 'starttls' && input.length > 0) {
        // The client must wait for our reply before its TLS ClientHello; bytes
        // already here would be read as plaintext by the TLS layer's peer.
        return this.close('data sent after STARTTLS before its reply');
      }
      if (result) return result;
    }
    return this.close('handshake already finished');
  }

  /** FORCEDTLS before TLS: STARTTLS and ABORT only (proto.md "TLS support"). */
  private optionBeforeTls(option: number, data: Uint8Array, output: Uint8Array[]): HandshakeResult | undefined {
    switch (option) {
      case wire.NBD_OPT_STARTTLS:
        if (data.byteLength !== 0) return this.refuse(output, option, wire.NBD_REP_ERR_INVALID, 'STARTTLS takes no data');
        output.push(wire.encodeOptionReply(option, wire.NBD_REP_ACK));
        this.state = 'tls-handshake';
        return { kind: 'starttls' };
      case wire.NBD_OPT_ABORT:
        output.push(wire.encodeOptionReply(option, wire.NBD_REP_ACK));
        return this.close('client sent NBD_OPT_ABORT');
      case wire.NBD_OPT_EXPORT_NAME:
        // It cannot carry an error reply: the protocol requires a disconnect.
        return this.close('NBD_OPT_EXPORT_NAME before TLS on a listener that requires TLS');
      default:
        return this.refuse(output, option, wire.NBD_REP_ERR_TLS_REQD, 'this server requires TLS: send NBD_OPT_STARTTLS first');
    }
  }

  /** Handles one option; returns a result only when the handshake ends. */
  private option(option: number, data: Uint8Array, output: Uint8Array[]): HandshakeResult | undefined {
    switch (option) {
      case wire.NBD_OPT_EXPORT_NAME:
        return this.exportName(data, output);
      case wire.NBD_OPT_ABORT:
        // The client SHOULD send no data, and the server SHOULD ignore any.
        output.push(wire.encodeOptionReply(option, wire.NBD_REP_ACK));
        return this.close('client sent NBD_OPT_ABORT');
      case wire.NBD_OPT_LIST:
        if (data.byteLength !== 0) return this.refuse(output, option, wire.NBD_REP_ERR_INVALID, 'LIST takes no data');
        for (const name of this.exports.keys()) {
          output.push(wire.encodeOptionReply(option, wire.NBD_REP_SERVER, wire.encodeServerEntry(name)));
        }
        output.push(wire.encodeOptionReply(option, wire.NBD_REP_ACK));
        return undefined;
      case wire.NBD_OPT_INFO:
      case wire.NBD_OPT_GO:
        return this.infoOrGo(option, data, output);
      case wire.NBD_OPT_STRUCTURED_REPLY:
        if (data.byteLength !== 0) {
          return this.refuse(output, option, wire.NBD_REP_ERR_INVALID, 'STRUCTURED_REPLY takes no data');
        }
        this.structuredReplies = true;
        output.push(wire.encodeOptionReply(option, wire.NBD_REP_ACK));
        return undefined;
      case wire.NBD_OPT_STARTTLS:
        if (this.tlsUp) return this.refuse(output, option, wire.NBD_REP_ERR_INVALID, 'TLS is already negotiated');
        return this.refuse(output, option, wire.NBD_REP_ERR_UNSUP, 'TLS is not offered on this listener');
      default:
        return this.refuse(output, option, wire.NBD_REP_ERR_UNSUP, `option ${option} is not supported`);
    }
  }

  private exportName(data: Uint8Array, output: Uint8Array[]): HandshakeResult {
    let name: string;
    try {
      name = wire.decodeString(data, 'export name');
    } catch (err) {
      return this.close(err instanceof wire.NbdWireError ? err.message : String(err));
    }
    const device = this.exports.get(name);
    // EXPORT_NAME cannot return an error: the protocol requires a hard disconnect.
    if (!device) return this.close(`unknown export ${JSON.stringify(name)}`);
    const session = this.session(name, device);
    output.push(wire.encodeExportNameReply(device.sizeBytes, session.transmissionFlags, this.noZeroes));
    this.state = 'done';
    return { kind: 'transmit', session };
  }

  private infoOrGo(option: number, data: Uint8Array, output: Uint8Array[]): HandshakeResult | undefined {
    let request: wire.InfoRequest;
    try {
      request = wire.decodeInfoRequest(data);
    } catch (err) {
      return this.refuse(output, option, wire.NBD_REP_ERR_INVALID, err instanceof Error ? err.message : String(err));
    }
    const device = this.exports.get(request.name);
    if (!device) {
      return this.refuse(output, option, wire.NBD_REP_ERR_UNKNOWN, `no export named ${JSON.stringify(request.name)}`);
    }
    const session = this.session(request.name, device);
    const info = (payload: Uint8Array) => output.push(wire.encodeOptionReply(option, wire.NBD_REP_INFO, payload));
    info(wire.encodeInfoExport(device.sizeBytes, session.transmissionFlags));
    // Sent whether or not it was requested (the protocol allows unrequested
    // items): a client that did not ask may still honour it. Clients that do
    // not are served anyway and get EINVAL for unaligned requests, as the
    // protocol requires of a server that accepts them ("Block size constraints").
    info(wire.encodeInfoBlockSize(session.blockSizes));
    if (request.infos.includes(wire.NBD_INFO_NAME)) info(wire.encodeInfoName(request.name));
    output.push(wire.encodeOptionReply(option, wire.NBD_REP_ACK));
    if (option === wire.NBD_OPT_INFO) return undefined;
    this.state = 'done';
    return { kind: 'transmit', session };
  }

  private session(exportName: string, device: BlockDevice): NbdSession {
    return {
      exportName,
      device,
      structuredReplies: this.structuredReplies,
      transmissionFlags: transmissionFlagsFor(device, this.structuredReplies),
      blockSizes: blockSizesFor(device, this.limits.payloadBytesMax),
    };
  }

  private refuse(output: Uint8Array[], option: number, type: number, message: string): undefined {
    output.push(wire.encodeOptionError(option, type, message.slice(0, 256)));
    return undefined;
  }

  private close(reason: string): HandshakeResult {
    this.state = 'done';
    return { kind: 'close', reason };
  }
}
