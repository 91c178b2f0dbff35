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
// process's CPU (cpu-meter.ts, all threads: the crypto workers' too) less the
// stand-in nodes' own (this thread's CPU time, cpu-meter.ts mainThreadCpuMs,
// around each batch they execute), and next to it the floor (bench/floor.ts)
// measured right after each job.
//
// Crypto workers: each job runs with the manager opened with cryptoWorkers
// 0 (inline: one thread), 1 (the calling thread's share plus one worker: two
// threads) and 2 (three threads), or the counts `--workers` lists, one after
// the other, each on a freshly
// opened array warmed by one request each way, so the three see the same
// machine minute; `--rounds N` repeats that and reports medians. Each row
// with workers carries its MB/s against the row with one worker fewer
// ("2 threads vs 1 thread", "3 threads vs 2 threads") and against inline.
// The stand-ins run on the manager's thread, as a many-core manager's
// transport would. Next to them, the manager's own thread's CPU per MiB
// (mainThreadCpuMs, less the stand-ins'): on a host with a core for every
// other thread that thread is the bottleneck, so its figure inline over its
// figure with workers ("free-core bound vs inline") is what the workers can
// give where cores are free, which this 2-core machine's are not.
//
//   npm run bench -- manager [--quick] [--shapes 4+2,8+3] [--seconds 3] [--rounds 1] [--workers 0,1,2] [--node-mib 64] [--span-mib 128]
//
// Does not measure: the manager's transport, nodes, the NBD layer, random
// I/O (bench/array has all of these, with real node processes).
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { createArray } from '../array-manager/array-create.ts';
import { openArray } from '../array-manager/array-open.ts';
import { cacheDefaults } from '../array-manager/array-state.ts';
import { sectorBytes } from '../array-manager/crypto/crypto-constants.ts';
import { poolWorkersMax } from '../array-manager/crypto/crypto-pool.ts';
import { deriveKeySet } from '../array-manager/crypto/key-set.ts';
import type { NodeConnector } from '../array-manager/node-handle.ts';
import { NodeError, Op, Status, type CommandResult, type Hello, type NodeStatus, type OutgoingCommand } from '../array-manager/node-client/frame-codec.ts';
import type { NodeClient } from '../array-manager/node-client/node-client.ts';
import type { VirtualDisk } from '../array-manager/virtual-disk.ts';
import * as limits from '../disk-node/limits.ts';
import { SectorStore } from '../disk-node/store.ts';
import { statusCodes } from '../disk-node/wire.ts';
import { numberParam, parseShapes } from './bench-nodes.ts';
import { mainThreadCpuMs, startCpuMeter } from './cpu-meter.ts';
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
    // This thread's time only: the process's would count crypto workers running meanwhile as the node's.
    const began = mainThreadCpuMs();
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
      this.cpuMs += mainThreadCpuMs() - began;
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
  /** The membership record as the session opened: a NodeClient reads it with ATTEST, in the session's first batch. */
  private readonly recordAtOpen: { version: bigint; record: Buffer };
  private sent = false;

  constructor(private readonly node: StandInNode) {
    this.recordAtOpen = { version: node.store.deathVersion, record: Buffer.from(node.store.deathRecord) };
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

  /** NodeClient.openingRecord: the record read at open, while nothing else has gone out on the session. */
  openingRecord(): { version: bigint; record: Buffer } | undefined {
    return this.sent ? undefined : this.recordAtOpen;
  }

  /** Executes at once, in call order (a node runs a session's batches in order); answers on a later turn, as a socket would. */
  async batch(commands: OutgoingCommand[]): Promise<CommandResult[]> {
    if (this.ended) throw new NodeError('E_CLOSED', 'session closed by the manager');
    this.sent = true;
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
  const counters = disk.state.counters;
  const before = { ...counters };
  const nodesBefore = nodes.reduce((sum, n) => sum + n.cpuMs, 0);
  const cpu = startCpuMeter([]);
  const mainBefore = mainThreadCpuMs();
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
  const mainMs = mainThreadCpuMs() - mainBefore;
  const nodesMs = nodes.reduce((sum, n) => sum + n.cpuMs, 0) - nodesBefore;
  const mibs = latenciesMs.length;
  return {
    mbps: (mibs * mib) / elapsed / 1e6,
    p50Ms: percentile(latenciesMs, 50),
    p99Ms: percentile(latenciesMs, 99),
    managerCpuMsPerMiB: (spent - nodesMs) / mibs,
    /** The manager's thread alone: with a core for each other thread, its throughput is bound by this. */
    mainThreadCpuMsPerMiB: (mainMs - nodesMs) / mibs,
    standInCpuMsPerMiB: nodesMs / mibs,
    /** writeAmp or readAmp (see the notes). */
    amp:
      job.kind === 'write'
        ? (counters.bytesSentToNodes - before.bytesSentToNodes) / (counters.bytesWritten - before.bytesWritten)
        : (counters.bytesReceivedFromNodes - before.bytesReceivedFromNodes) / (counters.bytesRead - before.bytesRead),
  };
}

type JobRun = Awaited<ReturnType<typeof runJob>>;

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

/**
 * `--workers`: the crypto worker counts each job runs with, from 0 (inline)
 * up; threads = workers + the calling thread.
 */
function parseWorkerCounts(text: string): number[] {
  const counts = text.split(',').map(Number);
  if (counts[0] !== 0 || counts.some((w, i) => !Number.isInteger(w) || w > poolWorkersMax || (i > 0 && w <= counts[i - 1]))) {
    throw new Error(`--workers: "${text}" is not 0 then increasing counts up to ${poolWorkersMax}`);
  }
  return counts;
}

const threadsLabel = (workers: number) => `${workers + 1} thread${workers ? 's' : ''}`;

/** Opens the array with `cryptoWorkers` and warms it (pool start, JIT) with one request each way at the span's end. */
async function openWarm(connector: NodeConnector, dataKey: Buffer, rowsMax: number, cryptoWorkers: number, spanBytes: number): Promise<VirtualDisk> {
  const disk = await openArray({ connector, dataKey, caches: { ...cacheDefaults, rowsMax }, cryptoWorkers });
  const last = (spanBytes - mib) / sectorBytes;
  await disk.writeSectors(last, await disk.readSectors(last, mib / sectorBytes));
  return disk;
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const shapes = parseShapes(opts.params.get('shapes') ?? (opts.quick ? '4+2' : '4+2,8+3'));
  const seconds = numberParam(opts, 'seconds', opts.quick ? 0.3 : 3);
  const rounds = Math.ceil(numberParam(opts, 'rounds', 1));
  const workerCounts = parseWorkerCounts(opts.params.get('workers') ?? '0,1,2');
  const nodeMib = Math.ceil(numberParam(opts, 'node-mib', opts.quick ? 16 : 64));
  const spanMib = Math.ceil(numberParam(opts, 'span-mib', opts.quick ? 8 : 128));
  const rowsMax = Math.ceil(numberParam(opts, 'rows-cache', opts.quick ? 64 : cacheDefaults.rowsMax));
  const floorSeconds = numberParam(opts, 'floor-seconds', opts.quick ? 0.1 : 0.5);
  const dataKey = randomBytes(32);
  // The arrays' own keys are destroyed when each one closes; the floor needs keys of its own.
  const floorKeys = deriveKeySet(randomBytes(32), randomBytes(16));
  const rows: BenchRow[] = [];
  const load = [loadavg()[0]];
  const spans: string[] = [];

  for (const { k, m } of shapes) {
    const nodes = Array.from({ length: k + m }, () => new StandInNode(nodeMib * 256));
    const connector = standInConnector(nodes);
    const created = await createArray({ connector, dataKey, k, m, caches: { ...cacheDefaults, rowsMax } });
    const spanBytes = Math.min(spanMib * mib, Math.floor(created.sizeBytes / mib) * mib);
    spans.push(`${k}+${m}: span ${spanBytes / mib} MiB, row cache ${(rowsMax * k * sectorBytes) / mib} MiB`);
    await fill(created, spanBytes);
    await created.close();
    const floor = new Floor(floorKeys, k, m);
    for (const job of jobs) {
      const runs = new Map(workerCounts.map((w) => [w, [] as JobRun[]]));
      const floors: number[] = [];
      for (let r = 0; r < rounds; r++) {
        for (const workers of workerCounts) {
          const disk = await openWarm(connector, dataKey, rowsMax, workers, spanBytes);
          try {
            runs.get(workers)!.push(await runJob(disk, nodes, job, spanBytes, seconds));
          } finally {
            await disk.close();
          }
          load.push(loadavg()[0]);
        }
        floors.push(floor.cpuMsPerMiB(job.kind, mib / sectorBytes, floorSeconds));
      }
      const floorMs = median(floors);
      const mbps = (w: number) => median(runs.get(w)!.map((x) => x.mbps));
      const mainMs = (w: number) => median(runs.get(w)!.map((x) => x.mainThreadCpuMsPerMiB));
      workerCounts.forEach((workers, i) => {
        const fewer = workerCounts[i - 1];
        const of = (pick: (x: JobRun) => number) => median(runs.get(workers)!.map(pick));
        const manager = of((x) => x.managerCpuMsPerMiB);
        rows.push({
          name: `${k}+${m} ${job.name}, cryptoWorkers ${workers}`,
          value: mbps(workers),
          unit: 'MB/s',
          ratios:
            workers === 0
              ? undefined
              : {
                  [`${threadsLabel(workers)} vs ${threadsLabel(fewer)}`]: mbps(workers) / mbps(fewer),
                  'vs inline': mbps(workers) / mbps(0),
                  'free-core bound vs inline': mainMs(0) / mainMs(workers),
                },
          extra: {
            threads: workers + 1,
            p50ms: of((x) => x.p50Ms),
            p99ms: of((x) => x.p99Ms),
            managerCpuMsPerMiB: manager,
            mainThreadCpuMsPerMiB: mainMs(workers),
            standInNodesCpuMsPerMiB: of((x) => x.standInCpuMsPerMiB),
            floorCpuMsPerMiB: floorMs,
            managerVsFloor: manager / floorMs,
            [job.kind === 'write' ? 'writeAmp' : 'readAmp']: of((x) => x.amp),
          },
        });
      });
    }
  }
  floorKeys.destroy();

  const params = [...opts.params].map(([key, value]) => ` --${key} ${value}`).join('');
  return {
    bench: 'manager',
    command: `npm run bench -- manager${opts.quick ? ' --quick' : ''}${params}`,
    rows,
    notes: [
      `real manager (createArray, then openArray per job and worker count) over in-process stand-in nodes (SectorStore, no frames, signatures or attestation); ${seconds} s per job and worker count, ${rounds} round(s), medians; ${spans.join('; ')}; nodes of ${nodeMib} MiB`,
      'cryptoWorkers N = the manager opened with N crypto worker threads: 0 = inline (1 thread), 1 = the calling thread\'s share plus one worker (2 threads), 2 = plus two (3 threads); "2 threads vs 1 thread" = MB/s with cryptoWorkers 1 / with 0, "3 threads vs 2 threads" = cryptoWorkers 2 / 1 (each row against the count listed before it); the pool takes only sealing and opening, not coding, digests or tables',
      'managerCpuMsPerMiB = this process\'s CPU (all threads, workers included) less the stand-ins\' own (their thread\'s CPU time), per MiB; the manager\'s transport (frames, batch signatures, reply checks) is not in it',
      'mainThreadCpuMsPerMiB = the manager\'s own thread alone (less the stand-ins): given a free core for every other thread (workers, garbage collector), throughput is bound by it; "free-core bound vs inline" = its value inline / with the workers, the gain a host with cores to spare could see; on a machine whose cores are busy the MB/s ratios fall below it',
      'writeAmp = bytes sent to nodes / bytes written; readAmp = bytes received from nodes / bytes read (below 1: rows the row cache held)',
      `floorCpuMsPerMiB: bench/floor.ts (seal, parity, one SHA-256 pass over data and parity / open and one SHA-256 pass), ${floorSeconds} s right after each job's worker counts, on the calling thread; managerVsFloor = manager / floor`,
      `load average (1 min) during the run: ${Math.min(...load).toFixed(1)} to ${Math.max(...load).toFixed(1)} on ${availableParallelism()} cores`,
    ],
  };
}
