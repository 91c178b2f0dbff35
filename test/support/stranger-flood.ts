// Strangers against a disk node, for test/disk-node/stranger-flood.test.ts:
// run as its own process (`node --import tsx stranger-flood.ts PORT MS SEED`)
// so the attacker's CPU is not the manager's event loop. Every stranger
// reconnects at once whenever the node drops it, until the time is up:
// WebSockets that send empty binary frames as fast as they can, random
// garbage frames, well-formed open frames on their own challenge with a
// session key and a bad signature (protocol v3: the node verifies one
// signature, derives no key and closes), well-formed request frames with a
// made-up MAC before any open frame (closed at the parse: a session has no
// MAC key to check until its open frame verified), TCP connections that
// never send the upgrade, handshakes dribbled a byte at a time, and upgraded
// sessions that sit idle. Prints
// {"event":"started"} once the strangers are launched, and its counts as
// one JSON line at the end.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { decodeHello, encodeRequest, Op } from '../../array-manager/node-client/frame-codec.ts';
import { prng } from '../sim/prng.ts';

/** How many strangers of each kind: 100 in all. */
export const strangerMix = { emptyFrames: 25, garbage: 15, badSignature: 8, forgedMac: 7, halfOpen: 15, slowHandshake: 15, idle: 15 } as const;
export type StrangerKind = keyof typeof strangerMix;

export interface FloodStats {
  connections: Record<StrangerKind, number>;
  frames: number;
}

const upgradeHead = Buffer.from(
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
);
const dribbleMs = 50;
/** Most connections one stranger makes, whatever the time. */
const connectionsPerStrangerMax = 100_000;

/** Sends `frame()` in bursts as fast as the socket takes them, until the node drops the connection. */
function pump(ws: WebSocket, frame: () => Buffer, stats: FloodStats): void {
  const burst = () => {
    if (ws.readyState !== WebSocket.OPEN) return;
    for (let i = 0; i < 256 && ws.bufferedAmount < 1 << 20; i++, stats.frames++) ws.send(frame());
    setImmediate(burst);
  };
  burst();
}

/** A TCP connection that never upgrades: silent, or dribbling the upgrade head one byte per dribbleMs. */
function rawStranger(port: number, dribble: boolean, stop: Promise<void>): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  if (dribble) {
    let at = 0;
    const timer = setInterval(() => (at < upgradeHead.length ? socket.write(upgradeHead.subarray(at, ++at)) : clearInterval(timer)), dribbleMs);
    socket.once('close', () => clearInterval(timer));
  }
  void stop.then(() => socket.destroy());
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** An upgraded stranger: what it sends after HELLO depends on `kind`. */
function wsStranger(kind: StrangerKind, port: number, next: () => number, stats: FloodStats, stop: Promise<void>): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  ws.on('error', () => {});
  void stop.then(() => ws.terminate());
  ws.once('message', (hello: Buffer) => {
    if (kind === 'emptyFrames') pump(ws, () => Buffer.alloc(0), stats);
    if (kind === 'garbage') pump(ws, () => randomBytes(1 + Math.floor(next() * 256)), stats);
    if (kind === 'badSignature') {
      // A well-formed open frame on the stranger's own challenge: the node must verify it, find it forged, and close.
      const session = decodeHello(hello).challenge;
      let counter = 0n;
      pump(ws, () => encodeRequest({ flags: 0, counter: ++counter, opening: { session, sessionKey: randomBytes(32) } }, [{ op: Op.status }], { sign: () => randomBytes(64) }).frame, stats);
    }
    if (kind === 'forgedMac') {
      // A well-formed request frame under a made-up key, where the node expects an open frame.
      let counter = 0n;
      pump(ws, () => encodeRequest({ flags: 0, counter: ++counter }, [{ op: Op.status }], { key: randomBytes(32) }).frame, stats);
    }
  });
  return new Promise((resolve) => ws.once('close', () => resolve()));
}

/** Runs every stranger of strangerMix against 127.0.0.1:`port` until `stop` settles. */
export async function flood(port: number, seed: number, stop: Promise<void>): Promise<FloodStats> {
  const stats: FloodStats = { connections: { emptyFrames: 0, garbage: 0, badSignature: 0, forgedMac: 0, halfOpen: 0, slowHandshake: 0, idle: 0 }, frames: 0 };
  let stopped = false;
  void stop.then(() => (stopped = true));
  const strangers = (Object.entries(strangerMix) as [StrangerKind, number][]).flatMap(([kind, n]) =>
    Array.from({ length: n }, async (_, i) => {
      const next = prng(seed * 1000 + i);
      for (let c = 0; c < connectionsPerStrangerMax && !stopped; c++) {
        stats.connections[kind]++;
        if (kind === 'halfOpen' || kind === 'slowHandshake') await rawStranger(port, kind === 'slowHandshake', stop);
        else await wsStranger(kind, port, next, stats, stop);
        await new Promise((r) => setTimeout(r, 1));
      }
    }),
  );
  await Promise.all(strangers);
  return stats;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [port, durationMs, seed] = process.argv.slice(2).map(Number);
  const stop = new Promise<void>((r) => setTimeout(r, durationMs));
  const running = flood(port, seed, stop);
  process.stdout.write('{"event":"started"}\n');
  process.stdout.write(JSON.stringify(await running) + '\n');
  process.exit(0);
}
