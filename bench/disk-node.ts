// Disk-node throughput over loopback WebSocket: batches of 4 KiB writes and
// reads, several batches in flight, against one real disk node
// (startDiskNode from disk-node/main.ts, in this process, with the simulated
// TEE provider; the manager side is the production NodeClient, whose session
// starts with a signed open frame and an ATTEST the attested evidence
// verifier checks; then every batch carries the session's MAC, which the node
// checks, and every reply the node's MAC, which the client checks:
// docs/PROTOCOL.md, v3).
//
// Baseline, measured in the same run with the same workload: a plain sector
// server this file implements over the same SectorStore and the same `ws`,
// with a minimal frame (op, count, sector indices, data) and no signatures,
// no attestations, no sessions or counters. The ratio ours/baseline is the
// cost of the protocol's security. Rounds of ours and the baseline are
// interleaved so load from other processes hits both alike.
//
// Both servers and both clients share this process's one JavaScript thread,
// so the figures are for client + server work together. A third figure, the
// crypto floor, is the batch rate this thread would reach doing nothing but
// each batch's MACs, their checks and frame hashes; "ours" can approach it,
// not pass it. Both stores are written in full before timing starts.
//
//   npm run bench -- disk-node [--quick] [--batch 64] [--inflight 8] [--seconds 1] [--rounds 5]
import { createHash, createHmac, randomBytes, randomFillSync, sign } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData } from 'ws';
import { attestedEvidenceVerifier } from '../array-manager/node-client/attested-connector.ts';
import { openWebSocketChannel } from '../array-manager/node-client/frame-channel.ts';
import { Op, type Command } from '../array-manager/node-client/frame-codec.ts';
import { NodeClient } from '../array-manager/node-client/node-client.ts';
import { generateKeyPair } from '../attestation/ed25519.ts';
import { simPlatformName } from '../attestation/platform-name.ts';
import { createSimChip, createSimRoot } from '../attestation/sim-platform.ts';
import { createSimProvider } from '../attestation/sim-provider.ts';
import { frameBytesMax } from '../disk-node/limits.ts';
import { startDiskNode } from '../disk-node/main.ts';
import { SectorStore } from '../disk-node/store.ts';
import { median, percentile, secondsSince, throughput, type BenchOptions, type BenchResult, type BenchRow } from './report.ts';

const sectorBytes = 4096;
const sectorCount = 8192;
/** Multiplier that scatters consecutive commands over the store (odd, so it visits every sector). */
const scatterStride = 4099;

type Kind = 'write' | 'read';

/** One server under test as the workload sees it: send a batch of sector indices, resolve when answered. */
interface Target {
  batch(kind: Kind, sectors: number[], data: Buffer): Promise<void>;
  close(): Promise<void>;
}

interface Measured {
  batchesPerSecond: number;
  latenciesMs: number[];
}

/** Keeps `inflight` batches of `batch` sectors going for `seconds`. */
async function drive(target: Target, kind: Kind, batch: number, inflight: number, seconds: number, data: Buffer): Promise<Measured> {
  let cursor = 0;
  let batches = 0;
  const latenciesMs: number[] = [];
  const start = process.hrtime.bigint();
  const lane = async (): Promise<void> => {
    while (secondsSince(start) < seconds) {
      const sectors = Array.from({ length: batch }, () => (cursor++ * scatterStride) % sectorCount);
      const sent = process.hrtime.bigint();
      await target.batch(kind, sectors, data);
      latenciesMs.push(secondsSince(sent) * 1000);
      batches++;
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  return { batchesPerSecond: batches / secondsSince(start), latenciesMs };
}

/**
 * Writes every sector once. Buffer.alloc leaves fresh memory unmapped until first written, so without
 * this the first target measured would pay the page faults of its whole store.
 */
async function fillStore(target: Target, batch: number, data: Buffer): Promise<void> {
  for (let first = 0; first < sectorCount; first += batch) {
    const sectors = Array.from({ length: Math.min(batch, sectorCount - first) }, (_, i) => first + i);
    await target.batch('write', sectors, data);
  }
}

async function startOurs(inflight: number): Promise<Target> {
  const root = createSimRoot();
  const manager = generateKeyPair();
  // The bundle is not built here: the node runs from source, and the sim provider attests this stand-in digest.
  const buildDigest = new Uint8Array(randomBytes(32));
  const config = { managerPublicKey: manager.publicKey, sectorBytes, sectorCount };
  const provider = createSimProvider({ chip: createSimChip(root), buildDigest, config });
  const node = await startDiskNode({ config, host: '127.0.0.1', port: 0 }, provider);
  const manifest = { platforms: [{ name: simPlatformName, roots: [root.publicKey] }], builds: [{ name: 'disk-node', version: 'bench', buildDigest }] };
  const channel = await openWebSocketChannel(`ws://127.0.0.1:${node.port}`, 5000);
  const client = await NodeClient.open(channel, {
    sign: (m) => sign(null, m, manager.privateKey),
    managerPublicKey: manager.publicKey,
    verifyEvidence: attestedEvidenceVerifier(manifest),
    timeoutMs: 30_000,
    inflightMax: inflight,
  });
  return {
    async batch(kind, sectors, data) {
      const commands = sectors.map((sector, i): Command =>
        kind === 'write'
          ? { op: Op.write, sector, count: 1, data: data.subarray(i * sectorBytes, (i + 1) * sectorBytes) }
          : { op: Op.read, sector, count: 1 },
      );
      await client.batch(commands);
    },
    async close() {
      client.close();
      await node.close();
    },
  };
}

// Baseline frames. Request: op (1 read, 2 write) u8, count u16, count x sector u32, then for a write count x 4096 bytes.
// Reply: status u8 (0 ok, 1 refused), then for a read count x 4096 bytes.
const baseRead = 1;
const baseWrite = 2;

function baselineAnswer(store: SectorStore, frame: Buffer): Buffer {
  const refuse = Buffer.from([1]);
  if (frame.length < 3) return refuse;
  const op = frame[0];
  const count = frame.readUInt16BE(1);
  const dataAt = 3 + 4 * count;
  if (frame.length !== dataAt + (op === baseWrite ? count * sectorBytes : 0) || (op !== baseRead && op !== baseWrite)) return refuse;
  for (let i = 0; i < count; i++) if (!store.inRange(frame.readUInt32BE(3 + 4 * i), 1)) return refuse;
  const reply = Buffer.allocUnsafe(op === baseRead ? 1 + count * sectorBytes : 1);
  reply[0] = 0;
  for (let i = 0; i < count; i++) {
    const sector = store.view(frame.readUInt32BE(3 + 4 * i), 1)[0];
    if (op === baseWrite) sector.set(frame.subarray(dataAt + i * sectorBytes, dataAt + (i + 1) * sectorBytes));
    else reply.set(sector, 1 + i * sectorBytes);
  }
  return reply;
}

async function startBaseline(): Promise<Target> {
  const store = new SectorStore(sectorBytes, sectorCount);
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: frameBytesMax, perMessageDeflate: false });
  server.on('connection', (ws, req) => {
    req.socket.setNoDelay(true);
    ws.on('message', (data: RawData) => ws.send(baselineAnswer(store, data as Buffer)));
  });
  await new Promise((resolve) => server.once('listening', resolve));
  // The client side is the production FrameChannel, as for ours, so only the protocol differs.
  const channel = await openWebSocketChannel(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, 5000);
  const waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  channel.listen(
    (frame) => {
      const w = waiting.shift()!;
      if (frame[0] === 0) w.resolve();
      else w.reject(new Error('baseline server refused a batch'));
    },
    () => {},
  );
  return {
    batch(kind, sectors, data) {
      const dataAt = 3 + 4 * sectors.length;
      const frame = Buffer.allocUnsafe(dataAt + (kind === 'write' ? sectors.length * sectorBytes : 0));
      frame[0] = kind === 'write' ? baseWrite : baseRead;
      frame.writeUInt16BE(sectors.length, 1);
      sectors.forEach((s, i) => frame.writeUInt32BE(s, 3 + 4 * i));
      if (kind === 'write') data.copy(frame, dataAt, 0, sectors.length * sectorBytes);
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        channel.send(frame);
      });
    },
    async close() {
      channel.close();
      for (const ws of server.clients) ws.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function param(params: Map<string, string>, name: string, fallback: number, max: number, integer = true): number {
  const raw = params.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!(n > 0 && n <= max) || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} in (0, ${max}], got "${raw}"`);
  }
  return n;
}

/**
 * Batches per second if a batch cost only its cryptography, on one thread: one SHA-256 (or HMAC) pass
 * over the data-carrying frame on each side, the manager's MAC of the batch digest and the node's check
 * of it, the node's MAC of the small other frame and the client's check of it (HMAC-SHA-256, node:crypto).
 * The ceiling "ours" can approach here.
 */
async function cryptoFloor(batch: number, seconds: number): Promise<number> {
  const frame = randomFillSync(Buffer.alloc(batch * (9 + sectorBytes) + 48));
  const digest = randomBytes(32);
  const small = randomBytes(48 + 2 * batch);
  const key = randomBytes(32);
  const oneBatch = (): void => {
    createHash('sha256').update(frame).digest();
    createHash('sha256').update(frame).digest();
    for (const message of [digest, digest, small, small]) createHmac('sha256', key).update(message).digest();
  };
  return throughput(oneBatch, 1, { samples: 1, seconds });
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  // 1000 one-sector writes fit one frame (frameBytesMax allows 1024 sectors plus 64 KiB of headers).
  const batch = param(opts.params, 'batch', 64, 1000);
  const inflight = param(opts.params, 'inflight', 8, 64);
  const seconds = opts.quick ? 0.25 : param(opts.params, 'seconds', 1, 60, false);
  const rounds = opts.quick ? 1 : param(opts.params, 'rounds', 5, 50);
  const data = randomFillSync(Buffer.alloc(batch * sectorBytes));
  const targets = { ours: await startOurs(inflight), baseline: await startBaseline() };
  const figures = new Map<string, Measured[]>();
  const floors: number[] = [];
  try {
    for (const target of Object.values(targets)) await fillStore(target, batch, data);
    for (let r = 0; r < rounds; r++) {
      for (const kind of ['write', 'read'] as const) {
        for (const [name, target] of Object.entries(targets)) {
          const m = await drive(target, kind, batch, inflight, seconds, data);
          const key = `${name} ${kind}`;
          figures.set(key, [...(figures.get(key) ?? []), m]);
        }
      }
      floors.push(await cryptoFloor(batch, seconds));
    }
  } finally {
    await Promise.all(Object.values(targets).map((t) => t.close()));
  }
  const floor = median(floors);
  const rows: BenchRow[] = [];
  for (const kind of ['write', 'read'] as const) {
    const rate = (name: string) => median(figures.get(`${name} ${kind}`)!.map((m) => m.batchesPerSecond));
    const ours = rate('ours');
    const base = rate('baseline');
    for (const [name, value] of [
      ['ours', ours],
      ['baseline', base],
    ] as const) {
      const latencies = figures.get(`${name} ${kind}`)!.flatMap((m) => m.latenciesMs);
      rows.push({
        name: `${name} ${kind} ${batch}x4KiB, ${inflight} in flight`,
        value: (value * batch * sectorBytes) / 1e6,
        unit: 'MB/s',
        ratios: name === 'ours' ? { 'vs baseline': ours / base, 'vs crypto floor': ours / floor } : undefined,
        extra: { 'batches/s': value, 'p50 ms': percentile(latencies, 50), 'p99 ms': percentile(latencies, 99) },
      });
    }
  }
  rows.push({ name: `crypto floor ${batch}x4KiB (2 frame hashes, 4 small MACs)`, value: floor, unit: 'batch/s' });
  const flags = [`--batch ${batch}`, `--inflight ${inflight}`, opts.quick ? '--quick' : `--seconds ${seconds} --rounds ${rounds}`];
  return {
    bench: 'disk-node',
    command: `npm run bench -- disk-node ${flags.join(' ')}`,
    rows,
    notes: [
      'ours: startDiskNode in this process with the sim TEE provider; NodeClient with the attested evidence verifier (one signed open frame and ATTEST per session; a MAC each way per batch)',
      'baseline: plain ws sector server over the same SectorStore, no MACs, signatures or attestations',
      `median of ${rounds} interleaved round(s) of ${seconds} s each for ours, the baseline and the crypto floor; client and servers share one thread`,
    ],
  };
}
