// The NBD server: a TCP listener that runs the handshake state machine, then
// the transmission phase, on each connection, and owns the sockets and timers.
//
//   const server = await startNbdServer({ port: 0, exports: device });
//   // nbd://127.0.0.1:${server.address.port}/   (a single device is the default export "")
//   await server.close();
//
// Trusts: no client. A handshake must finish within handshakeTimeoutMs;
// connections beyond connectionsMax are closed on accept; a connection's
// failure never reaches another one or the process.
// Does not handle: TLS (NOTLS mode only; see docs/NBD.md), Unix sockets.

import net from 'node:net';
import { assertDeviceGeometry, type BlockDevice } from './block-device.ts';
import { ByteQueue } from './byte-queue.ts';
import { NbdHandshake } from './nbd-handshake.ts';
import { defaultNbdLimits, type NbdLimits } from './nbd-limits.ts';
import { NbdTransmission, type TransmissionIo } from './nbd-transmission.ts';
import { encodeString } from './nbd-wire.ts';
import { UnalignedDevice } from './unaligned-device.ts';

export interface NbdServerOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** TCP port; default 10809 (the IANA NBD port); 0 picks a free one. */
  port?: number;
  /** Named exports, or one device served as the default export "". */
  exports: ReadonlyMap<string, BlockDevice> | BlockDevice;
  /** One line per notable event (refused connections, protocol violations, device failures). */
  log?: (line: string) => void;
  limits?: Partial<NbdLimits>;
  /**
   * Advertise each device's blockBytes as the minimum block size and refuse
   * unaligned requests with EINVAL. Default false: devices are wrapped in
   * UnalignedDevice and the minimum advertised is 1 byte, because common
   * clients (nbdfuse) send unaligned requests whatever is advertised.
   */
  strictAlignment?: boolean;
}

export interface NbdServer {
  readonly address: { host: string; port: number };
  /** Connections currently open. */
  readonly connections: number;
  /** Stops accepting, lets running requests finish (new ones get ESHUTDOWN), then closes every connection. */
  close(): Promise<void>;
}

interface Connection {
  socket: net.Socket;
  transmission: NbdTransmission | null;
}

function exportMap(exports: NbdServerOptions['exports'], strictAlignment: boolean): ReadonlyMap<string, BlockDevice> {
  const given = exports instanceof Map ? (exports as ReadonlyMap<string, BlockDevice>) : new Map([['', exports as BlockDevice]]);
  const served = new Map<string, BlockDevice>();
  // One wrapper per device, shared by all its connections and names, so its
  // write ordering spans connections and multi-conn stays safe.
  const wrappers = new Map<BlockDevice, BlockDevice>();
  for (const [name, device] of given) {
    encodeString(name); // asserts the protocol's string bounds
    assertDeviceGeometry(device, `export ${JSON.stringify(name)}`);
    if (strictAlignment || device.blockBytes === 1) {
      served.set(name, device);
      continue;
    }
    const wrapper = wrappers.get(device) ?? new UnalignedDevice(device);
    wrappers.set(device, wrapper);
    served.set(name, wrapper);
  }
  return served;
}

/** Ends our side after queued bytes are sent, discards what the peer still sends, and drops it after a while. */
function hangUp(socket: net.Socket, lingerMs: number): void {
  socket.end();
  socket.resume();
  setTimeout(() => socket.destroy(), lingerMs).unref();
}

export async function startNbdServer(opts: NbdServerOptions): Promise<NbdServer> {
  const limits: NbdLimits = { ...defaultNbdLimits, ...opts.limits };
  const exports = exportMap(opts.exports, opts.strictAlignment ?? false);
  const log = opts.log ?? (() => {});
  const connections = new Set<Connection>();
  let closing = false;

  const server = net.createServer({ noDelay: true }, (socket) => {
    if (closing || connections.size >= limits.connectionsMax) {
      log(`nbd: refusing connection from ${socket.remoteAddress}: ${closing ? 'closing' : 'too many connections'}`);
      socket.destroy();
      return;
    }
    const connection: Connection = { socket, transmission: null };
    connections.add(connection);
    serve(connection);
  });

  function serve(connection: Connection): void {
    const { socket } = connection;
    socket.setNoDelay(true);
    const input = new ByteQueue();
    const handshake = new NbdHandshake(exports, limits);
    const timer = setTimeout(() => {
      log(`nbd: handshake timeout for ${socket.remoteAddress}`);
      socket.destroy();
    }, limits.handshakeTimeoutMs);
    let handshaking = true;

    const io: TransmissionIo = {
      write: (chunk) => {
        socket.write(chunk);
        return socket.writableLength < limits.sendBufferBytesMax;
      },
      cork: () => socket.cork(),
      uncork: () => socket.uncork(),
      pauseInput: () => socket.pause(),
      resumeInput: () => socket.resume(),
      end: () => hangUp(socket, limits.closeLingerMs),
      destroy: () => socket.destroy(),
    };

    socket.on('data', (chunk: Buffer) => {
      if (connection.transmission) {
        connection.transmission.receive(chunk);
        return;
      }
      if (!handshaking) return; // ended: discard
      input.push(chunk);
      const output: Uint8Array[] = [];
      const result = handshake.advance(input, output);
      for (const bytes of output) socket.write(bytes);
      if (result.kind === 'more') return;
      handshaking = false;
      clearTimeout(timer);
      if (result.kind === 'close') {
        log(`nbd: closing handshake with ${socket.remoteAddress}: ${result.reason}`);
        input.clear();
        hangUp(socket, limits.closeLingerMs);
        return;
      }
      connection.transmission = new NbdTransmission(result.session, input, io, limits, log);
      connection.transmission.start();
    });
    socket.on('drain', () => connection.transmission?.drained());
    socket.on('error', (err) => log(`nbd: socket error from ${socket.remoteAddress}: ${err.message}`));
    socket.on('close', () => {
      clearTimeout(timer);
      connection.transmission?.closed();
      connections.delete(connection);
    });
    socket.write(handshake.greeting());
  }

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 10809, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log(`nbd: server error: ${err.message}`));
  const bound = server.address() as net.AddressInfo;

  async function close(): Promise<void> {
    if (closing) return;
    closing = true;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    const all = [...connections];
    const gone = all.map((c) => new Promise<void>((resolve) => (c.socket.destroyed ? resolve() : c.socket.once('close', () => resolve()))));
    for (const c of all) {
      if (c.transmission) c.transmission.shutdown();
      else c.socket.destroy();
    }
    const timer = setTimeout(() => {
      for (const c of connections) c.socket.destroy();
    }, limits.closeTimeoutMs);
    await Promise.all(gone);
    clearTimeout(timer);
    await stopped;
  }

  return {
    address: { host, port: bound.port },
    get connections() {
      return connections.size;
    },
    close,
  };
}
