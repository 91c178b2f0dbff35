// The transmission phase of one NBD connection: parses requests from the
// received bytes, runs them on the device concurrently, and writes each reply
// as soon as its request completes (out of order, matched by handle).
//
// Flow control: at most requestsInFlightMax requests and about
// inFlightBytesMax of request cost (every kind counts, see nbd-limits.ts) are
// in progress; past that, or while the socket's send buffer is full, it stops
// parsing and pauses the socket, so a fast client is slowed down by TCP rather
// than by our memory. READ and WRITE lengths are also reserved from the
// server-wide payload budget before the payload is read or allocated; while
// the reservation waits, the connection reads nothing.
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
import type { ByteBudget } from './byte-budget.ts';
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
/** What parsing one request did: started it, needs more bytes, or waits for the payload budget or the stream ended. */
type ParseResult = 'started' | 'more' | 'blocked';
/** Gathered WRITE payload buffers kept for reuse per connection: 16 in flight at 1 MiB. */
const payloadPoolBytesMax = 16 * 1024 * 1024;
const messageBytesMax = 256;

export class NbdTransmission {
  /** open: serving; shutting-down: answering ESHUTDOWN until idle; draining: after DISC or a fatal error. */
  private state: 'open' | 'shutting-down' | 'draining' | 'closed' = 'open';
  private inFlight = 0;
  private inFlightBytes = 0;
  /** Bytes of the payload budget reserved for the request whose header is first in `input`. */
  private reserved = 0;
  private cancelBudgetWait: (() => void) | null = null;
  /** performance.now() when the connection last became idle (nothing in progress); null while busy. */
  private idleSinceMs: number | null = performance.now();
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
    private readonly limits: Pick<NbdLimits, 'requestsInFlightMax' | 'inFlightBytesMax' | 'payloadBytesMax' | 'requestCostBytesMin'>,
    private readonly budget: ByteBudget,
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

  /** Call when the socket has closed: later completions are dropped silently; budget held for unread payloads is returned. */
  closed(): void {
    this.state = 'closed';
    this.input.clear();
    this.dropReservation();
  }

  /**
   * Milliseconds (performance.now() clock) since the connection last had
   * something to do: no request in progress, no complete request received
   * and no partial one waiting. null while busy. A client that sends part of
   * a request and stops counts as idle: the bytes it holds are not work.
   */
  idleForMs(now: number): number | null {
    return this.idleSinceMs === null ? null : now - this.idleSinceMs;
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
      const parsed = this.parseOne();
      if (parsed === 'blocked') {
        this.pauseInput();
        return;
      }
      if (parsed === 'more') {
        this.resumeInput();
        break;
      }
    }
    this.endIfIdle();
  }

  /** Parses and starts one request. */
  private parseOne(): ParseResult {
    if (this.input.length < wire.requestHeaderBytes) return 'more';
    let request: wire.RequestHeader;
    try {
      request = wire.decodeRequestHeader(this.input.peek(wire.requestHeaderBytes));
    } catch (err) {
      this.log(`nbd: dropping connection: ${(err as Error).message}`);
      this.abort();
      return 'blocked';
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
        return 'blocked';
      }
      if (!this.reserve(request)) return 'blocked';
      if (this.input.length < wire.requestHeaderBytes + request.length) {
        // A partial request is not activity: a client that stops half-way is idle.
        return 'more';
      }
      this.input.skip(wire.requestHeaderBytes);
      payload = this.input.take(request.length, (n) => ((pooled = true), this.pool.allocate(n)));
    } else {
      if (this.heldBytes(request) > 0 && !this.reserve(request)) return 'blocked';
      this.input.skip(wire.requestHeaderBytes);
    }
    const held = this.reserved;
    this.reserved = 0;
    this.begin(request, payload, pooled, held);
    return 'started';
  }

  /** Payload bytes a request makes the server hold: WRITE data while it arrives and runs, READ data until replied. */
  private heldBytes(request: wire.RequestHeader): number {
    // Shutting down, nothing reaches the device: ESHUTDOWN must not wait for budget.
    if (this.state !== 'open') return 0;
    const carries = request.type === wire.NBD_CMD_WRITE || request.type === wire.NBD_CMD_READ;
    // A READ refused by checkRequest (too long, out of range) never allocates:
    // reserving its length could exceed the budget, so it reserves nothing.
    return carries && request.length <= this.limits.payloadBytesMax ? request.length : 0;
  }

  /**
   * Reserves the payload budget for the request whose header is first in the
   * queue; false if it must wait (a grant resumes parsing).
   */
  private reserve(request: wire.RequestHeader): boolean {
    const bytes = this.heldBytes(request);
    if (this.reserved === bytes || this.cancelBudgetWait) return this.reserved === bytes;
    if (this.budget.tryReserve(bytes)) {
      this.reserved = bytes;
      return true;
    }
    this.cancelBudgetWait = this.budget.wait(bytes, () => {
      this.cancelBudgetWait = null;
      this.reserved = bytes;
      // Granted from another connection's release: continue on our own stack.
      queueMicrotask(() => (this.state === 'closed' ? this.dropReservation() : this.pump()));
    });
    return false;
  }

  private dropReservation(): void {
    this.cancelBudgetWait?.();
    this.cancelBudgetWait = null;
    if (this.reserved > 0) this.budget.release(this.reserved);
    this.reserved = 0;
  }

  /** Cost of a request against the connection's in-flight budget: every kind counts. */
  private cost(request: wire.RequestHeader): number {
    return Math.max(request.length, this.limits.requestCostBytesMin);
  }

  /**
   * `pooled`: the payload came from the pool and goes back once the request
   * is done; `held`: payload budget reserved for it, returned likewise.
   */
  private begin(request: wire.RequestHeader, payload: Uint8Array, pooled: boolean, held: number): void {
    if (held > 0 && !this.runs(request)) this.budget.release(held);
    // Any complete request is activity, refused ones included.
    if (this.inFlight === 0) this.idleSinceMs = performance.now();
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
    const cost = this.cost(request);
    this.inFlight++;
    this.inFlightBytes += cost;
    this.idleSinceMs = null;
    this.execute(request, payload).then(
      (data) => {
        this.replyOk(request, data);
        this.finished(cost, held, pooled ? payload : null);
      },
      (err: unknown) => {
        const { error, message } = deviceErrorToNbd(err);
        if (!(err instanceof BlockDeviceError)) this.log(`nbd: device failed: ${err instanceof Error ? err.stack : String(err)}`);
        this.replyError(request, error, message);
        this.finished(cost, held, pooled ? payload : null);
      },
    );
  }

  /** Whether begin() will pass a request to the device (the only case in which its reservation is kept). */
  private runs(request: wire.RequestHeader): boolean {
    return request.type !== wire.NBD_CMD_DISC && this.state !== 'shutting-down' && checkRequest(request, this.session) === null;
  }

  /** Bookkeeping once a request has replied: frees its share of the limits, its budget and its pooled payload. */
  private finished(cost: number, held: number, pooledPayload: Uint8Array | null): void {
    if (pooledPayload) this.pool.release(pooledPayload);
    if (held > 0) this.budget.release(held);
    this.inFlight--;
    this.inFlightBytes -= cost;
    if (this.inFlight === 0) this.idleSinceMs = performance.now();
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
    this.dropReservation();
    this.pauseInput();
    this.endIfIdle();
  }

  private abort(): void {
    this.state = 'closed';
    this.input.clear();
    this.dropReservation();
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
