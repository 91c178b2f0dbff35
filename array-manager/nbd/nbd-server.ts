// The NBD server: listeners (TCP, TLS-only TCP, Unix sockets), and on each
// connection the handshake state machine, the TLS upgrade after STARTTLS,
// then the transmission phase. Owns the sockets and timers.
//
//   const server = await startNbdServer({ port: 0, exports: device });
//   // nbd://127.0.0.1:${server.address.port}/   (a single device is the default export "")
//   const secure = await startNbdServer({ exports: device, listen: [
//     { kind: 'unix', path: '/run/teearray/nbd.sock' },                 // nbd+unix:///?socket=...
//     { kind: 'tcp', host: '0.0.0.0', port: 10809, tls: await loadPskCredentials('nbd.psk') },
//   ] });
//   await server.close();
//
// Trusts: no client. A handshake (TLS included) must finish within
// handshakeTimeoutMs; at most handshakesMax connections may be handshaking
// and connectionsMax open, further ones are closed on accept unless an idle
// connection can make room; the payload bytes held across connections are
// bounded by payloadBytesHeldMax; a connection's failure never reaches
// another one or the process. Who may connect at all is the listeners' job
// (nbd-listeners.ts, nbd-tls.ts).

import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { assertDeviceGeometry, type BlockDevice } from './block-device.ts';
import { ByteBudget } from './byte-budget.ts';
import { ByteQueue } from './byte-queue.ts';
import { NbdHandshake } from './nbd-handshake.ts';
import { checkNbdLimits, defaultNbdLimits, type NbdLimits } from './nbd-limits.ts';
import { openListener, type NbdListener, type NbdListenerAddress, type NbdListenSpec } from './nbd-listeners.ts';
import { startTls } from './nbd-tls.ts';
import { NbdTransmission, type TransmissionIo } from './nbd-transmission.ts';
import { encodeString } from './nbd-wire.ts';
import { UnalignedDevice } from './unaligned-device.ts';

export interface NbdServerOptions {
  /** Listeners to open. Without it: one plaintext TCP listener at host:port. */
  listen?: NbdListenSpec[];
  /** Address of the default listener; default 127.0.0.1. */
  host?: string;
  /** Port of the default listener; default 10809 (the IANA NBD port); 0 picks a free one. */
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
  /** The first TCP listener's address (throws if the server has none). */
  readonly address: { host: string; port: number };
  /** Every listener, in the order given. */
  readonly listeners: readonly NbdListenerAddress[];
  /** Connections currently open. */
  readonly connections: number;
  /** Payload bytes currently held for requests, across connections. */
  readonly payloadBytesHeld: number;
  /** Stops accepting, lets running requests finish (new ones get ESHUTDOWN), then closes every connection. */
  close(): Promise<void>;
}

interface Connection {
  socket: net.Socket;
  /** What the handshake and transmission read and write: the socket, or TLS over it. */
  stream: Duplex;
  peer: string;
  transmission: NbdTransmission | null;
  /** Being closed by the server (idle, evicted): no longer counted against connectionsMax. */
  ending: boolean;
  idleTimer: NodeJS.Timeout | null;
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
function hangUp(stream: Duplex, lingerMs: number): void {
  stream.end();
  stream.resume();
  setTimeout(() => stream.destroy(), lingerMs).unref();
}

function describePeer(socket: net.Socket, spec: NbdListenSpec): string {
  return spec.kind === 'unix' ? `unix:${spec.path}` : `${socket.remoteAddress}:${socket.remotePort}`;
}

export async function startNbdServer(opts: NbdServerOptions): Promise<NbdServer> {
  const limits: NbdLimits = { ...defaultNbdLimits, ...opts.limits };
  checkNbdLimits(limits);
  const exports = exportMap(opts.exports, opts.strictAlignment ?? false);
  const log = opts.log ?? (() => {});
  const budget = new ByteBudget(limits.payloadBytesHeldMax);
  const connections = new Set<Connection>();
  let handshaking = 0;
  let counted = 0; // connections not `ending`
  let closing = false;

  function accept(socket: net.Socket, spec: NbdListenSpec): void {
    const peer = describePeer(socket, spec);
    const refuse = (why: string) => {
      log(`nbd: refusing connection from ${peer}: ${why}`);
      socket.destroy();
    };
    if (closing) return refuse('closing');
    if (handshaking >= limits.handshakesMax) return refuse(`${handshaking} connections already in the handshake`);
    if (counted >= limits.connectionsMax && !evictIdle()) return refuse(`${counted} connections open, none idle for ${limits.idleEvictMs} ms`);
    const connection: Connection = { socket, stream: socket, peer, transmission: null, ending: false, idleTimer: null };
    connections.add(connection);
    counted++;
    serve(connection, spec);
  }

  /** Closes the connection idle longest, if one has been idle for idleEvictMs; true if one was. */
  function evictIdle(): boolean {
    if (limits.idleEvictMs === 0) return false;
    const now = performance.now();
    let oldest: Connection | null = null;
    let oldestMs = limits.idleEvictMs - 1;
    for (const c of connections) {
      const idleMs = c.ending ? null : c.transmission?.idleForMs(now);
      if (idleMs != null && idleMs > oldestMs) [oldest, oldestMs] = [c, idleMs];
    }
    if (!oldest) return false;
    endConnection(oldest, `idle for ${Math.round(oldestMs)} ms, its place is needed`);
    return true;
  }

  function endConnection(connection: Connection, why: string): void {
    if (connection.ending) return;
    log(`nbd: closing connection from ${connection.peer}: ${why}`);
    connection.ending = true;
    counted--;
    // Idle: nothing in progress, so this replies to nothing and ends at once.
    connection.transmission?.shutdown();
  }

  /** Closes the connection once it has been idle for idleTimeoutMs; re-armed for the rest of the time otherwise. */
  function armIdleTimeout(connection: Connection, afterMs: number): void {
    if (limits.idleTimeoutMs === 0) return;
    connection.idleTimer = setTimeout(() => {
      const idleMs = connection.transmission?.idleForMs(performance.now()) ?? null;
      if (idleMs !== null && idleMs >= limits.idleTimeoutMs) endConnection(connection, `idle for ${Math.round(idleMs)} ms`);
      else armIdleTimeout(connection, limits.idleTimeoutMs - (idleMs ?? 0));
    }, Math.max(1, afterMs));
    connection.idleTimer.unref();
  }

  function serve(connection: Connection, spec: NbdListenSpec): void {
    const { socket, peer } = connection;
    socket.setNoDelay?.(true);
    const input = new ByteQueue();
    const handshake = new NbdHandshake(exports, limits, spec.tls ? 'required' : 'none');
    let tlsIdentity: string | null = null;
    let inHandshake = true;
    handshaking++;
    const handshakeDone = () => {
      if (!inHandshake) return;
      inHandshake = false;
      handshaking--;
      clearTimeout(timer);
    };
    const timer = setTimeout(() => {
      log(`nbd: handshake timeout for ${peer}`);
      connection.stream.destroy();
      socket.destroy();
    }, limits.handshakeTimeoutMs);

    const io: TransmissionIo = {
      write: (chunk) => {
        connection.stream.write(chunk);
        return connection.stream.writableLength < limits.sendBufferBytesMax;
      },
      cork: () => connection.stream.cork(),
      uncork: () => connection.stream.uncork(),
      pauseInput: () => connection.stream.pause(),
      resumeInput: () => connection.stream.resume(),
      end: () => hangUp(connection.stream, limits.closeLingerMs),
      destroy: () => {
        connection.stream.destroy();
        socket.destroy();
      },
    };

    const onData = (chunk: Buffer) => {
      if (connection.transmission) {
        connection.transmission.receive(chunk);
        return;
      }
      if (!inHandshake) return; // ended: discard
      input.push(chunk);
      const output: Uint8Array[] = [];
      const result = handshake.advance(input, output);
      for (const bytes of output) connection.stream.write(bytes);
      if (result.kind === 'more') return;
      if (result.kind === 'starttls') return upgrade();
      handshakeDone();
      if (result.kind === 'close') {
        log(`nbd: closing handshake with ${peer}: ${result.reason}`);
        input.clear();
        hangUp(connection.stream, limits.closeLingerMs);
        return;
      }
      if (spec.tls) log(`nbd: TLS client ${tlsIdentity ?? '(no certificate)'} from ${peer} opened export ${JSON.stringify(result.session.exportName)}`);
      connection.transmission = new NbdTransmission(result.session, input, io, limits, budget, log);
      connection.transmission.start();
      armIdleTimeout(connection, limits.idleTimeoutMs);
      if (connection.ending) connection.transmission.shutdown(); // server closing meanwhile
    };

    /** STARTTLS acknowledged: TLS takes over the socket, and the negotiation continues inside it. */
    const upgrade = () => {
      socket.off('data', onData);
      startTls(socket, spec.tls!, {
        secure: (secure: tls.TLSSocket, identity) => {
          if (connection.socket.destroyed) return secure.destroy(); // timed out or closed meanwhile
          tlsIdentity = identity;
          connection.stream = secure;
          secure.on('error', (err) => log(`nbd: TLS error from ${peer}: ${err.message}`));
          secure.on('close', () => socket.destroy());
          handshake.tlsEstablished();
          secure.on('data', onData);
          secure.on('drain', () => connection.transmission?.drained());
        },
        failed: (err) => {
          log(`nbd: TLS handshake with ${peer} failed: ${err.message}`);
          socket.destroy();
        },
      });
    };

    socket.on('data', onData);
    socket.on('drain', () => connection.transmission?.drained());
    socket.on('error', (err) => log(`nbd: socket error from ${peer}: ${err.message}`));
    socket.on('close', () => {
      handshakeDone();
      if (connection.idleTimer) clearTimeout(connection.idleTimer);
      connection.transmission?.closed();
      if (connections.delete(connection) && !connection.ending) counted--;
    });
    socket.write(handshake.greeting());
  }

  const specs: NbdListenSpec[] = opts.listen ?? [{ kind: 'tcp', host: opts.host ?? '127.0.0.1', port: opts.port ?? 10809 }];
  if (specs.length === 0) throw new RangeError('an NBD server needs at least one listener');
  const listeners: NbdListener[] = [];
  try {
    for (const spec of specs) listeners.push(await openListener(spec, accept));
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    throw err;
  }

  async function close(): Promise<void> {
    if (closing) return;
    closing = true;
    const stopped = Promise.all(listeners.map((l) => l.close()));
    const all = [...connections];
    const gone = all.map((c) => new Promise<void>((resolve) => (c.socket.destroyed ? resolve() : c.socket.once('close', () => resolve()))));
    for (const c of all) {
      if (c.transmission) c.transmission.shutdown();
      else {
        c.stream.destroy();
        c.socket.destroy();
      }
    }
    const timer = setTimeout(() => {
      for (const c of connections) {
        c.stream.destroy();
        c.socket.destroy();
      }
    }, limits.closeTimeoutMs);
    await Promise.all(gone);
    clearTimeout(timer);
    await stopped;
  }

  const addresses = listeners.map((l) => l.address);
  return {
    get address() {
      const tcp = addresses.find((a) => a.kind === 'tcp');
      if (!tcp || tcp.kind !== 'tcp') throw new Error('this NBD server has no TCP listener');
      return { host: tcp.host, port: tcp.port };
    },
    listeners: addresses,
    get connections() {
      return connections.size;
    },
    get payloadBytesHeld() {
      return budget.bytesHeld;
    },
    close,
  };
}
