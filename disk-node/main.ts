// The disk node's network shell: a WebSocket server that gives each
// connection its own session on the protocol core and moves binary frames in
// and out. Text frames, oversized frames and excess connections are refused
// here; everything else is the core's job. Backpressure: when replies pile up
// on a socket faster than the peer reads them, the node stops reading from it.
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData } from 'ws';
import type { AttestationProvider, LaunchConfig } from '../attestation/provider.ts';
import { frameBytesMax, replyQueueBytesMax, sessionAuthTimeoutMs, sessionsMax } from './limits.ts';
import { DiskNodeCore } from './node-core.ts';

export interface DiskNodeOptions {
  config: LaunchConfig;
  host: string;
  port: number;
  log?: (line: string) => void;
}

export interface RunningDiskNode {
  port: number;
  core: DiskNodeCore;
  close(): Promise<void>;
}

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

export async function startDiskNode(opts: DiskNodeOptions, provider: AttestationProvider): Promise<RunningDiskNode> {
  const log = opts.log ?? (() => {});
  const core = new DiskNodeCore(opts.config, provider);
  const server = new WebSocketServer({
    host: opts.host,
    port: opts.port,
    maxPayload: frameBytesMax,
    perMessageDeflate: false,
  });
  server.on('connection', (ws, req) => {
    const socket = req.socket;
    if (server.clients.size > sessionsMax) {
      ws.close(1013, 'too many sessions');
      return;
    }
    socket.setNoDelay(true);
    const { session, hello } = core.openSession();
    ws.send(hello);
    const authTimer = setTimeout(() => session.lastCounter === 0n && ws.terminate(), sessionAuthTimeoutMs);
    ws.on('close', () => clearTimeout(authTimer));
    // Over the reply bound the session stops reading; frames ws had already
    // read (at most one socket read's worth) wait unexecuted until drain.
    const held: Buffer[] = [];
    let paused = false;
    const onFrame = (frame: Buffer): void => {
      if (paused) return void held.push(frame);
      ws.send(core.handle(session, frame));
      if (ws.bufferedAmount <= replyQueueBytesMax) return;
      paused = true;
      ws.pause();
      socket.once('drain', () => {
        paused = false;
        ws.resume();
        while (!paused && held.length > 0) onFrame(held.shift()!);
      });
    };
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return void ws.close(1003, 'binary frames only');
      onFrame(asBuffer(data));
    });
    ws.on('error', (err) => log(`session error: ${err.message}`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  log(`disk node listening on ${opts.host}:${port} (${opts.config.sectorCount} sectors of ${opts.config.sectorBytes} bytes)`);
  return {
    port,
    core,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of server.clients) ws.terminate();
        server.close(() => resolve());
      }),
  };
}
