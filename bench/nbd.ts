// NBD export throughput and latency, measured by fio's nbd engine (a client
// nobody here wrote) against our server, and in the same run against
// `nbdkit -t 1 memory` as the NBD-layer ceiling on this machine.
//
// Jobs: sequential write/read of 1 MiB at queue depth 1; random write/read of
// 4 KiB at queue depth 16. Each row gives MB/s or IOPS, p50/p99 completion
// latency, and the ratio to nbdkit.
//
//   npm run bench -- nbd [--quick] [--seconds 3] [--rounds 3] [--size-mib 1024]
//
// benchBlockDevice() runs the same jobs on any BlockDevice, so the array's
// virtual disk can be measured the same way once it exists.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockDevice } from '../array-manager/nbd/block-device.ts';
import { MemoryDevice } from '../array-manager/nbd/memory-device.ts';
import { ArrayBlockDevice } from '../array-manager/array-block-device.ts';
import { repoRoot } from '../attestation/disk-node-bundle.ts';
import { startLocalArray } from '../cli/local-array.ts';
import { createLogger } from '../cli/log.ts';
import { startNbdServer } from '../array-manager/nbd/nbd-server.ts';
import type { BenchOptions, BenchResult, BenchRow } from './report.ts';

export interface FioJob {
  name: string;
  rw: 'write' | 'read' | 'randwrite' | 'randread';
  blockSize: string;
  iodepth: number;
  /** The figure a row reports: bandwidth for sequential jobs, IOPS for random ones. */
  measure: 'MB/s' | 'IOPS';
}

export const fioJobs: FioJob[] = [
  { name: 'seq write 1MiB qd1', rw: 'write', blockSize: '1M', iodepth: 1, measure: 'MB/s' },
  { name: 'seq read 1MiB qd1', rw: 'read', blockSize: '1M', iodepth: 1, measure: 'MB/s' },
  { name: 'rand write 4KiB qd16', rw: 'randwrite', blockSize: '4k', iodepth: 16, measure: 'IOPS' },
  { name: 'rand read 4KiB qd16', rw: 'randread', blockSize: '4k', iodepth: 16, measure: 'IOPS' },
];

export interface FioFigures {
  job: FioJob;
  mbPerSecond: number;
  iops: number;
  p50Us: number;
  p99Us: number;
}

const fioTimeoutSlackMs = 30_000;

/** Runs one fio job against an NBD URI and returns its figures (fio's JSON output). */
async function runFio(uri: string, job: FioJob, seconds: number, sizeBytes: number): Promise<FioFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-fio-'));
  try {
    const output = join(dir, 'fio.json');
    const args = [
      `--name=${job.rw}`,
      '--ioengine=nbd',
      `--uri=${uri}`,
      `--rw=${job.rw}`,
      `--bs=${job.blockSize}`,
      `--iodepth=${job.iodepth}`,
      `--size=${sizeBytes}`,
      `--runtime=${seconds}`,
      '--time_based',
      '--output-format=json',
      `--output=${output}`,
    ];
    await runChild('fio', args, seconds * 1000 + fioTimeoutSlackMs);
    const report = JSON.parse(readFileSync(output, 'utf8'));
    const side = report.jobs[0][job.rw.includes('write') ? 'write' : 'read'];
    const percentiles = side.clat_ns.percentile as Record<string, number>;
    return {
      job,
      mbPerSecond: side.bw_bytes / 1e6,
      iops: side.iops,
      p50Us: percentiles['50.000000'] / 1000,
      p99Us: percentiles['99.000000'] / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runChild(command: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} exited with ${code}: ${stderr.trim()}`));
    });
  });
}

/** The run whose headline figure is the median of the runs (so its latencies belong to it). */
function medianRun(runs: FioFigures[]): FioFigures {
  return [...runs].sort((a, b) => figure(a) - figure(b))[runs.length >> 1];
}

/**
 * Runs every fio job on each target, interleaving the targets round by round
 * so that load from elsewhere on the machine hits them alike; reports the
 * median round per job and target.
 */
async function runJobs(uris: string[], seconds: number, rounds: number, sizeBytes: number): Promise<FioFigures[][]> {
  const results: FioFigures[][] = uris.map(() => []);
  for (const job of fioJobs) {
    const runs: FioFigures[][] = uris.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, uri] of uris.entries()) runs[i].push(await runFio(uri, job, seconds, sizeBytes));
    }
    runs.forEach((r, i) => results[i].push(medianRun(r)));
  }
  return results;
}

export interface NbdBenchOptions {
  seconds: number;
  rounds: number;
  /** Also measure `nbdkit -t 1 memory` of the same size, interleaved. */
  nbdkitBaseline: boolean;
}

/**
 * Serves `device` with our NBD server on a free loopback port and runs the fio
 * jobs against it (and against nbdkit if asked): [ours, nbdkit?].
 */
export async function benchBlockDevice(device: BlockDevice, opts: NbdBenchOptions): Promise<FioFigures[][]> {
  const server = await startNbdServer({ port: 0, exports: device });
  const nbdkit = opts.nbdkitBaseline ? await startNbdkit(device.sizeBytes) : null;
  try {
    const uris = [`nbd://127.0.0.1:${server.address.port}/`, ...(nbdkit ? [nbdkit.uri] : [])];
    return await runJobs(uris, opts.seconds, opts.rounds, device.sizeBytes);
  } finally {
    nbdkit?.stop();
    await server.close();
  }
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** nbdkit's memory plugin with one thread (its default thread pool aborts when a client leaves with reads in flight). */
async function startNbdkit(sizeBytes: number): Promise<{ uri: string; stop: () => void }> {
  const port = await freePort();
  const args = ['-f', '--exit-with-parent', '-t', '1', '-i', '127.0.0.1', '-p', String(port), 'memory', String(sizeBytes)];
  const child = spawn('nbdkit', args, { stdio: 'ignore' });
  try {
    await waitForPort(port, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { uri: `nbd://127.0.0.1:${port}/`, stop: () => child.kill('SIGTERM') };
}

function figure(f: FioFigures): number {
  return f.job.measure === 'MB/s' ? f.mbPerSecond : f.iops;
}

/**
 * What `teearray local` serves: a k=4 m=2 array of real disk-node processes
 * (from the built CLI) with at least `sizeBytes` of room, as an NBD device.
 */
async function localArrayDevice(sizeBytes: number): Promise<{ device: BlockDevice; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-bench-nbd-'));
  const nodeMib = Math.ceil((sizeBytes / 4 / 2 ** 20) * 1.02) + 4;
  const local = await startLocalArray({ dir, k: 4, m: 2, nodeMib, command: [process.execPath, join(repoRoot, 'dist', 'teearray.mjs')], log: createLogger(true) });
  const device = new ArrayBlockDevice(local.disk);
  // Every sector written once first: reads of never-written sectors need no node and would flatter the figures.
  const chunk = randomBytes(1 << 20);
  for (let at = 0; at + chunk.length <= device.sizeBytes; at += chunk.length) await device.write(at, chunk);
  return {
    device,
    stop: async () => {
      await local.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const seconds = Number(opts.params.get('seconds') ?? (opts.quick ? 1 : 3));
  const rounds = Number(opts.params.get('rounds') ?? (opts.quick ? 1 : 3));
  const sizeBytes = Number(opts.params.get('size-mib') ?? (opts.quick ? 64 : 1024)) * 1024 * 1024;
  const kind = opts.params.get('device') ?? 'memory';
  if (kind !== 'memory' && kind !== 'array') throw new Error('--device must be memory or array');
  const device = kind === 'array' ? await localArrayDevice(sizeBytes) : { device: new MemoryDevice({ sizeBytes }), stop: async () => {} };
  let figures: FioFigures[][];
  try {
    figures = await benchBlockDevice(device.device, { seconds, rounds, nbdkitBaseline: true });
  } finally {
    await device.stop();
  }
  const [ours, baseline] = figures;
  const rows: BenchRow[] = ours.map((f, i) => ({
    name: `teearray nbd, ${kind === 'array' ? 'k=4 m=2 array' : 'memory device'}: ${f.job.name}`,
    value: figure(f),
    unit: f.job.measure,
    ratios: { 'vs nbdkit': figure(f) / figure(baseline[i]) },
    extra: { MBps: f.mbPerSecond, iops: f.iops, p50us: f.p50Us, p99us: f.p99Us },
  }));
  for (const f of baseline) {
    rows.push({
      name: `nbdkit -t 1 memory: ${f.job.name}`,
      value: figure(f),
      unit: f.job.measure,
      extra: { MBps: f.mbPerSecond, iops: f.iops, p50us: f.p50Us, p99us: f.p99Us },
    });
  }
  const quick = opts.quick ? ' --quick' : '';
  return {
    bench: 'nbd',
    command: `npm run bench -- nbd${quick} --device ${kind} --seconds ${seconds} --rounds ${rounds} --size-mib ${sizeBytes / 1024 / 1024}`,
    rows,
    notes: [
      'fio --ioengine=nbd over 127.0.0.1; both servers in the same run, same jobs, same export size',
      `each figure is the median of ${rounds} rounds of ${seconds} s, the two servers interleaved round by round`,
      'latencies are fio completion latencies (clat) in microseconds',
    ],
  };
}
