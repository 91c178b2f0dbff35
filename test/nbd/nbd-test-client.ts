// A small NBD client over a raw socket for the server tests: it can speak the
// protocol properly (handshake, requests, simple and structured replies) and
// also send arbitrary bytes, stop mid-message, or disconnect at any point.
// Every wait is bounded so a broken server fails a test instead of hanging it.

import net from 'node:net';
import { ByteQueue } from '../../array-manager/nbd/byte-queue.ts';
import * as wire from '../../array-manager/nbd/nbd-wire.ts';

export interface Reply {
  handle: bigint;
  error: number;
  data: Uint8Array;
  /** 'simple' or the structured chunk types seen, in order. */
  shape: string;
  message?: string;
}

const waitMsMax = 10_000;

export class RawClient {
  private readonly input = new ByteQueue();
  private wake: (() => void) | null = null;
  private ended = false;
  private nextHandle = 1n;
  /** Lengths of READs sent, by handle: simple replies do not say how much data follows. */
  private readonly readLengths = new Map<bigint, number>();
  structured = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.input.push(chunk);
      this.wake?.();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.closed.then(() => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return RawClient.connectTo({ host: '127.0.0.1', port });
  }

  /** Connects to any address: TCP, or a Unix socket ({ path }). */
  static connectTo(address: net.NetConnectOpts): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(address, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Resolves with exactly n bytes, or rejects if the connection closes or nothing comes in time. */
  async read(n: number): Promise<Buffer> {
    const deadline = Date.now() + waitMsMax;
    while (this.input.length < n) {
      if (this.ended) throw new Error(`connection closed with ${this.input.length} of ${n} bytes`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} bytes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
    return Buffer.from(this.input.take(n));
  }

  /** True if the server closes the connection (within the bounded wait). */
  async closedByServer(): Promise<boolean> {
    const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), waitMsMax).unref());
    return Promise.race([this.closed.then(() => true), timeout]);
  }

  async greeting(): Promise<void> {
    wire.decodeGreeting(await this.read(wire.greetingBytes));
  }

  async optionReply(): Promise<{ option: number; type: number; payload: Buffer }> {
    const header = wire.decodeOptionReplyHeader(await this.read(wire.optionReplyHeaderBytes));
    return { option: header.option, type: header.type, payload: await this.read(header.length) };
  }

  sendOption(option: number, data: Uint8Array = new Uint8Array(0)): void {
    this.send(Buffer.concat([wire.encodeOptionHeader({ option, length: data.byteLength }), data]));
  }

  /** Fixed newstyle handshake ending in GO; returns the export's size and transmission flags. */
  async handshake(opts: { name?: string; structured?: boolean } = {}): Promise<{ sizeBytes: bigint; flags: number; minimumBytes: number }> {
    await this.greeting();
    this.send(wire.encodeClientFlags(wire.NBD_FLAG_C_FIXED_NEWSTYLE | wire.NBD_FLAG_C_NO_ZEROES));
    if (opts.structured) {
      this.sendOption(wire.NBD_OPT_STRUCTURED_REPLY);
      const reply = await this.optionReply();
      if (reply.type !== wire.NBD_REP_ACK) throw new Error(`STRUCTURED_REPLY refused: ${reply.type}`);
      this.structured = true;
    }
    this.sendOption(wire.NBD_OPT_GO, wire.encodeInfoRequest({ name: opts.name ?? '', infos: [wire.NBD_INFO_BLOCK_SIZE] }));
    let sizeBytes = -1n;
    let flags = 0;
    let minimumBytes = 1;
    for (;;) {
      const reply = await this.optionReply();
      if (reply.type === wire.NBD_REP_ACK) break;
      if (reply.type !== wire.NBD_REP_INFO) throw new Error(`GO refused: 0x${reply.type.toString(16)}`);
      const info = wire.decodeInfoReply(reply.payload);
      if (info.info === wire.NBD_INFO_EXPORT) ({ sizeBytes, transmissionFlags: flags } = info);
      if (info.info === wire.NBD_INFO_BLOCK_SIZE) minimumBytes = info.minimumBytes;
    }
    return { sizeBytes, flags, minimumBytes };
  }

  /** Sends one request; returns its handle. */
  request(type: number, offset: number | bigint, length: number, opts: { flags?: number; data?: Uint8Array } = {}): bigint {
    const handle = this.nextHandle++;
    if (type === wire.NBD_CMD_READ) this.readLengths.set(handle, length);
    const header = wire.encodeRequestHeader({ flags: opts.flags ?? 0, type, handle, offset: BigInt(offset), length });
    this.send(opts.data ? Buffer.concat([header, opts.data]) : header);
    return handle;
  }

  /** Reads one complete reply (all chunks of a structured one). */
  async reply(): Promise<Reply> {
    const magic = (await this.read(4)).readUInt32BE(0);
    if (magic === wire.NBD_SIMPLE_REPLY_MAGIC) {
      const rest = await this.read(12);
      const error = rest.readUInt32BE(0);
      const handle = rest.readBigUInt64BE(4);
      const readLength = this.readLengths.get(handle);
      this.readLengths.delete(handle);
      const data = error === 0 && readLength !== undefined ? await this.read(readLength) : new Uint8Array(0);
      return { handle, error, data, shape: 'simple' };
    }
    if (magic !== wire.NBD_STRUCTURED_REPLY_MAGIC) throw new Error(`bad reply magic 0x${magic.toString(16)}`);
    const parts: Buffer[] = [];
    const shape: string[] = [];
    let error = 0;
    let message: string | undefined;
    for (let first = true; ; first = false) {
      const headerBytes = first ? Buffer.concat([Buffer.from('668e33ef', 'hex'), await this.read(16)]) : await this.read(20);
      const header = wire.decodeStructuredReplyHeader(headerBytes);
      const payload = await this.read(header.length);
      shape.push(String(header.type));
      if (header.type === wire.NBD_REPLY_TYPE_OFFSET_DATA) parts.push(payload.subarray(8));
      if (header.type === wire.NBD_REPLY_TYPE_ERROR) ({ error, message } = wire.decodeStructuredError(payload));
      if (header.flags & wire.NBD_REPLY_FLAG_DONE) {
        this.readLengths.delete(header.handle);
        return { handle: header.handle, error, data: Buffer.concat(parts), shape: shape.join(','), message };
      }
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
