// The array manager alone (issue 14, item 3): the real manager (createArray,
// then closed and reopened with openArray, the code `teearray nbd` and the
// other CLI commands open arrays with; real sector crypto, erasure code and
// journal) against in-process stand-in nodes that keep bytes in a SectorStore
// (disk-node/store.ts) and do nothing else: no frames, no signatures, no
// attestation, no sockets. So what is measured is the manager's own work:
// sealing, coding, journal records and digests, tables, caches, batching.
// The manager's transport (request frames, its batch signature, reply
// decoding and signature check, node-client.ts) is not in it: the stand-ins
// sit where the NodeClient would (NodeConnector.connect returns them).
//
// Jobs: sequential 1 MiB writes and reads at queue depth 1 and 4, for each
// shape, over a span written once before timing and larger than the row
// cache. Reported: MB/s and the manager's CPU per MiB, which is this
// process's CPU (cpu-meter.ts) less the stand-in nodes' own (timed with
// process.cpuUsage around each batch they execute), and next to it the floor
// (bench/floor.ts) measured right after each job.
//
// Workers: the manager has no worker pool to switch. array-manager/crypto/
// crypto-pool.ts (CryptoPool) exists and is tested, but nothing in the
// manager uses it: the journal writer seals with sealSector and the readers
// open with openSector, inline. So the figures with "1 and 2 workers" are
// the pool's own, on the manager's per-MiB crypto: one 256-sector seal or
// open batch at a time (what a 1 MiB request at queue depth 1 would hand
// it), with 1 and 2 workers (plus the calling thread's share, as the pool
// always runs one) and inline, interleaved round by round; the 2-vs-1 ratio
// is of those.
//
//   npm run bench -- manager [--quick] [--shapes 4+2,8+3] [--seconds 3] [--node-mib 64] [--span-mib 128] [--pool-seconds 1] [--pool-rounds 3]
//
// Does not measure: the manager's transport, nodes, the NBD layer, random
// I/O (bench/array has all of these, with real node processes).
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { createArray } from '../array-manager/array-create.ts';
import { openArray } from '../array-manager/array-open.ts';
import { cacheDefaults } from '../array-manager/array-state.ts';
import { entryBytes, sectorBytes } from '../array-manager/crypto/crypto-constants.ts';
import { CryptoPool } from '../array-manager/crypto/crypto-pool.ts';
import { deriveKeySet } from '../array-manager/crypto/key-set.ts';
import { openSectors, sealSectors } from '../array-manager/crypto/sector-crypto.ts';
import type { NodeConnector } from '../array-manager/node-handle.ts';
import { NodeError, Op, Status, type CommandResult, type Hello, type NodeStatus, type OutgoingCommand } from '../array-manager/node-client/frame-codec.ts';
import type { NodeClient } from '../array-manager/node-client/node-client.ts';
import type { VirtualDisk } from '../array-manager/virtual-disk.ts';
import * as limits from '../disk-node/limits.ts';
import { SectorStore } from '../disk-node/store.ts';
import { statusCodes } from '../disk-node/wire.ts';
import { numberParam, parseShapes } from './bench-nodes.ts';
import { startCpuMeter } from './cpu-meter.ts';
import { Floor } from './floor.ts';
import { median, percentile, secondsSince, type BenchOptions, type BenchResult, type BenchRow } from './report.ts';

const mib = 1 << 20;

/** A node that keeps bytes: the disk node's store and command semantics, none of its crypto or transport. */
export class StandInNode {
  readonly store: SectorStore;
  readonly instanceId = randomBytes(16);
  readonly instancePublicKey = randomBytes(32);
  private readonly stats = { batchesExecuted: 0n, bytesRead: 0n, bytesWritten: 0n };
  /** CPU this node spent executing batches (it runs on the manager's thread), to be taken off the manager's. */
  cpuMs = 0;

  constructor(readonly sectorCount: number) {
    this.store = new SectorStore(sectorBytes, sectorCount);
  }

  /** Runs a batch whole, as a node does: checked first, then executed; a refused batch runs nothing. */
  execute(commands: OutgoingCommand[]): CommandResult[] {
    const began = process.cpuUsage();
    try {
      const s = this.store;
      if (commands.length === 0 || commands.length > limits.batchCommandsMax) throw new NodeError('E_TOO_LARGE', `batch of ${commands.length} commands`);
      let deathVersion = s.deathVersion;
      for (const c of commands) {
        const ranged = c.op === Op.read || c.op === Op.write || c.op === Op.trim;
        if ((ranged && !s.inRange(c.sector, c.count)) || (c.op === Op.copy && (!s.inRange(c.src, c.count) || !s.inRange(c.dst, c.count)))) {
          throw new NodeError(statusCodes[Status.range], 'sector range outside the node');
        }
        if (c.op === Op.deathWrite) {
          if (c.version <= deathVersion) throw new NodeError(statusCodes[Status.deathVersion], 'death record version not above the current one');
          deathVersion = c.version;
        }
      }
      this.stats.batchesExecuted++;
      return commands.map((c): CommandResult => {
        switch (c.op) {
          case Op.read:
            this.stats.bytesRead += BigInt(c.count * sectorBytes);
            // A copy, as a reply frame would be: the manager keeps what it reads.
            return { op: c.op, data: Buffer.concat(s.view(c.sector, c.count)) };
          case Op.write: {
            const parts = 'pieces' in c ? c.pieces : [c.data];
            let sector = c.sector;
            for (const p of parts) {
              s.write(sector, p);
              sector += p.length / sectorBytes;
              this.stats.bytesWritten += BigInt(p.length);
            }
            return { op: c.op };
          }
          case Op.copy:
            s.copy(c.src, c.dst, c.count);
            return { op: c.op };
          case Op.trim:
            s.trim(c.sector, c.count);
            return { op: c.op };
          case Op.status:
            return { op: c.op, status: this.status() };
          case Op.deathRead:
            return { op: c.op, version: s.deathVersion, record: Buffer.from(s.deathRecord) };
          case Op.deathWrite:
            s.updateDeathRecord(c.version, c.record);
            return { op: c.op };
          case Op.attest:
            return { op: c.op, evidence: Buffer.alloc(0) };
        }
      });
    } finally {
      const spent = process.cpuUsage(began);
      this.cpuMs += (spent.user + spent.system) / 1000;
    }
  }

  status(): NodeStatus {
    return {
      instanceId: this.instanceId,
      sectorBytes,
      sectorCount: this.sectorCount,
      batchesExecuted: this.stats.batchesExecuted,
      batchesRefused: 0n,
      bytesRead: this.stats.bytesRead,
      bytesWritten: this.stats.bytesWritten,
      deathVersion: this.store.deathVersion,
      uptimeMs: 0n,
    };
  }
}

/** What the manager uses of a NodeClient (node-handle.ts, array-create.ts, array-open.ts), over a StandInNode. */
class StandInSession {
  readonly hello: Hello;
  readonly peer;
  private ended = false;

  constructor(private readonly node: StandInNode) {
    this.hello = {
      frameBytesMax: limits.frameBytesMax,
      batchCommandsMax: limits.batchCommandsMax,
      inflightBatchesMax: limits.inflightBatchesMax,
      sectorBytes,
      sectorCount: node.sectorCount,
      challenge: randomBytes(32),
      sessionSeq: 1n,
      instancePublicKey: node.instancePublicKey,
    };
    this.peer = { instanceId: node.instanceId, instancePublicKey: node.instancePublicKey, platform: 'stand-in' };
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Executes at once, in call order (a node runs a session's batches in order); answers on a later turn, as a socket would. */
  async batch(commands: OutgoingCommand[]): Promise<CommandResult[]> {
    if (this.ended) throw new NodeError('E_CLOSED', 'session closed by the manager');
    const results = this.node.execute(commands);
    await new Promise((resolve) => setImmediate(resolve));
    return results;
  }

  async status(): Promise<NodeStatus> {
    const [result] = await this.batch([{ op: Op.status }]);
    if (result.op !== Op.status) throw new NodeError('E_FRAME', 'STATUS answered with another result');
    return result.status;
  }

  close(): void {
    this.ended = true;
  }
}

/** A NodeConnector over stand-in nodes: what the manager's attested connector would give it, minus the wire. */
export function standInConnector(nodes: StandInNode[]): NodeConnector {
  return {
    slots: nodes.length,
    // The manager needs only StandInSession's members of NodeClient; the class's private fields make the cast necessary.
    connect: async (slot) => new StandInSession(nodes[slot]) as unknown as NodeClient,
  };
}

interface Job {
  name: string;
  kind: 'write' | 'read';
  queueDepth: number;
}

const jobs: Job[] = [
  { name: 'seq write 1MiB qd1', kind: 'write', queueDepth: 1 },
  { name: 'seq write 1MiB qd4', kind: 'write', queueDepth: 4 },
  { name: 'seq read 1MiB qd1', kind: 'read', queueDepth: 1 },
  { name: 'seq read 1MiB qd4', kind: 'read', queueDepth: 4 },
];

/** Sequential 1 MiB requests inside [0, spanBytes) for about `seconds`, `queueDepth` in flight. */
async function runJob(disk: VirtualDisk, nodes: StandInNode[], job: Job, spanBytes: number, seconds: number) {
  const payload = randomBytes(mib);
  const slots = Math.floor(spanBytes / mib);
  let cursor = 0;
  const latenciesMs: number[] = [];
  const nodesBefore = nodes.reduce((sum, n) => sum + n.cpuMs, 0);
  const cpu = startCpuMeter([]);
  const start = process.hrtime.bigint();
  const worker = async () => {
    while (secondsSince(start) < seconds) {
      const sector = ((cursor++ % slots) * mib) / sectorBytes;
      const began = process.hrtime.bigint();
      if (job.kind === 'write') await disk.writeSectors(sector, payload);
      else await disk.readSectors(sector, mib / sectorBytes);
      latenciesMs.push(secondsSince(began) * 1000);
    }
  };
  await Promise.all(Array.from({ length: job.queueDepth }, worker));
  const elapsed = secondsSince(start);
  const spent = cpu().selfMs;
  const nodesMs = nodes.reduce((sum, n) => sum + n.cpuMs, 0) - nodesBefore;
  const mibs = latenciesMs.length;
  return {
    mbps: (mibs * mib) / elapsed / 1e6,
    p50Ms: percentile(latenciesMs, 50),
    p99Ms: percentile(latenciesMs, 99),
    managerCpuMsPerMiB: (spent - nodesMs) / mibs,
    standInCpuMsPerMiB: nodesMs / mibs,
  };
}

/** Writes the span once, 1 MiB requests, 4 in flight. */
async function fill(disk: VirtualDisk, spanBytes: number): Promise<void> {
  const chunk = randomBytes(mib);
  let next = 0;
  const worker = async () => {
    for (let at = next; at < spanBytes; at = next) {
      next += mib;
      await disk.writeSectors(at / sectorBytes, chunk);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

type PoolMode = { label: string; workers: number };
const poolModes: PoolMode[] = [
  { label: 'inline', workers: 0 },
  { label: '1 worker', workers: 1 },
  { label: '2 workers', workers: 2 },
];

/**
 * The pool on the manager's crypto per MiB: one batch of 256 sectors at a
 * time, for `seconds`, `rounds` rounds with the modes interleaved. Returns
 * median MB/s and CPU ms per MiB (all threads) by op and mode.
 */
async function poolFigures(seconds: number, rounds: number) {
  const keys = deriveKeySet(randomBytes(32), randomBytes(16));
  const sectors = mib / sectorBytes;
  const indices = Array.from({ length: sectors }, (_, i) => 3_000_000 + i);
  const plain = randomBytes(mib);
  const sealed = Buffer.alloc(mib);
  const entries = Buffer.alloc(sectors * entryBytes);
  const out = Buffer.alloc(mib);
  sealSectors(keys, indices, plain, sealed, entries);
  const openEntries = Buffer.from(entries);
  const openInput = Buffer.from(sealed);
  const pools = new Map<number, CryptoPool>();
  for (const { workers } of poolModes) if (workers) pools.set(workers, new CryptoPool(keys, { workers }));
  const figures = new Map<string, { mbps: number[]; cpu: number[] }>();
  try {
    // Warm the workers (module load, JIT) before anything is timed.
    for (const pool of pools.values()) {
      await pool.seal(indices, plain, sealed, entries);
      await pool.open(indices, openInput, openEntries, out);
    }
    for (let r = 0; r < rounds; r++) {
      for (const op of ['seal', 'open'] as const) {
        for (const mode of poolModes) {
          const pool = pools.get(mode.workers);
          const once =
            op === 'seal'
              ? pool
                ? () => pool.seal(indices, plain, sealed, entries)
                : () => sealSectors(keys, indices, plain, sealed, entries)
              : pool
                ? () => pool.open(indices, openInput, openEntries, out)
                : () => openSectors(keys, indices, openInput, openEntries, out);
          const cpu = startCpuMeter([]);
          const start = process.hrtime.bigint();
          let done = 0;
          do {
            await once();
            done++;
          } while (secondsSince(start) < seconds);
          const elapsed = secondsSince(start);
          const key = `${op} ${mode.label}`;
          const f = figures.get(key) ?? { mbps: [], cpu: [] };
          f.mbps.push((done * mib) / elapsed / 1e6);
          f.cpu.push(cpu().selfMs / done);
          figures.set(key, f);
        }
      }
    }
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
    keys.destroy();
  }
  return new Map([...figures].map(([key, f]) => [key, { mbps: median(f.mbps), cpuMsPerMiB: median(f.cpu) }]));
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const shapes = parseShapes(opts.params.get('shapes') ?? (opts.quick ? '4+2' : '4+2,8+3'));
  const seconds = numberParam(opts, 'seconds', opts.quick ? 0.3 : 3);
  const nodeMib = Math.ceil(numberParam(opts, 'node-mib', opts.quick ? 16 : 64));
  const spanMib = Math.ceil(numberParam(opts, 'span-mib', opts.quick ? 8 : 128));
  const rowsMax = Math.ceil(numberParam(opts, 'rows-cache', opts.quick ? 64 : cacheDefaults.rowsMax));
  const floorSeconds = numberParam(opts, 'floor-seconds', opts.quick ? 0.1 : 0.5);
  const poolSeconds = numberParam(opts, 'pool-seconds', opts.quick ? 0.1 : 1);
  const poolRounds = Math.ceil(numberParam(opts, 'pool-rounds', opts.quick ? 1 : 3));
  const dataKey = randomBytes(32);
  const rows: BenchRow[] = [];
  const load = [loadavg()[0]];
  const spans: string[] = [];

  for (const { k, m } of shapes) {
    const nodes = Array.from({ length: k + m }, () => new StandInNode(nodeMib * 256));
    const connector = standInConnector(nodes);
    const created = await createArray({ connector, dataKey, k, m, caches: { ...cacheDefaults, rowsMax } });
    await created.close();
    const disk = await openArray({ connector, dataKey, caches: { ...cacheDefaults, rowsMax } });
    try {
      const spanBytes = Math.min(spanMib * mib, Math.floor(disk.sizeBytes / mib) * mib);
      spans.push(`${k}+${m}: span ${spanBytes / mib} MiB, row cache ${(rowsMax * k * sectorBytes) / mib} MiB`);
      await fill(disk, spanBytes);
      const floor = new Floor(disk.state.keys, k, m);
      const counters = disk.state.counters;
      for (const job of jobs) {
        const before = { ...counters };
        const ours = await runJob(disk, nodes, job, spanBytes, seconds);
        const floorMs = floor.cpuMsPerMiB(job.kind, mib / sectorBytes, floorSeconds);
        load.push(loadavg()[0]);
        rows.push({
          name: `${k}+${m} ${job.name}`,
          value: ours.mbps,
          unit: 'MB/s',
          extra: {
            p50ms: ours.p50Ms,
            p99ms: ours.p99Ms,
            managerCpuMsPerMiB: ours.managerCpuMsPerMiB,
            standInNodesCpuMsPerMiB: ours.standInCpuMsPerMiB,
            floorCpuMsPerMiB: floorMs,
            managerVsFloor: ours.managerCpuMsPerMiB / floorMs,
            ...(job.kind === 'write'
              ? { writeAmp: (counters.bytesSentToNodes - before.bytesSentToNodes) / (counters.bytesWritten - before.bytesWritten) }
              : { readAmp: (counters.bytesReceivedFromNodes - before.bytesReceivedFromNodes) / (counters.bytesRead - before.bytesRead) }),
          },
        });
      }
    } finally {
      await disk.close();
    }
  }

  const pool = await poolFigures(poolSeconds, poolRounds);
  load.push(loadavg()[0]);
  for (const op of ['seal', 'open'] as const) {
    const inline = pool.get(`${op} inline`)!;
    const one = pool.get(`${op} 1 worker`)!;
    for (const mode of poolModes) {
      const f = pool.get(`${op} ${mode.label}`)!;
      rows.push({
        name: `crypto pool ${op} 256 sectors, ${mode.label}`,
        value: f.mbps,
        unit: 'MB/s',
        ratios: mode.workers === 0 ? undefined : { 'vs inline': f.mbps / inline.mbps, ...(mode.workers === 2 ? { 'vs 1 worker': f.mbps / one.mbps } : {}) },
        extra: { cpuMsPerMiB: f.cpuMsPerMiB, threads: mode.workers + 1 },
      });
    }
  }

  const params = [...opts.params].map(([key, value]) => ` --${key} ${value}`).join('');
  return {
    bench: 'manager',
    command: `npm run bench -- manager${opts.quick ? ' --quick' : ''}${params}`,
    rows,
    notes: [
      `real manager (createArray, then openArray) over in-process stand-in nodes (SectorStore, no frames, signatures or attestation); ${seconds} s per job; ${spans.join('; ')}; nodes of ${nodeMib} MiB`,
      'managerCpuMsPerMiB = this process\'s CPU (all threads) less the stand-ins\' own, per MiB; the manager\'s transport (frames, batch signatures, reply checks) is not in it; all threads: the garbage collector\'s helpers can take it above the wall time',
      'writeAmp = bytes sent to nodes / bytes written; readAmp = bytes received from nodes / bytes read (below 1: rows the row cache still held from the writes)',
      `floorCpuMsPerMiB: bench/floor.ts (seal, parity, one SHA-256 pass over data and parity / open and one SHA-256 pass), ${floorSeconds} s right after each job; managerVsFloor = manager / floor`,
      `worker pool: the manager has none to switch (nothing in array-manager/ uses CryptoPool); crypto pool rows = CryptoPool alone on one 256-sector batch at a time, ${poolRounds} rounds of ${poolSeconds} s interleaved, medians; threads = workers + the calling thread's share`,
      `load average (1 min) during the run: ${Math.min(...load).toFixed(1)} to ${Math.max(...load).toFixed(1)} on ${availableParallelism()} cores`,
    ],
  };
}
