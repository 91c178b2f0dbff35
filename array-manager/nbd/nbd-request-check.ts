// Decides whether a transmission request may reach the device, and which NBD
// error answers it if not. A pure function of the request and the session, so
// every rule is tested exhaustively without a socket.
//
// Rules (proto.md "Command flags", "Request types", "Error values",
// "Block size constraints"), checked in this order:
//   unknown command                                  -> EINVAL
//   flag not documented for the command              -> EINVAL
//     (FUA is valid on every command once SEND_FUA is advertised; DF only on
//      READ with structured replies; NO_HOLE and FAST_ZERO only on WRITE_ZEROES)
//   FLUSH with nonzero offset or length              -> EINVAL
//   WRITE, TRIM, WRITE_ZEROES on a read-only export  -> EPERM
//   READ or WRITE longer than the maximum payload    -> EINVAL
//   offset or length not a multiple of the minimum block size -> EINVAL
//   range past the end: READ, TRIM -> EINVAL; WRITE, WRITE_ZEROES -> ENOSPC
//   WRITE_ZEROES with FAST_ZERO on a device whose zeroing is not fast -> ENOTSUP
// TRIM and WRITE_ZEROES may exceed the maximum payload: they carry no payload
// and the protocol asks servers to accept them when they can.
// NBD_CMD_DISC is not checked here: the connection handles it before.

import type { NbdSession } from './nbd-handshake.ts';
import * as wire from './nbd-wire.ts';

export interface RequestRefusal {
  error: number;
  message: string;
}

function allowedFlags(type: number, structuredReplies: boolean): number {
  switch (type) {
    case wire.NBD_CMD_READ:
      return wire.NBD_CMD_FLAG_FUA | (structuredReplies ? wire.NBD_CMD_FLAG_DF : 0);
    case wire.NBD_CMD_WRITE_ZEROES:
      return wire.NBD_CMD_FLAG_FUA | wire.NBD_CMD_FLAG_NO_HOLE | wire.NBD_CMD_FLAG_FAST_ZERO;
    default:
      return wire.NBD_CMD_FLAG_FUA;
  }
}

const knownCommands = new Set([
  wire.NBD_CMD_READ,
  wire.NBD_CMD_WRITE,
  wire.NBD_CMD_FLUSH,
  wire.NBD_CMD_TRIM,
  wire.NBD_CMD_WRITE_ZEROES,
]);

const refuse = (error: number, message: string): RequestRefusal => ({ error, message });

/** Null if the request may run; otherwise the error to answer with. */
export function checkRequest(
  request: wire.RequestHeader,
  session: Pick<NbdSession, 'device' | 'structuredReplies' | 'blockSizes'>,
): RequestRefusal | null {
  const { type, flags, offset, length } = request;
  if (!knownCommands.has(type)) return refuse(wire.NBD_EINVAL, `unknown command ${type}`);
  const extra = flags & ~allowedFlags(type, session.structuredReplies);
  if (extra !== 0) return refuse(wire.NBD_EINVAL, `flags 0x${extra.toString(16)} not valid for command ${type}`);
  if (type === wire.NBD_CMD_FLUSH) {
    return offset === 0n && length === 0 ? null : refuse(wire.NBD_EINVAL, 'FLUSH offset and length must be zero');
  }
  const { device, blockSizes } = session;
  if (device.readOnly && type !== wire.NBD_CMD_READ) return refuse(wire.NBD_EPERM, 'export is read-only');
  if ((type === wire.NBD_CMD_READ || type === wire.NBD_CMD_WRITE) && length > blockSizes.maximumBytes) {
    return refuse(wire.NBD_EINVAL, `length ${length} exceeds maximum ${blockSizes.maximumBytes}`);
  }
  const block = BigInt(blockSizes.minimumBytes);
  if (offset % block !== 0n || length % blockSizes.minimumBytes !== 0) {
    return refuse(wire.NBD_EINVAL, `offset ${offset} or length ${length} not a multiple of ${block}`);
  }
  if (offset + BigInt(length) > BigInt(device.sizeBytes)) {
    const grows = type === wire.NBD_CMD_WRITE || type === wire.NBD_CMD_WRITE_ZEROES;
    return refuse(grows ? wire.NBD_ENOSPC : wire.NBD_EINVAL, `offset ${offset} + length ${length} exceeds size ${device.sizeBytes}`);
  }
  if ((flags & wire.NBD_CMD_FLAG_FAST_ZERO) !== 0 && !device.fastZeroes) {
    return refuse(wire.NBD_ENOTSUP, 'zeroing is not faster than writing on this export');
  }
  return null;
}
