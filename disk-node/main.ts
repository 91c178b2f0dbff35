// The disk node's network shell: an HTTP server that only upgrades to
// WebSocket, one protocol-core session per connection. Strangers cost almost
// nothing: upgrades have a deadline; connections not yet upgraded and sessions
// not yet authenticated are bounded, a new one evicting the oldest, so a flood
// cannot lock the manager out. When replies pile up, the node stops reading.
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AttestationProvider, LaunchConfig } from '../attestation/provider.ts';
import * as limits from './limits.ts';
import { DiskNodeCore } from './node-core.ts';

export interface DiskNodeOptions {
  config: LaunchConfig;
  host: string;
  port: number;
  log?: (line: string) => void;
}

export type RunningDiskNode = { port: number; core: DiskNodeCore; close(): Promise<void> };

/** Drops the oldest members of a set once it is over `max`: a new arrival always gets a place. */
function evictOldest<T extends { destroy?(): void; terminate?(): void }>(set: Set<T>, max: number): void {
  for (const x of set) {
    if (set.size <= max) return;
    set.delete(x);
    x.terminate ? x.terminate() : x.destroy!();
  }
}

export async function startDiskNode(opts: DiskNodeOptions, provider: AttestationProvider): Promise<RunningDiskNode> {
  const core = new DiskNodeCore(opts.config, provider);
  const pending = new Set<WebSocket>();
  const authenticated = new Set<WebSocket>();
  const http = createServer((_req, res) => res.writeHead(426).end());
  http.maxConnections = limits.connectionsMax;
  // Connections that have not upgraded yet, oldest first.
  const upgrading = new Set<Socket>();
  http.on('connection', (socket: Socket) => {
    const deadline = setTimeout(() => upgrading.has(socket) && socket.destroy(), limits.upgradeTimeoutMs);
    upgrading.add(socket);
    evictOldest(upgrading, limits.upgradingConnectionsMax);
    socket.once('close', () => (clearTimeout(deadline), upgrading.delete(socket)));
  });
  const server = new WebSocketServer({ noServer: true, maxPayload: limits.preAuthFrameBytesMax, perMessageDeflate: false });
  http.on('upgrade', (req, socket: Socket, head) => {
    upgrading.delete(socket);
    socket.on('error', () => socket.destroy());
    server.handleUpgrade(req, socket, head, (ws) => session(ws, socket));
  });

  const session = (ws: WebSocket, socket: Socket): void => {
    socket.setNoDelay(true);
    pending.add(ws);
    evictOldest(pending, limits.pendingSessionsMax);
    const { session, hello } = core.openSession();
    let open = true;
    const drop = (code?: number, reason?: string): void => {
      if (!open) return;
      open = false;
      pending.delete(ws);
      authenticated.delete(ws);
      // A close frame says why; the socket goes at once, so a refused peer holds nothing.
      if (code) ws.close(code, reason);
      ws.terminate();
    };
    const authTimer = setTimeout(() => session.lastCounter === 0n && drop(), limits.sessionAuthTimeoutMs);
    ws.on('close', () => (clearTimeout(authTimer), drop()));
    ws.on('error', () => drop());
    ws.send(hello);
    // Over the reply bound: frames ws had already read (one socket read's worth) wait unexecuted until drain.
    const held: Buffer[] = [];
    let paused = false;
    const onFrame = (frame: Buffer): void => {
      if (!open) return;
      if (paused) return void held.push(frame);
      const wasPending = session.lastCounter === 0n;
      const reply = core.handle(session, frame);
      if (!Buffer.isBuffer(reply)) return drop(4000, reply.close);
      if (wasPending) {
        // Before this, ws refuses frames over preAuthFrameBytesMax at their length header; ws (pinned) reads this per frame.
        (ws as unknown as { _receiver: { _maxPayload: number } })._receiver._maxPayload = limits.frameBytesMax;
        pending.delete(ws);
        authenticated.add(ws);
        evictOldest(authenticated, limits.sessionsMax);
      }
      ws.send(reply);
      if (ws.bufferedAmount <= limits.replyQueueBytesMax) return;
      paused = true;
      ws.pause();
      socket.once('drain', () => {
        paused = false;
        ws.resume();
        while (open && !paused && held.length > 0) onFrame(held.shift()!);
      });
    };
    // With ws's default binaryType a binary message is always one Buffer.
    ws.on('message', (data, isBinary) => (isBinary ? onFrame(data as Buffer) : drop(1003, 'binary frames only')));
  };

  await new Promise<void>((resolve, reject) => {
    http.once('listening', resolve);
    http.once('error', reject);
    http.listen(opts.port, opts.host);
  });
  const port = (http.address() as AddressInfo).port;
  opts.log?.(`disk node listening on ${opts.host}:${port} (${opts.config.sectorCount} sectors of ${opts.config.sectorBytes} bytes)`);
  return {
    port,
    core,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of server.clients) ws.terminate();
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
