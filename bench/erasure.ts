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
import { median, throughput, type BenchOptions, type BenchResult, type BenchRow } from './report.ts';

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

interface Case {
  op: 'encode' | 'rebuild' | 'write';
  who: string;
  fn: () => unknown;
  /** Data bytes one call handles (default: the stripe's k shards). */
  work?: number;
  /** Checked after timing: the case did real work. */
  check?: () => boolean;
  extra?: Record<string, number>;
}

/** Our cases: the WASM kernel on arena stripes and on copied buffers, and the TS kernel. */
function ourCases(k: number, m: number, shardBytes: number, original: Uint8Array[], present: boolean[]): Case[] {
  const code = createErasureCode({ k, m, shardBytes, engine: 'auto' });
  const jsCode = createErasureCode({ k, m, shardBytes, engine: 'js' });
  const arena = code.allocStripe();
  const jsArena = jsCode.allocStripe();
  const plain = Array.from({ length: k + m }, () => new Uint8Array(shardBytes));
  original.forEach((s, i) => [arena, jsArena, plain].forEach((stripe) => stripe[i].set(s)));
  const split = (stripe: Uint8Array[]): [Uint8Array[], Uint8Array[]] => [stripe.slice(0, k), stripe.slice(k)];
  const [arenaData, arenaParity] = split(arena);
  const [plainData, plainParity] = split(plain);
  const [jsData, jsParity] = split(jsArena);
  const intact = (stripe: Uint8Array[]) => () => original.every((s, i) => Buffer.compare(s, stripe[i]) === 0);
  const perDataPacket = +(code.encodeSourceCount / (8 * k)).toFixed(2);
  return [
    { op: 'encode', who: 'ours arena', fn: () => code.encode(arenaData, arenaParity), extra: { xorReadsPerDataPacket: perDataPacket } },
    { op: 'encode', who: 'ours copy', fn: () => code.encode(plainData, plainParity) },
    { op: 'encode', who: 'ours js', fn: () => jsCode.encode(jsData, jsParity) },
    { op: 'rebuild', who: 'ours arena', fn: () => code.reconstruct(arena, present), check: intact(arena) },
    { op: 'rebuild', who: 'ours copy', fn: () => code.reconstruct(plain, present), check: intact(plain) },
    // A one-shard write: the parity delta against re-encoding the whole stripe.
    { op: 'write', who: 'ours delta', fn: () => code.updateParity(arenaParity, 0, arenaData[0], arenaData[0]), work: shardBytes },
    { op: 'write', who: 're-encode', fn: () => code.encode(arenaData, arenaParity), work: shardBytes },
  ];
}

function peerCases(k: number, m: number, shardBytes: number, original: Uint8Array[], present: boolean[], peers: Peers): Case[] {
  const cases: Case[] = [];
  const data = Buffer.concat(original);
  const lost = present.filter((p) => !p).length;
  const { ronomon, wasm, bnb } = peers;
  if (ronomon) {
    const context = ronomon.create(k, m);
    const buffer = Buffer.from(data);
    const parity = Buffer.alloc(m * shardBytes);
    cases.push(
      { op: 'encode', who: 'ronomon', fn: () => ronomonRun(ronomon, context, mask(0, k), mask(k, k + m), buffer, parity) },
      { op: 'rebuild', who: 'ronomon', fn: () => ronomonRun(ronomon, context, mask(lost, k + m), mask(0, lost), buffer, parity), check: () => buffer.equals(data) },
    );
  }
  if (wasm) {
    const shards = new Uint8Array((k + m) * shardBytes);
    shards.set(data);
    cases.push(
      { op: 'encode', who: 'wasm', fn: () => wasm.encode(shards, k, m) },
      {
        op: 'rebuild',
        who: 'wasm',
        fn: () => wasm.reconstruct(shards, k, m, present),
        check: () => Buffer.compare(shards.subarray(0, k * shardBytes), data) === 0,
      },
    );
  }
  if (bnb) {
    const rs = new bnb.ReedSolomon(k, m);
    cases.push({ op: 'encode', who: 'bnb', fn: () => rs.encodeSegment(data) });
  }
  return cases;
}

/**
 * Times every case of one configuration in interleaved rounds (ours, then
 * each peer, then again), so that load from other processes on this shared
 * machine hits all of them alike; reports the median round of each.
 */
async function measureConfig(k: number, m: number, shardBytes: number, peers: Peers, timing: { samples: number; seconds: number }): Promise<BenchRow[]> {
  const label = `k=${k} m=${m} ${shardBytes / 1024}KiB`;
  const lost = Math.min(m, k);
  const present = Array.from({ length: k + m }, (_, i) => i >= lost);
  const original = Array.from({ length: k }, () => randomFillSync(new Uint8Array(shardBytes)));
  const cases = [...ourCases(k, m, shardBytes, original, present), ...peerCases(k, m, shardBytes, original, present, peers)];
  const order = ['encode', 'rebuild', 'write'];
  cases.sort((a, b) => order.indexOf(a.op) - order.indexOf(b.op));
  const rates = cases.map(() => [] as number[]);
  // One untimed round first: JIT warm-up, decode plans, first-touch of buffers.
  for (const c of cases) await throughput(c.fn, 1, { samples: 1, seconds: timing.seconds });
  for (let round = 0; round < timing.samples; round++) {
    for (const [i, c] of cases.entries()) rates[i].push(mb(await throughput(c.fn, c.work ?? k * shardBytes, { samples: 1, seconds: timing.seconds })));
  }
  for (const c of cases) check(`${c.who} ${c.op}`, c.check?.() ?? true);
  const value = (i: number): number => median(rates[i]);
  const name = (c: Case): string => `${c.op === 'rebuild' ? `rebuild ${lost}` : c.op} ${label} ${c.who}`;
  const ours = (c: Case): boolean => c.who.startsWith('ours');
  return cases.map((c, i) => {
    const row: BenchRow = { name: name(c), value: value(i), unit: 'MB/s', extra: c.extra };
    if (ours(c)) {
      row.ratios = {};
      cases.forEach((p, j) => {
        if (p.op === c.op && !ours(p)) row.ratios![`vs ${p.who}`] = value(i) / value(j);
      });
    }
    return row;
  });
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const peers = loadPeers(opts.quick);
  const timing = opts.quick ? { samples: 1, seconds: 0.01 } : { samples: 9, seconds: 0.1 };
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
      'write: MB/s of one-shard writes, parity by updateParity (ours delta) or by re-encoding the stripe',
      'ours arena: stripes in the code memory (zero-copy); ours copy: caller buffers copied in/out; ours js: TypeScript kernel',
      ...peers.notes,
    ],
  };
}
