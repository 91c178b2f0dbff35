// A fault-injecting WebSocket proxy for tests with real processes: a TCP
// proxy on 127.0.0.1 in front of a disk node that passes the HTTP upgrade
// through untouched, then parses the RFC 6455 frames in both directions
// (client frames masked with any key) and, per configured rates and a seeded
// PRNG, duplicates, reorders, corrupts, delays, withholds or drops a frame,
// or resets the connection. Each frame gets at most one fault; control
// frames (close, ping, pong) pass unfaulted, in order. Bytes in flight when
// either side closes are lost, as on a real network.
import { connect, createServer, type Socket } from 'node:net';
import { prng } from '../sim/prng.ts';

/** Probability per data frame of each fault; they exclude each other, so their sum is at most 1. */
export interface FaultRates {
  /** The frame is sent twice. */
  duplicate: number;
  /** The frame is swapped with the next data frame the same way (sent after reorderWaitMs if none comes). */
  reorder: number;
  /** One bit of the payload is flipped; the header is kept, so the frame still parses. */
  corrupt: number;
  /** One bit anywhere in the frame is flipped, header included: the receiver's framing may break. */
  corruptFrame: number;
  /** The frame, and so every later frame the same way, is held for delayMs. */
  delay: number;
  /** Only this frame is held, for withholdMs: later frames overtake it. */
  withhold: number;
  /** The frame is never sent. */
  drop: number;
  /** The connection is reset (both sides) instead of forwarding the frame. */
  reset: number;
}

export type FaultKind = keyof FaultRates;
export const faultKinds: FaultKind[] = ['duplicate', 'reorder', 'corrupt', 'corruptFrame', 'delay', 'withhold', 'drop', 'reset'];

export interface FaultConfig {
  rates: Partial<FaultRates>;
  delayMs: number;
  withholdMs: number;
  reorderWaitMs: number;
}

export const noFaults = (): FaultConfig => ({ rates: {}, delayMs: 300, withholdMs: 1000, reorderWaitMs: 100 });

/** Frames seen and faults injected, per direction. */
export type FaultCounts = Record<FaultKind | 'frames', number>;
const zeroCounts = (): FaultCounts => Object.fromEntries(['frames', ...faultKinds].map((k) => [k, 0])) as FaultCounts;

export interface FrameHeader {
  opcode: number;
  masked: boolean;
  /** Header bytes, the masking key included. */
  headerBytes: number;
  payloadBytes: number;
}

/** The header at the start of `buf`, or undefined while it is incomplete. */
export function parseFrameHeader(buf: Buffer): FrameHeader | undefined {
  if (buf.length < 2) return undefined;
  const masked = (buf[1] & 0x80) !== 0;
  const len7 = buf[1] & 0x7f;
  const lengthBytes = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const headerBytes = 2 + lengthBytes + (masked ? 4 : 0);
  if (buf.length < headerBytes) return undefined;
  const payloadBytes = lengthBytes === 2 ? buf.readUInt16BE(2) : lengthBytes === 8 ? Number(buf.readBigUInt64BE(2)) : len7;
  return { opcode: buf[0] & 0x0f, masked, headerBytes, payloadBytes };
}

/** One whole frame (FIN set), masked with `mask` when given, as a client sends it. */
export function encodeFrame(opcode: number, payload: Buffer, mask?: Buffer): Buffer {
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + lengthBytes + (mask ? 4 : 0));
  head[0] = 0x80 | opcode;
  head[1] = (mask ? 0x80 : 0) | (lengthBytes === 0 ? n : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) head.writeUInt16BE(n, 2);
  if (lengthBytes === 8) head.writeBigUInt64BE(BigInt(n), 2);
  if (mask) mask.copy(head, 2 + lengthBytes);
  return Buffer.concat([head, mask ? applyMask(payload, mask) : payload]);
}

/** The unmasked payload of one whole frame. */
export function framePayload(frame: Buffer): Buffer {
  const h = parseFrameHeader(frame)!;
  const payload = frame.subarray(h.headerBytes, h.headerBytes + h.payloadBytes);
  return h.masked ? applyMask(payload, frame.subarray(h.headerBytes - 4, h.headerBytes)) : Buffer.from(payload);
}

function applyMask(data: Buffer, mask: Buffer): Buffer {
  return Buffer.from(data.map((b, i) => b ^ mask[i & 3]));
}

const headerEnd = Buffer.from('\r\n\r\n');
/** Longest HTTP head the proxy waits for before it gives up parsing and passes bytes raw. */
const httpHeadBytesMax = 16 * 1024;

/**
 * One direction of one connection: bytes in, faulted frames out. The HTTP
 * head passes first; frames follow only after a request or a 101 response.
 */
export class FrameLink {
  readonly counts = zeroCounts();
  private buf = Buffer.alloc(0);
  private mode: 'http' | 'frames' | 'raw' = 'http';
  /** Frames waiting for their release time, in order. */
  private readonly queue: { frame: Buffer; at: number }[] = [];
  private queueTimer: NodeJS.Timeout | undefined;
  private held: { frame: Buffer; timer: NodeJS.Timeout } | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly config: FaultConfig,
    private readonly random: () => number,
    private readonly out: (bytes: Buffer) => void,
    private readonly reset: () => void,
    /** The response direction carries frames only after `HTTP/1.1 101`. */
    private readonly isResponse: boolean,
  ) {}

  push(chunk: Buffer): void {
    if (this.closed) return;
    if (this.mode === 'raw') return this.out(chunk);
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.mode === 'http') this.passHttpHead();
    while (this.mode === 'frames' && !this.closed) {
      const h = parseFrameHeader(this.buf);
      if (!h || this.buf.length < h.headerBytes + h.payloadBytes) return;
      const frame = this.buf.subarray(0, h.headerBytes + h.payloadBytes);
      this.buf = this.buf.subarray(frame.length);
      this.onFrame(Buffer.from(frame), h);
    }
  }

  close(): void {
    this.closed = true;
    for (const timer of [...this.timers, this.queueTimer, this.held?.timer]) clearTimeout(timer);
  }

  private passHttpHead(): void {
    const end = this.buf.indexOf(headerEnd);
    if (end < 0 && this.buf.length <= httpHeadBytesMax) return;
    const head = end < 0 ? this.buf : this.buf.subarray(0, end + headerEnd.length);
    this.out(Buffer.from(head));
    this.buf = this.buf.subarray(head.length);
    this.mode = end >= 0 && (!this.isResponse || head.subarray(0, 12).toString() === 'HTTP/1.1 101') ? 'frames' : 'raw';
    if (this.mode === 'raw' && this.buf.length) this.out(this.buf);
  }

  /** The fault for the next data frame: one draw, walking the rates in faultKinds order. */
  private pick(): FaultKind | undefined {
    let r = this.random();
    for (const kind of faultKinds) {
      r -= this.config.rates[kind] ?? 0;
      if (r < 0) return kind;
    }
    return undefined;
  }

  private onFrame(frame: Buffer, h: FrameHeader): void {
    if (h.opcode >= 8) return this.emit(frame, 0);
    this.counts.frames++;
    const fault = this.pick();
    if (fault) this.counts[fault]++;
    const released = this.held;
    this.held = undefined;
    switch (fault) {
      case 'duplicate':
        this.emit(frame, 0);
        this.emit(frame, 0);
        break;
      case 'reorder':
        if (released) {
          // Already the second of a swap: it goes first, then the one held.
          this.emit(frame, 0);
        } else {
          const timer = setTimeout(() => this.releaseHeld(), this.config.reorderWaitMs);
          this.held = { frame, timer };
        }
        break;
      case 'corrupt':
        if (h.payloadBytes > 0) flipBit(frame, h.headerBytes, h.payloadBytes, this.random);
        this.emit(frame, 0);
        break;
      case 'corruptFrame':
        flipBit(frame, 0, frame.length, this.random);
        this.emit(frame, 0);
        break;
      case 'delay':
        this.emit(frame, this.config.delayMs);
        break;
      case 'withhold':
        this.later(() => this.out(frame), this.config.withholdMs);
        break;
      case 'drop':
        break;
      case 'reset':
        this.close();
        return this.reset();
      default:
        this.emit(frame, 0);
    }
    if (released) {
      clearTimeout(released.timer);
      this.emit(released.frame, 0);
    }
  }

  private releaseHeld(): void {
    const held = this.held;
    this.held = undefined;
    if (held) this.emit(held.frame, 0);
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => (this.timers.delete(timer), this.closed || fn()), ms);
    this.timers.add(timer);
  }

  /** Sends `frame` after `delayMs`, never before a frame queued earlier. */
  private emit(frame: Buffer, delayMs: number): void {
    if (this.closed) return;
    if (delayMs === 0 && this.queue.length === 0) return this.out(frame);
    this.queue.push({ frame, at: Date.now() + delayMs });
    this.drain();
  }

  private drain(): void {
    clearTimeout(this.queueTimer);
    const now = Date.now();
    while (!this.closed && this.queue.length > 0 && this.queue[0].at <= now) this.out(this.queue.shift()!.frame);
    if (!this.closed && this.queue.length > 0) this.queueTimer = setTimeout(() => this.drain(), this.queue[0].at - now);
  }
}

function flipBit(buf: Buffer, start: number, length: number, random: () => number): void {
  const bit = Math.floor(random() * length * 8);
  buf[start + (bit >> 3)] ^= 1 << (bit & 7);
}

export interface FaultProxy {
  port: number;
  url: string;
  /** Read for every frame: change `rates` to turn faults on or off while connections are open. */
  config: FaultConfig;
  /** Summed over every connection so far. */
  counts: { toNode: FaultCounts; toManager: FaultCounts };
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (a free port) to the disk node on 127.0.0.1:`targetPort`. */
export async function startFaultProxy(targetPort: number, seed: number, config: FaultConfig = noFaults()): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const links: FrameLink[] = [];
  let connections = 0;
  const server = createServer((client) => {
    // Each connection and direction draws from its own stream, so one link's faults do not depend on another's traffic.
    const base = (seed * 2654435761 + ++connections * 40503) >>> 0;
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = [client, upstream];
    for (const s of pair) (sockets.add(s), s.setNoDelay(true), s.on('error', () => {}));
    const reset = () => pair.forEach((s) => s.resetAndDestroy());
    const toNode = new FrameLink(config, prng(base), (b) => upstream.write(b), reset, false);
    const toManager = new FrameLink(config, prng(base ^ 0x5bd1e995), (b) => client.write(b), reset, true);
    links.push(toNode, toManager);
    client.on('data', (chunk) => toNode.push(chunk));
    upstream.on('data', (chunk) => toManager.push(chunk));
    const end = () => {
      toNode.close();
      toManager.close();
      for (const s of pair) (s.destroy(), sockets.delete(s));
    };
    client.once('close', end);
    upstream.once('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const sum = (response: boolean) => {
    const total = zeroCounts();
    for (let i = Number(response); i < links.length; i += 2) for (const k of Object.keys(total) as (keyof FaultCounts)[]) total[k] += links[i].counts[k];
    return total;
  };
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    config,
    get counts() {
      return { toNode: sum(false), toManager: sum(true) };
    },
    close: () =>
      new Promise<void>((resolve) => {
        links.forEach((l) => l.close());
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}
