// Issue 10's stranger flood, with real processes: a `teearray disk-node`
// process (the measured bundle, keys from `teearray keygen`) serves an
// attested manager session while 100 strangers (test/support/stranger-flood.ts,
// in a process of their own) hammer it for a bounded time, each reconnecting
// whenever the node drops it. The goals checked are the issue's: the node
// stays up, its peak RSS (VmRSS sampled from /proc, and its VmHWM reset after
// the idle reading) stays within 2x of idle, every manager batch completes
// and reads back what it wrote, the p99 batch latency stays under the
// manager's timeout, and the manager can open new sessions during the flood.
// The figures are printed as a TAP comment. Linux only (/proc).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { attestedConnector } from '../../array-manager/node-client/attested-connector.ts';
import { Op, type NodeError } from '../../array-manager/node-client/frame-codec.ts';
import type { NodeClient } from '../../array-manager/node-client/node-client.ts';
import { loadKeys } from '../../cli/key-store.ts';
import { loadManifest } from '../../cli/manifest-file.ts';
import { cli, notBuilt, startCli } from '../cli/cli-process.ts';
import { prng } from '../sim/prng.ts';
import { strangerMix, type FloodStats } from '../support/stranger-flood.ts';

const seed = 10;
const floodMs = 8000;
/** The manager's request timeout (attestedConnector's default). */
const managerTimeoutMs = 5000;
const nodeSectors = 1024;
const batchSectors = 4;
const floodScript = fileURLToPath(new URL('../support/stranger-flood.ts', import.meta.url));

const skip = notBuilt || (!existsSync('/proc/self/status') && 'needs /proc (Linux)');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM). */
function procKiB(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]);
}

/** Resets the process's VmHWM to its current RSS (Linux >= 4.0); false where that is not allowed. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Starts the strangers' process for `ms`; resolves once they are launched, with their counts to come. */
async function startFlood(t: Test, port: number, ms: number): Promise<{ done: Promise<FloodStats> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', floodScript, String(port), String(ms), String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const kill = setTimeout(() => child.kill('SIGKILL'), ms + 30_000);
  t.teardown(() => (clearTimeout(kill), child.kill('SIGKILL')));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done || JSON.parse(first.value).event !== 'started') throw new Error('the strangers did not start');
  const done = lines.next().then((r) => {
    if (r.done) throw new Error('the strangers exited without their counts');
    return JSON.parse(r.value) as FloodStats;
  });
  return { done };
}

interface Workload {
  latenciesMs: number[];
  errors: string[];
  mismatches: number;
}

/** WRITE then READ back `batchSectors` sectors, over and over, on the manager's session until `until`. */
async function managerWork(client: NodeClient, until: () => boolean, out: Workload): Promise<void> {
  const next = prng(seed);
  for (let i = 0; i < 100_000 && !until(); i++) {
    const sector = Math.floor(next() * (nodeSectors - batchSectors));
    const data = randomBytes(batchSectors * 4096);
    try {
      let started = performance.now();
      await client.batch([{ op: Op.write, sector, count: batchSectors, data }]);
      out.latenciesMs.push(performance.now() - started);
      started = performance.now();
      const [read] = await client.batch([{ op: Op.read, sector, count: batchSectors }]);
      out.latenciesMs.push(performance.now() - started);
      if (read.op !== Op.read || !read.data.equals(data)) out.mismatches++;
    } catch (err) {
      out.errors.push(`${(err as NodeError).code}: ${(err as Error).message}`);
      return; // a poisoned session fails every later batch alike
    }
  }
}

t.test('100 strangers flood a disk-node process; the manager keeps working', { skip, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-flood-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keygen = await cli(['keygen', '--data-dir', dir, '--json']);
  t.equal(keygen.code, 0, keygen.stderr);
  const { managerPublicKey, manifest } = JSON.parse(keygen.stdout) as { managerPublicKey: string; manifest: string };
  const node = startCli(t, ['disk-node', '--manager-key', managerPublicKey, '--sectors', String(nodeSectors), '--platform-dir', join(dir, 'platform'), '--port', '0']);
  const { port } = JSON.parse(await node.line((l) => l.startsWith('{'))) as { port: number };
  const pid = node.child.pid!;

  const keys = await loadKeys(dir);
  const reference = await loadManifest(manifest);
  const endpoints = [`ws://127.0.0.1:${port}`];
  const { managerPrivateKey, managerPublicKey: managerKey } = keys;
  /** A new attested session; an observer's never fences the working one. */
  const open = (observe: boolean) => attestedConnector({ endpoints, manifest: reference, managerPrivateKey, managerPublicKey: managerKey, observe, timeoutMs: managerTimeoutMs }).connect(0);
  const manager = await open(false);
  t.teardown(() => manager.close());

  // Idle: after a warm-up of the very batches the flood will race with.
  const warm: Workload = { latenciesMs: [], errors: [], mismatches: 0 };
  await managerWork(manager, () => warm.latenciesMs.length >= 100, warm);
  t.same(warm.errors, [], 'the warm-up ran clean');
  await sleep(500);
  const idleKiB = procKiB(pid, 'VmRSS');
  const hwmReset = resetPeak(pid);

  let sampledPeakKiB = idleKiB;
  const sampler = setInterval(() => {
    try {
      sampledPeakKiB = Math.max(sampledPeakKiB, procKiB(pid, 'VmRSS'));
    } catch {
      /* the process is gone: the liveness check below says so */
    }
  }, 20);
  t.teardown(() => clearInterval(sampler));
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();

  const flooding = await startFlood(t, port, floodMs);
  const floodStart = performance.now();
  const floodOver = () => performance.now() - floodStart > floodMs;

  // New sessions while the flood goes on, one attempt each: pending-session eviction must let the manager in.
  const probes: string[] = [];
  const probing = (async () => {
    for (let i = 0; i < 6 && !floodOver(); i++) {
      await sleep(floodMs / 7);
      const started = performance.now();
      try {
        const observer = await open(true);
        await observer.status();
        observer.close();
        probes.push(`ok ${Math.round(performance.now() - started)} ms`);
      } catch (err) {
        probes.push(`${(err as NodeError).code ?? 'error'}: ${(err as Error).message}`);
      }
    }
  })();

  const work: Workload = { latenciesMs: [], errors: [], mismatches: 0 };
  await managerWork(manager, floodOver, work);
  await probing;
  const stats = await flooding.done;
  clearInterval(sampler);
  lag.disable();

  const alive = node.child.exitCode === null && node.child.signalCode === null;
  const peakKiB = Math.max(sampledPeakKiB, hwmReset && alive ? procKiB(pid, 'VmHWM') : 0);
  const sorted = [...work.latenciesMs].sort((a, b) => a - b);
  const p99 = sorted.length ? percentile(sorted, 99) : Infinity;
  const figures = {
    idleRssMiB: +(idleKiB / 1024).toFixed(1),
    peakRssMiB: +(peakKiB / 1024).toFixed(1),
    ratio: +(peakKiB / idleKiB).toFixed(2),
    peakFrom: hwmReset ? 'VmHWM after reset, and VmRSS sampled every 20 ms' : 'VmRSS sampled every 20 ms',
    batches: sorted.length,
    p50Ms: +percentile(sorted, 50).toFixed(1),
    p99Ms: +p99.toFixed(1),
    maxMs: +sorted[sorted.length - 1].toFixed(1),
    testLoopLagP99Ms: +(lag.percentile(99) / 1e6).toFixed(1),
    strangerConnections: stats.connections,
    strangerFrames: stats.frames,
    newSessions: probes,
  };
  t.comment(`stranger flood figures: ${JSON.stringify(figures)}`);

  t.ok(alive, `the node process is still alive${alive ? '' : `: ${node.stderr().slice(-2000)}`}`);
  t.ok(peakKiB <= 2 * idleKiB, `peak RSS ${figures.peakRssMiB} MiB within 2x idle ${figures.idleRssMiB} MiB (x${figures.ratio})`);
  t.same(work.errors, [], 'every manager batch completed');
  t.equal(work.mismatches, 0, 'every READ returned what the WRITE before it stored');
  t.ok(sorted.length >= 10, `the manager kept working through the flood (${sorted.length} batches)`);
  t.ok(p99 < managerTimeoutMs, `p99 batch latency ${figures.p99Ms} ms under the ${managerTimeoutMs} ms timeout`);
  t.ok(probes.length >= 3, `new sessions were tried during the flood (${probes.length})`);
  t.same(probes.filter((p) => !p.startsWith('ok')), [], 'every new session the manager opened during the flood was served');
  t.ok(Object.entries(strangerMix).every(([kind, n]) => stats.connections[kind as keyof FloodStats['connections']] >= n), 'every stranger connected');
  t.ok(stats.connections.emptyFrames > strangerMix.emptyFrames, 'the node dropped frame-sending strangers (they reconnected)');
  t.equal(await node.stop('SIGTERM'), 0, 'the node exits 0 on SIGTERM');
});
