// The transmission phase of one NBD connection: parses requests from the
// received bytes, runs them on the device concurrently, and writes each reply
// as soon as its request completes (out of order, matched by handle).
//
// Flow control: at most requestsInFlightMax requests and about
// inFlightBytesMax payload bytes are in progress; past that, or while the
// socket's send buffer is full, it stops parsing and pauses the socket, so a
// fast client is slowed down by TCP rather than by our memory.
//
// Ordering: a reply is written only after the device call resolved, so every
// acknowledged write is acknowledged by the device too, and a FLUSH (passed
// straight to device.flush) covers it. FUA on TRIM and WRITE_ZEROES, which the
// device interface does not carry, is honoured with a flush after the call.
//
// Trusts: nothing in the requests (see nbd-request-check.ts). A bad request
// magic means the stream is out of step: the connection is dropped, as is one
// announcing a WRITE payload above the maximum (answered EINVAL first).
// Requests still buffered when the server shuts down get ESHUTDOWN.
// Does not handle: sockets, timers, TLS (the server shell owns those).

import { BlockDeviceError } from './block-device.ts';
import type { ByteQueue } from './byte-queue.ts';
import type { NbdSession } from './nbd-handshake.ts';
import type { NbdLimits } from './nbd-limits.ts';
import { checkRequest } from './nbd-request-check.ts';
import { PayloadPool } from './payload-pool.ts';
import * as wire from './nbd-wire.ts';

/** What the transmission phase needs from its socket. */
export interface TransmissionIo {
  /** Queues bytes; false when the send buffer holds more than sendBufferBytesMax ('drain' follows). */
  write(chunk: Uint8Array): boolean;
  cork(): void;
  uncork(): void;
  pauseInput(): void;
  resumeInput(): void;
  /** Sends what is queued, then closes. */
  end(): void;
  /** Closes at once. */
  destroy(): void;
}

const deviceErrors: Record<BlockDeviceError['code'], number> = {
  E_DEVICE_RANGE: wire.NBD_EINVAL,
  E_DEVICE_IO: wire.NBD_EIO,
  E_DEVICE_NO_SPACE: wire.NBD_ENOSPC,
  E_DEVICE_READ_ONLY: wire.NBD_EPERM,
  E_DEVICE_SHUTDOWN: wire.NBD_ESHUTDOWN,
};

/** Maps a device failure to an NBD error value and a message safe to show the client. */
export function deviceErrorToNbd(err: unknown): { error: number; message: string } {
  if (err instanceof BlockDeviceError) return { error: deviceErrors[err.code] ?? wire.NBD_EIO, message: err.message };
  return { error: wire.NBD_EIO, message: 'device I/O error' };
}

const empty = new Uint8Array(0);
/** Gathered WRITE payload buffers kept for reuse per connection: 16 in flight at 1 MiB. */
const payloadPoolBytesMax = 16 * 1024 * 1024;
const messageBytesMax = 256;

export class NbdTransmission {
  /** open: serving; shutting-down: answering ESHUTDOWN until idle; draining: after DISC or a fatal error. */
  private state: 'open' | 'shutting-down' | 'draining' | 'closed' = 'open';
  private inFlight = 0;
  private inFlightBytes = 0;
  private outputBlocked = false;
  private inputPaused = false;
  private corked = false;
  private readonly pool: PayloadPool;
  private readonly uncorkSoon = () => {
    this.corked = false;
    this.io.uncork();
  };

  constructor(
    private readonly session: NbdSession,
    private readonly input: ByteQueue,
    private readonly io: TransmissionIo,
    private readonly limits: Pick<NbdLimits, 'requestsInFlightMax' | 'inFlightBytesMax' | 'payloadBytesMax'>,
    private readonly log: (line: string) => void,
  ) {
    this.pool = new PayloadPool(payloadPoolBytesMax);
  }

  /** Call with each chunk received; chunks arriving after DISC or a hang-up are discarded. */
  receive(chunk: Uint8Array): void {
    if (this.state !== 'open' && this.state !== 'shutting-down') return;
    this.input.push(chunk);
    this.pump();
  }

  /** Call once after construction: serves bytes that arrived with the end of the handshake. */
  start(): void {
    this.pump();
  }

  /** Call on the socket's 'drain' event. */
  drained(): void {
    this.outputBlocked = false;
    this.pump();
  }

  /** Call when the socket has closed: later completions are dropped silently. */
  closed(): void {
    this.state = 'closed';
    this.input.clear();
  }

  /** Server shutdown: finish what runs, answer the rest with ESHUTDOWN, then close. */
  shutdown(): void {
    if (this.state !== 'open') return;
    this.state = 'shutting-down';
    this.pump();
  }

  private pump(): void {
    while (this.state === 'open' || this.state === 'shutting-down') {
      if (this.outputBlocked || this.inFlight >= this.limits.requestsInFlightMax || this.inFlightBytes >= this.limits.inFlightBytesMax) {
        this.pauseInput();
        return;
      }
      if (!this.parseOne()) {
        this.resumeInput();
        break;
      }
    }
    this.endIfIdle();
  }

  /** Parses and starts one request; false if more bytes are needed or the stream ended. */
  private parseOne(): boolean {
    if (this.input.length < wire.requestHeaderBytes) return false;
    let request: wire.RequestHeader;
    try {
      request = wire.decodeRequestHeader(this.input.peek(wire.requestHeaderBytes));
    } catch (err) {
      this.log(`nbd: dropping connection: ${(err as Error).message}`);
      this.abort();
      return false;
    }
    let payload: Uint8Array = empty;
    let pooled = false;
    if (request.type === wire.NBD_CMD_WRITE) {
      if (request.length > this.limits.payloadBytesMax) {
        // The payload is not read (it may be up to 4 GiB): answer, then hang up.
        this.input.skip(wire.requestHeaderBytes);
        this.replyError(request, wire.NBD_EINVAL, `write length ${request.length} exceeds ${this.limits.payloadBytesMax}`);
        this.log(`nbd: dropping connection: write payload ${request.length} bytes`);
        this.drain();
        return false;
      }
      if (this.input.length < wire.requestHeaderBytes + request.length) return false;
      this.input.skip(wire.requestHeaderBytes);
      payload = this.input.take(request.length, (n) => ((pooled = true), this.pool.allocate(n)));
    } else {
      this.input.skip(wire.requestHeaderBytes);
    }
    this.begin(request, payload, pooled);
    return true;
  }

  /** `pooled`: the payload came from the pool and goes back once the request is done. */
  private begin(request: wire.RequestHeader, payload: Uint8Array, pooled: boolean): void {
    if (request.type === wire.NBD_CMD_DISC) {
      this.drain();
      return;
    }
    if (this.state === 'shutting-down') {
      this.replyError(request, wire.NBD_ESHUTDOWN, 'server is shutting down');
      return;
    }
    const refusal = checkRequest(request, this.session);
    if (refusal) {
      this.replyError(request, refusal.error, refusal.message);
      return;
    }
    const cost = request.type === wire.NBD_CMD_READ || request.type === wire.NBD_CMD_WRITE ? request.length : 0;
    this.inFlight++;
    this.inFlightBytes += cost;
    this.execute(request, payload).then(
      (data) => {
        this.replyOk(request, data);
        this.finished(cost, pooled ? payload : null);
      },
      (err: unknown) => {
        const { error, message } = deviceErrorToNbd(err);
        if (!(err instanceof BlockDeviceError)) this.log(`nbd: device failed: ${err instanceof Error ? err.stack : String(err)}`);
        this.replyError(request, error, message);
        this.finished(cost, pooled ? payload : null);
      },
    );
  }

  /** Bookkeeping once a request has replied: frees its share of the limits and its pooled payload. */
  private finished(cost: number, pooledPayload: Uint8Array | null): void {
    if (pooledPayload) this.pool.release(pooledPayload);
    this.inFlight--;
    this.inFlightBytes -= cost;
    this.pump();
  }

  /** Runs a checked request; resolves with the data for READ, empty otherwise. */
  private async execute(request: wire.RequestHeader, payload: Uint8Array): Promise<Uint8Array> {
    const { device } = this.session;
    const offset = Number(request.offset);
    const { length } = request;
    const fua = (request.flags & wire.NBD_CMD_FLAG_FUA) !== 0;
    switch (request.type) {
      case wire.NBD_CMD_READ: {
        if (length === 0) return empty;
        const data = await device.read(offset, length);
        if (data.byteLength !== length) {
          throw new BlockDeviceError('E_DEVICE_IO', `device returned ${data.byteLength} bytes for a ${length}-byte read`);
        }
        return data;
      }
      case wire.NBD_CMD_WRITE:
        if (length > 0) await device.write(offset, payload, fua);
        return empty;
      case wire.NBD_CMD_FLUSH:
        await device.flush();
        return empty;
      case wire.NBD_CMD_TRIM:
        if (length > 0) await device.trim(offset, length);
        if (fua) await device.flush();
        return empty;
      default: // NBD_CMD_WRITE_ZEROES: checkRequest admits no other command.
        if (length > 0) await device.writeZeroes(offset, length, { noHole: (request.flags & wire.NBD_CMD_FLAG_NO_HOLE) !== 0 });
        if (fua) await device.flush();
        return empty;
    }
  }

  private replyOk(request: wire.RequestHeader, data: Uint8Array): void {
    if (request.type !== wire.NBD_CMD_READ) {
      // Allowed for every command but READ even with structured replies.
      this.send(wire.encodeSimpleReply(0, request.handle));
    } else if (!this.session.structuredReplies) {
      this.send(wire.encodeSimpleReply(0, request.handle), data);
    } else if (data.byteLength === 0) {
      this.send(wire.encodeStructuredDone(request.handle));
    } else {
      // One final OFFSET_DATA chunk: the data is complete before it is sent,
      // so no error can follow it, and DF is honoured by construction.
      this.send(wire.encodeReadChunkHeader(request.handle, request.offset, data.byteLength), data);
    }
  }

  private replyError(request: wire.RequestHeader, error: number, message: string): void {
    if (this.session.structuredReplies) {
      this.send(wire.encodeStructuredError(request.handle, error, message.slice(0, messageBytesMax)));
    } else {
      // Without structured replies a failed READ carries no data ("Simple replies").
      this.send(wire.encodeSimpleReply(error, request.handle));
    }
  }

  private send(header: Uint8Array, data?: Uint8Array): void {
    if (this.state === 'closed') return;
    // Replies finishing in the same tick leave in one writev.
    if (!this.corked) {
      this.corked = true;
      this.io.cork();
      process.nextTick(this.uncorkSoon);
    }
    let ok = this.io.write(header);
    if (data && data.byteLength > 0) ok = this.io.write(data) && ok;
    if (!ok) this.outputBlocked = true;
  }

  /** Stops reading; the connection ends once running requests have replied. */
  private drain(): void {
    if (this.state === 'closed') return;
    this.state = 'draining';
    this.input.clear();
    this.pauseInput();
    this.endIfIdle();
  }

  private abort(): void {
    this.state = 'closed';
    this.input.clear();
    this.io.destroy();
  }

  private endIfIdle(): void {
    if (this.inFlight > 0) return;
    if (this.state === 'draining' || this.state === 'shutting-down') {
      this.state = 'closed';
      this.io.end();
    }
  }

  private pauseInput(): void {
    if (this.inputPaused) return;
    this.inputPaused = true;
    this.io.pauseInput();
  }

  private resumeInput(): void {
    if (!this.inputPaused || this.state !== 'open') return;
    this.inputPaused = false;
    this.io.resumeInput();
  }
}
