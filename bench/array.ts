// The whole array on real disk-node processes over loopback WebSockets:
// throughput, latency and amplification of the virtual disk (erasure coding,
// sector encryption, journal, attested batches), against ONE raw disk node
// driven with plain WRITE/READ batches (no coding, no encryption, no journal)
// measured job by job in the same run, so the ratio is the cost of the array.
//
// Jobs: sequential 1 MiB write and read at queue depth 1 and 4; random 4 KiB
// write and read at queue depth 16; last, sequential 1 MiB trims at queue
// depth 4; all inside a span that is written once before anything is timed.
// Write amplification = bytes the manager sent to nodes / bytes acknowledged
// (the physical minimum is n/k: data plus parity);
// read amplification = bytes received from nodes / bytes returned. Each job
// also records the CPU time it cost (bench/cpu-meter.ts), of the manager and
// of the nodes, per MiB or per request: on a machine whose cores are shared
// by everything, that is what bounds throughput.
// The manager runs in this process, on the VirtualDisk API (bench/nbd covers
// the NBD layer); nodes are `node dist/teearray.mjs disk-node` processes.
//
// The floor (bench/floor.ts, issue 14): right after each array job, the
// same process times the work that job's bytes cannot avoid (reads and
// writes: seal or open the sectors, the parity, one SHA-256 pass) with the
// project's own primitives, and each row reports floorCpuMsPerMiB and
// managerVsFloor = manager CPU per MiB / floor. nodesVsRaw = the array's
// nodes' CPU per MiB they stored (writes) or returned (reads), against the
// raw node's per MiB for the same job in the same run. Trims move no data:
// their floor and nodesVsRaw are n/a.
//
//   npm run bench -- array [--quick] [--shapes 4+2,8+3] [--seconds 2] [--node-mib 128] [--span-mib 96] [--rows-cache 1024] [--floor-seconds 0.5]
//
// Reads are only honest beyond the manager's row cache (rows x k x 4 KiB):
// the default span exceeds it for both shapes; --quick shrinks the cache.
//
// Needs `npm run build` (dist/). Does not measure: multiple hosts, rebuild,
// degraded operation.
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArray } from '../array-manager/array-create.ts';
import { cacheDefaults, type ArrayCounters } from '../array-manager/array-state.ts';
import { Op } from '../array-manager/node-client/frame-codec.ts';
import { attestedConnector } from '../array-manager/node-client/attested-connector.ts';
import type { NodeClient } from '../array-manager/node-client/node-client.ts';
import type { VirtualDisk } from '../array-manager/virtual-disk.ts';
import { generateKeys, loadKeys } from '../cli/key-store.ts';
import { localManifest } from '../cli/manifest-file.ts';
import type { LocalNodes } from '../cli/node-processes.ts';
import { BenchNodes, cliPath, numberParam, parseShapes } from './bench-nodes.ts';
import { startCpuMeter } from './cpu-meter.ts';
import { Floor } from './floor.ts';
import { median, percentile, secondsSince, type BenchOptions, type BenchResult, type BenchRow } from './report.ts';

const sectorBytes = 4096;

interface Job {
  name: string;
  kind: 'write' | 'read' | 'trim';
  pattern: 'seq' | 'rand';
  requestBytes: number;
  queueDepth: number;
  measure: 'MB/s' | 'IOPS';
}

const jobs: Job[] = [
  { name: 'seq write 1MiB qd1', kind: 'write', pattern: 'seq', requestBytes: 1 << 20, queueDepth: 1, measure: 'MB/s' },
  { name: 'seq write 1MiB qd4', kind: 'write', pattern: 'seq', requestBytes: 1 << 20, queueDepth: 4, measure: 'MB/s' },
  { name: 'seq read 1MiB qd1', kind: 'read', pattern: 'seq', requestBytes: 1 << 20, queueDepth: 1, measure: 'MB/s' },
  { name: 'seq read 1MiB qd4', kind: 'read', pattern: 'seq', requestBytes: 1 << 20, queueDepth: 4, measure: 'MB/s' },
  { name: 'rand write 4KiB qd16', kind: 'write', pattern: 'rand', requestBytes: 4096, queueDepth: 16, measure: 'IOPS' },
  { name: 'rand read 4KiB qd16', kind: 'read', pattern: 'rand', requestBytes: 4096, queueDepth: 16, measure: 'IOPS' },
  // Last: it leaves the span trimmed, and reads of trimmed sectors never reach a node.
  { name: 'seq trim 1MiB qd4', kind: 'trim', pattern: 'seq', requestBytes: 1 << 20, queueDepth: 4, measure: 'MB/s' },
];

/** What a job runs against: byte offsets and lengths, whole sectors only. */
interface Target {
  write(offset: number, data: Buffer): Promise<unknown>;
  read(offset: number, length: number): Promise<unknown>;
  trim(offset: number, length: number): Promise<unknown>;
  /** The disk-node processes behind it, whose CPU time the job counts. */
  nodePids: number[];
}

interface JobFigures {
  value: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU per MiB moved (MB/s jobs) or per request (IOPS jobs): ms of the bench process and of the nodes. */
  selfCpu: number;
  nodesCpu: number;
}

/**
 * Runs `job` for about `seconds` with `queueDepth` requests in flight inside
 * [0, spanBytes). Sequential workers share one cursor, so at depth 4 the
 * requests are consecutive and in flight together.
 */
async function runJob(target: Target, job: Job, spanBytes: number, seconds: number): Promise<JobFigures> {
  const payload = randomBytes(job.requestBytes);
  const cpu = startCpuMeter(target.nodePids);
  const slots = Math.floor(spanBytes / job.requestBytes);
  let cursor = 0;
  const latenciesMs: number[] = [];
  const start = process.hrtime.bigint();
  const worker = async () => {
    while (secondsSince(start) < seconds) {
      const slot = job.pattern === 'seq' ? cursor++ % slots : randomInt(slots);
      const began = process.hrtime.bigint();
      if (job.kind === 'write') await target.write(slot * job.requestBytes, payload);
      else if (job.kind === 'trim') await target.trim(slot * job.requestBytes, job.requestBytes);
      else await target.read(slot * job.requestBytes, job.requestBytes);
      latenciesMs.push(secondsSince(began) * 1000);
    }
  };
  await Promise.all(Array.from({ length: job.queueDepth }, worker));
  const elapsed = secondsSince(start);
  const spent = cpu();
  const ops = latenciesMs.length;
  const units = job.measure === 'MB/s' ? (ops * job.requestBytes) / (1 << 20) : ops;
  return {
    value: job.measure === 'MB/s' ? (ops * job.requestBytes) / elapsed / 1e6 : ops / elapsed,
    p50Ms: percentile(latenciesMs, 50),
    p99Ms: percentile(latenciesMs, 99),
    selfCpu: spent.selfMs / units,
    nodesCpu: spent.childrenMs / units,
  };
}

/** Writes the whole span once (1 MiB requests, 4 in flight) so reads never hit never-written sectors. */
async function fill(target: Target, spanBytes: number): Promise<void> {
  const chunk = randomBytes(1 << 20);
  let next = 0;
  const worker = async () => {
    for (let at = next; at < spanBytes; at = next) {
      next += chunk.length;
      await target.write(at, chunk.subarray(0, Math.min(chunk.length, spanBytes - at)));
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

function arrayTarget(disk: VirtualDisk, nodePids: number[]): Target {
  return {
    nodePids,
    write: (offset, data) => disk.writeSectors(offset / sectorBytes, data),
    read: (offset, length) => disk.readSectors(offset / sectorBytes, length / sectorBytes),
    trim: (offset, length) => disk.trimSectors(offset / sectorBytes, length / sectorBytes),
  };
}

/** One node, no array: each request is one signed batch with one WRITE or READ command. */
function rawTarget(client: NodeClient, nodePids: number[]): Target {
  return {
    nodePids,
    write: (offset, data) => client.batch([{ op: Op.write, sector: offset / sectorBytes, count: data.length / sectorBytes, data }]),
    read: (offset, length) => client.batch([{ op: Op.read, sector: offset / sectorBytes, count: length / sectorBytes }]),
    trim: (offset, length) => client.batch([{ op: Op.trim, sector: offset / sectorBytes, count: length / sectorBytes }]),
  };
}

const fleet = new BenchNodes('array');

const amplification = (moved: number, served: number) => (served > 0 ? moved / served : 0);
const cpuUnit = (job: Job) => (job.measure === 'MB/s' ? 'MsPerMiB' : 'MsPerOp');
/** A job's CPU figure (per MiB or per request) as ms per MiB of requests. */
const perMiB = (job: Job, cpu: number) => (job.measure === 'MB/s' ? cpu : (cpu * (1 << 20)) / job.requestBytes);

export async function run(opts: BenchOptions): Promise<BenchResult> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first`);
  const shapes = parseShapes(opts.params.get('shapes') ?? (opts.quick ? '4+2' : '4+2,8+3'));
  const seconds = numberParam(opts, 'seconds', opts.quick ? 0.3 : 2);
  const nodeMib = Math.ceil(numberParam(opts, 'node-mib', opts.quick ? 16 : 128));
  // Whole MiB, and no larger than the raw node, which holds the span by itself.
  const spanBytes = Math.min(Math.ceil(numberParam(opts, 'span-mib', opts.quick ? 8 : 96)), nodeMib) * (1 << 20);
  // Rows the manager caches; reads inside the cache never reach a node, so the span should exceed it.
  const rowsMax = Math.ceil(numberParam(opts, 'rows-cache', opts.quick ? 64 : cacheDefaults.rowsMax));
  // Wall time of each floor measurement (one per array job).
  const floorSeconds = numberParam(opts, 'floor-seconds', opts.quick ? 0.1 : 0.5);
  const load = [loadavg()[0]];

  const dir = mkdtempSync(join(tmpdir(), 'teearray-bench-array-'));
  const started: LocalNodes[] = [];
  const rows: BenchRow[] = [];
  const rawFigures = new Map<string, number[]>();
  try {
    await generateKeys(dir);
    const keys = await loadKeys(dir);
    const manifest = await localManifest(keys);
    const connect = (endpoints: string[]) =>
      attestedConnector({ endpoints, manifest, managerPrivateKey: keys.managerPrivateKey, managerPublicKey: keys.managerPublicKey, timeoutMs: 30_000 });

    const rawNode = await fleet.start(1, nodeMib, keys);
    started.push(rawNode);
    const client = await connect(rawNode.endpoints).connect(0);
    const raw = rawTarget(client, rawNode.pids);
    await fill(raw, spanBytes);

    for (const { k, m } of shapes) {
      const nodes = await fleet.start(k + m, nodeMib, keys);
      started.push(nodes);
      const disk = await createArray({ connector: connect(nodes.endpoints), dataKey: keys.dataKey, k, m, caches: { ...cacheDefaults, rowsMax } });
      const target = arrayTarget(disk, nodes.pids);
      await fill(target, Math.min(spanBytes, disk.sizeBytes));
      const counters = disk.state.counters;
      const floor = new Floor(disk.state.keys, k, m);
      for (const job of jobs) {
        // Raw and array measured back to back, so load from other processes hits both alike.
        const base = await runJob(raw, job, spanBytes, seconds);
        rawFigures.set(job.name, [...(rawFigures.get(job.name) ?? []), base.value]);
        const before: ArrayCounters = { ...counters };
        const ours = await runJob(target, job, Math.min(spanBytes, disk.sizeBytes), seconds);
        const amp =
          job.kind !== 'read'
            ? amplification(counters.bytesSentToNodes - before.bytesSentToNodes, counters.bytesWritten - before.bytesWritten)
            : amplification(counters.bytesReceivedFromNodes - before.bytesReceivedFromNodes, counters.bytesRead - before.bytesRead);
        // Right after the job, with nothing else running in this process.
        const floorMs = job.kind === 'trim' ? undefined : floor.cpuMsPerMiB(job.kind, job.requestBytes / sectorBytes, floorSeconds);
        load.push(loadavg()[0]);
        // Nodes: CPU per MiB the nodes stored or returned (amp x the bytes served); the raw node moves exactly the bytes served.
        const nodesPerNodeMiB = job.kind === 'trim' || amp === 0 ? undefined : perMiB(job, ours.nodesCpu) / amp;
        const rawNodePerMiB = perMiB(job, base.nodesCpu);
        rows.push({
          name: `${k}+${m} ${job.name}`,
          value: ours.value,
          unit: job.measure,
          ratios: { 'vs raw node': ours.value / base.value },
          extra: {
            p50ms: ours.p50Ms,
            p99ms: ours.p99Ms,
            [`${job.kind}Amp`]: amp,
            ...(job.kind === 'write' ? { minAmp: (k + m) / k } : {}),
            rawP50ms: base.p50Ms,
            rawP99ms: base.p99Ms,
            p50VsRaw: ours.p50Ms / base.p50Ms,
            p99VsRaw: ours.p99Ms / base.p99Ms,
            [`managerCpu${cpuUnit(job)}`]: ours.selfCpu,
            [`nodesCpu${cpuUnit(job)}`]: ours.nodesCpu,
            [`rawCpu${cpuUnit(job)}`]: base.selfCpu + base.nodesCpu,
            cpuVsRaw: (ours.selfCpu + ours.nodesCpu) / (base.selfCpu + base.nodesCpu),
            floorCpuMsPerMiB: floorMs ?? 'n/a',
            managerVsFloor: floorMs === undefined ? 'n/a' : perMiB(job, ours.selfCpu) / floorMs,
            nodesCpuMsPerNodeMiB: nodesPerNodeMiB ?? 'n/a',
            rawNodeCpuMsPerMiB: rawNodePerMiB,
            nodesVsRaw: nodesPerNodeMiB === undefined ? 'n/a' : nodesPerNodeMiB / rawNodePerMiB,
          },
        });
      }
      await disk.close();
    }
    client.close();
  } finally {
    fleet.stopping = true;
    await Promise.all(started.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
  for (const job of jobs) {
    rows.push({ name: `raw node ${job.name}`, value: median(rawFigures.get(job.name) ?? [0]), unit: job.measure, extra: { rounds: rawFigures.get(job.name)?.length ?? 0 } });
  }
  const params = [...opts.params].map(([key, value]) => ` --${key} ${value}`).join('');
  return {
    bench: 'array',
    command: `npm run bench -- array${opts.quick ? ' --quick' : ''}${params}`,
    rows,
    notes: [
      `${seconds} s per job, span ${spanBytes >> 20} MiB written before timing, row cache ${rowsMax} rows (${shapes.map(({ k, m }) => `${k}+${m}: ${(rowsMax * k * sectorBytes) >> 20} MiB`).join(', ')}), nodes of ${nodeMib} MiB on loopback, manager in the bench process`,
      'raw node = one disk-node process, one signed WRITE/READ batch per request, no coding, encryption or journal; measured right before each array job',
      'writeAmp (trimAmp) = bytes sent to nodes / bytes written (trimmed) (minAmp = n/k); readAmp = bytes received from nodes / bytes returned',
      'CPU: ms per MiB moved (MB/s jobs) or per request (IOPS jobs); manager = this process, nodes = the array\'s node processes, raw = client plus raw node; cpuVsRaw = array total / raw total',
      `floorCpuMsPerMiB: this process's CPU per MiB for the job's unavoidable work (bench/floor.ts: seal the sectors, the parity of the job's shape, one SHA-256 pass over data and parity for writes; open the sectors and one SHA-256 pass for reads; no tables, frames, signatures or copies), timed ${floorSeconds} s right after each array job; managerVsFloor = manager CPU per MiB / floor (IOPS jobs: per request x MiB / request size)`,
      'nodesCpuMsPerNodeMiB = the array nodes\' CPU per MiB they stored (writes, incl. parity, journal headers and commits) or returned (reads); rawNodeCpuMsPerMiB = the raw node process\'s CPU per MiB; nodesVsRaw = the first / the second',
      `load average (1 min) during the run: ${Math.min(...load).toFixed(1)} to ${Math.max(...load).toFixed(1)} on ${availableParallelism()} cores`,
    ],
  };
}
