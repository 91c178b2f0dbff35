// Erasure-code throughput: our engine against the npm peers, same data, same
// process, one thread. Figures are MB/s of data bytes (k * shardBytes per
// stripe), medians of timed rounds; each of our rows carries its ratio to
// every peer measured in the same run.
//
// Peers (bench/peers/package.json, installed there on first use and never a
// project dependency): @ronomon/reed-solomon (native addon, run one call at a
// time so it is single-threaded like ours), @digitaldefiance/reed-solomon-
// erasure.wasm (Rust compiled to WASM), @bnb-chain/reed-solomon (pure JS,
// encode only). A peer that cannot be loaded is skipped with a note.
//
// Our rows: "arena" stripes live in the code's memory (zero-copy), "copy"
// stripes are ordinary buffers copied in and out per call, "js" is the
// TypeScript fallback kernel on arena stripes.
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createErasureCode } from '../array-manager/erasure/erasure-code.ts';
import { throughput, type BenchOptions, type BenchResult, type BenchRow } from './report.ts';

const peersDir = join(dirname(fileURLToPath(import.meta.url)), 'peers');
const peersInstallMs = 300_000;
const configs: [number, number][] = [
  [4, 2],
  [8, 3],
  [10, 4],
];
const shardSizes = [4096, 65536];

interface RonomonModule {
  create(k: number, m: number): unknown;
  encode(
    context: unknown, sources: number, targets: number,
    buffer: Buffer, bufferOffset: number, bufferSize: number,
    parity: Buffer, parityOffset: number, paritySize: number,
    callback: (error?: Error) => void,
  ): void;
}
interface WasmPeer {
  encode(shards: Uint8Array, dataShards: number, parityShards: number): number;
  reconstruct(shards: Uint8Array, dataShards: number, parityShards: number, available: boolean[]): number;
}
interface WasmPeerModule {
  ReedSolomonErasure: { fromCurrentDirectorySync(): WasmPeer };
}
interface BnbModule {
  ReedSolomon: new (k: number, m: number) => { encodeSegment(data: Uint8Array): Uint8Array[] };
}

interface Peers {
  ronomon?: RonomonModule;
  wasm?: WasmPeer;
  bnb?: BnbModule;
  notes: string[];
}

function installPeers(quick: boolean, notes: string[]): boolean {
  if (existsSync(join(peersDir, 'node_modules'))) return true;
  if (quick) {
    notes.push('peers not installed: --quick does not install them; run once without --quick');
    return false;
  }
  try {
    execFileSync('npm', ['install', '--prefix', peersDir, '--no-fund', '--no-audit'], { stdio: 'ignore', timeout: peersInstallMs });
    return true;
  } catch (err) {
    notes.push(`peers could not be installed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); they are skipped`);
    return false;
  }
}

function loadPeers(quick: boolean): Peers {
  const notes: string[] = [];
  const peers: Peers = { notes };
  if (!installPeers(quick, notes)) return peers;
  const require = createRequire(join(peersDir, 'package.json'));
  const load = <T>(name: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      notes.push(`peer ${name} skipped: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      return undefined;
    }
  };
  peers.ronomon = load('@ronomon/reed-solomon', () => require('@ronomon/reed-solomon') as RonomonModule);
  peers.wasm = load('@digitaldefiance/reed-solomon-erasure.wasm', () =>
    (require('@digitaldefiance/reed-solomon-erasure.wasm') as WasmPeerModule).ReedSolomonErasure.fromCurrentDirectorySync(),
  );
  peers.bnb = load('@bnb-chain/reed-solomon', () => require('@bnb-chain/reed-solomon') as BnbModule);
  return peers;
}

const mb = (bytesPerSecond: number): number => bytesPerSecond / 1e6;
const mask = (from: number, to: number): number => {
  let bits = 0;
  for (let i = from; i < to; i++) bits |= 1 << i;
  return bits;
};

function ronomonRun(peer: RonomonModule, context: unknown, sources: number, targets: number, data: Buffer, parity: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    peer.encode(context, sources, targets, data, 0, data.length, parity, 0, parity.length, (error) => (error ? reject(error) : resolve()));
  });
}

/** Fails the benchmark if a peer's rebuild did not reproduce the data: we only time real work. */
function check(name: string, ok: boolean): void {
  if (!ok) throw new Error(`${name}: rebuilt shards differ from the originals`);
}

async function measureConfig(k: number, m: number, shardBytes: number, peers: Peers, timing: { samples: number; seconds: number }): Promise<BenchRow[]> {
  const label = `k=${k} m=${m} ${shardBytes / 1024}KiB`;
  const work = k * shardBytes;
  const rate = async (fn: () => unknown): Promise<number> => mb(await throughput(fn, work, timing));
  const lost = Math.min(m, k);
  const present = Array.from({ length: k + m }, (_, i) => i >= lost);

  // Ours: WASM kernel on arena stripes, on copied buffers, and the TS kernel.
  const code = createErasureCode({ k, m, shardBytes, engine: 'auto' });
  const jsCode = createErasureCode({ k, m, shardBytes, engine: 'js' });
  const arena = code.allocStripe();
  const jsArena = jsCode.allocStripe();
  const plain = Array.from({ length: k + m }, () => new Uint8Array(shardBytes));
  for (let i = 0; i < k; i++) {
    randomFillSync(arena[i]);
    plain[i].set(arena[i]);
    jsArena[i].set(arena[i]);
  }
  const original = arena.map((s) => Uint8Array.from(s));
  const ours = {
    encodeArena: await rate(() => code.encode(arena.slice(0, k), arena.slice(k))),
    encodeCopy: await rate(() => code.encode(plain.slice(0, k), plain.slice(k))),
    encodeJs: await rate(() => jsCode.encode(jsArena.slice(0, k), jsArena.slice(k))),
    reconstructArena: await rate(() => code.reconstruct(arena, present)),
    reconstructCopy: await rate(() => code.reconstruct(plain, present)),
  };
  check('ours', arena.slice(0, k).every((s, i) => Buffer.compare(s, original[i]) === 0));

  const peer: Record<string, { encode?: number; reconstruct?: number }> = {};
  if (peers.ronomon) {
    const context = peers.ronomon.create(k, m);
    const data = Buffer.from(original.slice(0, k).flatMap((s) => [...s]));
    const parity = Buffer.alloc(m * shardBytes);
    const dataCopy = Buffer.from(data);
    const encode = await rate(() => ronomonRun(peers.ronomon!, context, mask(0, k), mask(k, k + m), data, parity));
    const reconstruct = await rate(() => ronomonRun(peers.ronomon!, context, mask(lost, k + m), mask(0, lost), data, parity));
    check('ronomon', data.equals(dataCopy));
    peer.ronomon = { encode, reconstruct };
  }
  if (peers.wasm) {
    const shards = new Uint8Array((k + m) * shardBytes);
    original.slice(0, k).forEach((s, i) => shards.set(s, i * shardBytes));
    const dataCopy = shards.slice(0, k * shardBytes);
    const encode = await rate(() => peers.wasm!.encode(shards, k, m));
    const reconstruct = await rate(() => peers.wasm!.reconstruct(shards, k, m, present));
    check('wasm peer', Buffer.compare(shards.subarray(0, k * shardBytes), dataCopy) === 0);
    peer.wasm = { encode, reconstruct };
  }
  if (peers.bnb) {
    const rs = new peers.bnb.ReedSolomon(k, m);
    const data = Buffer.concat(original.slice(0, k));
    peer.bnb = { encode: await rate(() => rs.encodeSegment(data)) };
  }

  const ratios = (value: number, op: 'encode' | 'reconstruct'): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [name, figures] of Object.entries(peer)) {
      const base = figures[op];
      if (base) out[`vs ${name}`] = value / base;
    }
    return out;
  };
  const rows: BenchRow[] = [
    { name: `encode ${label} ours arena`, value: ours.encodeArena, unit: 'MB/s', ratios: ratios(ours.encodeArena, 'encode') },
    { name: `encode ${label} ours copy`, value: ours.encodeCopy, unit: 'MB/s', ratios: ratios(ours.encodeCopy, 'encode') },
    { name: `encode ${label} ours js`, value: ours.encodeJs, unit: 'MB/s', ratios: ratios(ours.encodeJs, 'encode') },
  ];
  for (const [name, figures] of Object.entries(peer)) {
    if (figures.encode) rows.push({ name: `encode ${label} ${name}`, value: figures.encode, unit: 'MB/s' });
  }
  rows.push(
    { name: `rebuild ${lost} ${label} ours arena`, value: ours.reconstructArena, unit: 'MB/s', ratios: ratios(ours.reconstructArena, 'reconstruct') },
    { name: `rebuild ${lost} ${label} ours copy`, value: ours.reconstructCopy, unit: 'MB/s', ratios: ratios(ours.reconstructCopy, 'reconstruct') },
  );
  for (const [name, figures] of Object.entries(peer)) {
    if (figures.reconstruct) rows.push({ name: `rebuild ${lost} ${label} ${name}`, value: figures.reconstruct, unit: 'MB/s' });
  }
  return rows;
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const peers = loadPeers(opts.quick);
  const timing = opts.quick ? { samples: 1, seconds: 0.01 } : { samples: 7, seconds: 0.15 };
  const rows: BenchRow[] = [];
  for (const shardBytes of opts.quick ? [4096] : shardSizes) {
    for (const [k, m] of configs) rows.push(...(await measureConfig(k, m, shardBytes, peers, timing)));
  }
  return {
    bench: 'erasure',
    command: `npm run bench -- erasure${opts.quick ? ' --quick' : ''}`,
    rows,
    notes: [
      'MB/s of data bytes per second, one thread; rebuild N = the first N data shards lost and rebuilt',
      'ours arena: stripes in the code memory (zero-copy); ours copy: caller buffers copied in/out; ours js: TypeScript kernel',
      ...peers.notes,
    ],
  };
}
