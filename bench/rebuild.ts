// Rebuild and scrub on real disk-node processes: how fast a replaced slot is
// rebuilt (MB/s of shards written to the new node) with the array idle and
// under a sequential foreground workload, what the rebuild costs that
// workload (its throughput while the rebuild runs, as a ratio to the same
// workload without it, measured in the same run), how fast a scrub checks the
// array, and the array's own sequential read rate in the same run, which an
// idle rebuild should reach at least half of. CPU per MiB rebuilt (manager
// plus nodes) is compared with the cost of the primitives a rebuilt MiB needs
// at the least, measured here too: opening (MAC check and decryption of) k
// MiB of data shards and reconstructing the missing shard.
//
//   npm run bench -- rebuild [--quick] [--shapes 4+2,8+3] [--node-mib 32] [--seconds 3] [--batch 256] [--min-rate-mib 16] [--windows 5]
//
// Per shape: k + m nodes and five fresh spares; the whole disk written once;
// then, each on a freshly killed slot (SIGKILL, then marked dead at once
// rather than after the death window): an idle rebuild (rate unlimited), a
// rebuild under sequential 1 MiB reads at queue depth 4, one under 1 MiB
// writes at queue depth 4, both at the healer's default guaranteed minimum
// (rateDefaults, 1 MB/s since this bench found 16 MiB/s out of reach; --min-rate-mib), and the two again with the
// minimum set to a quarter of the idle rebuild's rate (one the rebuild can
// hold here, so the throttle, not the CPU, sets the pace). Under load the
// rebuild runs in alternate 1 s windows (--windows pairs) while the
// foreground job runs throughout, so the job with and without the rebuild is
// compared window by window on the same degraded array. The manager
// runs in this process on the library API (Healer, VirtualDisk).
// Needs `npm run build` (dist/).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArray } from '../array-manager/array-create.ts';
import { entryBytes } from '../array-manager/crypto/crypto-constants.ts';
import { SlotState } from '../array-manager/membership.ts';
import { openSectors, sealSectors } from '../array-manager/crypto/sector-crypto.ts';
import { stripes } from '../array-manager/geometry.ts';
import { Healer } from '../array-manager/healing/healer.ts';
import { rebuildDefaults } from '../array-manager/healing/rebuild.ts';
import { Throttle, rateDefaults } from '../array-manager/healing/throttle.ts';
import { attestedConnector } from '../array-manager/node-client/attested-connector.ts';
import type { VirtualDisk } from '../array-manager/virtual-disk.ts';
import { generateKeys, loadKeys } from '../cli/key-store.ts';
import { localManifest } from '../cli/manifest-file.ts';
import type { LocalNodes } from '../cli/node-processes.ts';
import { BenchNodes, cliPath, numberParam, parseShapes } from './bench-nodes.ts';
import { startCpuMeter } from './cpu-meter.ts';
import { median, secondsSince, type BenchOptions, type BenchResult, type BenchRow } from './report.ts';

const sectorBytes = 4096;
const MiB = 1 << 20;

const fleet = new BenchNodes('rebuild');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sequential {
  /** MB/s (10^6 bytes) of user data moved. */
  mbps: number;
  bytes: number;
  seconds: number;
  /** CPU ms per MiB moved: this process (the manager), and the node processes given. */
  managerCpuMsPerMiB: number;
  nodesCpuMsPerMiB: number;
}

/**
 * Sequential 1 MiB requests, 4 in flight, consecutive over the whole disk
 * (wrapping), until `stop()` says so (checked before each request).
 */
async function sequential(disk: VirtualDisk, kind: 'read' | 'write', stop: () => boolean, nodePids: number[] = [], done?: (bytes: number) => void): Promise<Sequential> {
  const cpu = startCpuMeter(nodePids);
  const payload = randomBytes(MiB);
  const per = MiB / sectorBytes;
  const slots = Math.floor(disk.sectors / per);
  let cursor = 0;
  let bytes = 0;
  const start = process.hrtime.bigint();
  const worker = async () => {
    while (!stop()) {
      const at = (cursor++ % slots) * per;
      if (kind === 'write') await disk.writeSectors(at, payload);
      else await disk.readSectors(at, per);
      bytes += MiB;
      done?.(MiB);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const seconds = secondsSince(start);
  const spent = cpu();
  return { mbps: bytes / seconds / 1e6, bytes, seconds, managerCpuMsPerMiB: spent.selfMs / (bytes / MiB), nodesCpuMsPerMiB: spent.childrenMs / (bytes / MiB) };
}

const forSeconds = (seconds: number) => {
  const start = process.hrtime.bigint();
  return () => secondsSince(start) >= seconds;
};

/** Writes every sector of the disk once (1 MiB requests, 4 in flight). */
async function fill(disk: VirtualDisk): Promise<void> {
  const chunk = randomBytes(MiB);
  const per = MiB / sectorBytes;
  let next = 0;
  const worker = async () => {
    for (let at = next; at < disk.sectors; at = next) {
      next += per;
      const count = Math.min(per, disk.sectors - at);
      await disk.writeSectors(at, chunk.subarray(0, count * sectorBytes));
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

/**
 * CPU (ms, this thread) per MiB of the least work a rebuilt MiB of shards
 * needs in the manager: opening k MiB of data shards (MAC check, decryption)
 * and reconstructing one lost shard from k others, 256 stripes of 4 KiB.
 */
function primitiveCost(disk: VirtualDisk, rounds: number): { openMsPerMiB: number; reconstructMsPerMiB: number } {
  const keys = disk.state.keys;
  const count = 256;
  const indices = Array.from({ length: count }, (_, i) => i * 7 + 3);
  const plain = randomBytes(count * sectorBytes);
  const sealed = Buffer.alloc(plain.length);
  const entries = Buffer.alloc(count * entryBytes);
  sealSectors(keys, indices, plain, sealed, entries);
  const out = Buffer.alloc(plain.length);
  const code = disk.state.code;
  const { k, m } = disk.state.geometry;
  const stripe = code.allocStripe();
  for (let j = 0; j < k; j++) stripe[j].set(randomBytes(sectorBytes));
  code.encode(stripe.slice(0, k), stripe.slice(k));
  const present = Array.from({ length: k + m }, (_, j) => j !== 0);
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const opens: number[] = [];
  const recons: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t0 = cpuMs();
    for (let i = 0; i < 4; i++) openSectors(keys, indices, sealed, entries, out);
    opens.push((cpuMs() - t0) / 4);
    t0 = cpuMs();
    for (let i = 0; i < 4 * count; i++) code.reconstruct(stripe, present);
    recons.push((cpuMs() - t0) / 4);
  }
  return { openMsPerMiB: median(opens), reconstructMsPerMiB: median(recons) };
}

interface RebuildRun {
  name: string;
  /** MB/s of shards written to the new node. */
  mbps: number;
  seconds: number;
  /** The guaranteed minimum while the foreground ran (bytes/s). */
  minRate: number;
  managerCpuMsPerMiB: number;
  nodesCpuMsPerMiB: number;
  foreground?: Sequential;
  /** The same foreground job with the slot dead and nothing rebuilding (degraded), just before the rebuild. */
  degraded?: Sequential;
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first`);
  const shapes = parseShapes(opts.params.get('shapes') ?? (opts.quick ? '4+2' : '4+2,8+3'));
  const nodeMib = Math.ceil(numberParam(opts, 'node-mib', opts.quick ? 8 : 32));
  const seconds = numberParam(opts, 'seconds', opts.quick ? 0.5 : 3);
  const stripesPerBatch = Math.ceil(numberParam(opts, 'batch', rebuildDefaults.stripesPerBatch));
  // Rebuild-on / rebuild-off window pairs of 1 s each under a foreground job.
  const windows = Math.ceil(numberParam(opts, 'windows', opts.quick ? 2 : 5));
  const minRate = Math.ceil(numberParam(opts, 'min-rate-mib', rateDefaults.minBytesPerSecond / MiB)) * MiB;

  const dir = mkdtempSync(join(tmpdir(), 'teearray-bench-rebuild-'));
  const started: LocalNodes[] = [];
  const rows: BenchRow[] = [];
  try {
    await generateKeys(dir);
    const keys = await loadKeys(dir);
    const manifest = await localManifest(keys);
    for (const { k, m } of shapes) {
      const n = k + m;
      const [nodes, spares] = await Promise.all([fleet.start(n, nodeMib, keys), fleet.start(5, nodeMib, keys)]);
      started.push(nodes, spares);
      const pids = [...nodes.pids];
      const connector = attestedConnector({ endpoints: nodes.endpoints, manifest, managerPrivateKey: keys.managerPrivateKey, managerPublicKey: keys.managerPublicKey, timeoutMs: 30_000 });
      const disk = await createArray({ connector, dataKey: keys.dataKey, k, m });
      const g = disk.state.geometry;
      const healer = new Healer(disk, { rebuild: { stripesPerBatch, checkpointMs: 2000 }, rate: { minBytesPerSecond: minRate, maxBytesPerSecond: 0 }, retryMs: 100 });
      healer.start();
      await fill(disk);
      const shape = `${k}+${m}`;

      // Baselines: the healthy array, nothing in the background.
      disk.state.rows.clear();
      const seqRead = await sequential(disk, 'read', forSeconds(seconds), pids);
      const seqWrite = await sequential(disk, 'write', forSeconds(seconds), pids);

      // Scrub, idle.
      let cpu = startCpuMeter(pids);
      let t0 = process.hrtime.bigint();
      healer.scrub();
      while (healer.scrubber.running) await sleep(5);
      const scrubSeconds = secondsSince(t0);
      let spent = cpu();
      const scrubBytes = stripes(g) * k * sectorBytes;
      const scrubMiB = scrubBytes / MiB;
      rows.push({
        name: `${shape} scrub idle`,
        value: scrubBytes / scrubSeconds / 1e6,
        unit: 'MB/s',
        ratios: { 'vs seq read': scrubBytes / scrubSeconds / 1e6 / seqRead.mbps },
        extra: { seconds: scrubSeconds, managerCpuMsPerMiB: spent.selfMs / scrubMiB, nodesCpuMsPerMiB: spent.childrenMs / scrubMiB, repaired: Object.values(healer.scrubber.result!.repairedBySlot).reduce((a, b) => a + b, 0) },
      });

      type Scenario = { name: string; fg?: 'read' | 'write'; rate: () => number };
      const runs: RebuildRun[] = [];
      // The rate an idle rebuild reaches: the "sustainable" scenarios guarantee a quarter of it under load.
      const sustainable = () => Math.max(MiB, Math.round(((runs[0]?.mbps ?? 4) * 1e6) / 4));
      const scenarios: Scenario[] = [
        { name: 'idle', rate: () => minRate },
        { name: `under seq read 1MiB qd4, min rate ${minRate / MiB} MiB/s`, fg: 'read', rate: () => minRate },
        { name: `under seq write 1MiB qd4, min rate ${minRate / MiB} MiB/s`, fg: 'write', rate: () => minRate },
        { name: 'under seq read 1MiB qd4, min rate 1/4 of idle', fg: 'read', rate: sustainable },
        { name: 'under seq write 1MiB qd4, min rate 1/4 of idle', fg: 'write', rate: sustainable },
      ];
      const [spareNodes] = [spares];
      for (const [i, sc] of scenarios.entries()) {
        const slot = (1 + i * 2) % n;
        process.kill(pids[slot], 'SIGKILL');
        await disk.state.markDead([slot], 'bench: node killed');
        const rate = sc.rate();
        await disk.flush();
        const cpuPids = [...pids.filter((_, s) => s !== slot), spareNodes.pids[i]];
        const bytesTotal = stripes(g) * sectorBytes;
        if (!sc.fg) {
          // Idle: the healer's own loop, rate unlimited while nothing else runs.
          healer.setRate({ minBytesPerSecond: rate, maxBytesPerSecond: 0 });
          cpu = startCpuMeter(cpuPids);
          t0 = process.hrtime.bigint();
          await healer.replace({ slot, endpoint: spareNodes.endpoints[i] });
          while (disk.state.membership.slots[slot].state !== SlotState.live || healer.rebuilder.active) await sleep(2);
          const took = secondsSince(t0);
          spent = cpu();
          runs.push({ name: sc.name, mbps: bytesTotal / took / 1e6, seconds: took, minRate: rate, managerCpuMsPerMiB: spent.selfMs / (bytesTotal / MiB), nodesCpuMsPerMiB: spent.childrenMs / (bytesTotal / MiB) });
        } else {
          // Under load: the foreground job runs throughout; the rebuild runs in alternate windows, paced as the
          // healer paces it (Throttle at this minimum), so the foreground with and without it is compared
          // window by window (load from other processes hits both alike).
          await healer.stop();
          await healer.replace({ slot, endpoint: spareNodes.endpoints[i] });
          const throttle = new Throttle({ minBytesPerSecond: rate, maxBytesPerSecond: 0 }, () => disk.state.lastForegroundAt);
          const windowMs = 1000;
          const on = { fg: 0, ms: 0, rebuilt: 0 };
          const off = { fg: 0, ms: 0 };
          let rebuildOn = false;
          let stopFg = false;
          const fg = sequential(disk, sc.fg, () => stopFg, [], (b) => void (rebuildOn ? (on.fg += b) : (off.fg += b)));
          await sleep(300); // the foreground gets going first
          for (let w = 0; w < 2 * windows && healer.rebuilder.active; w++) {
            const began = performance.now();
            if (w % 2 === 0) {
              rebuildOn = true;
              while (performance.now() - began < windowMs && healer.rebuilder.active) {
                const stepBegan = performance.now();
                const { bytes } = await healer.rebuilder.step();
                on.rebuilt += bytes;
                await throttle.pace(bytes, stepBegan);
              }
              rebuildOn = false;
              on.ms += performance.now() - began;
            } else {
              await sleep(windowMs);
              off.ms += performance.now() - began;
            }
          }
          stopFg = true;
          const foreground = await fg;
          await healer.rebuilder.run();
          while (disk.state.membership.slots[slot].state !== SlotState.live) await sleep(2);
          const seconds = on.ms / 1000;
          runs.push({
            name: sc.name,
            mbps: on.rebuilt / seconds / 1e6,
            seconds,
            minRate: rate,
            managerCpuMsPerMiB: 0,
            nodesCpuMsPerMiB: 0,
            foreground: { ...foreground, mbps: on.fg / seconds / 1e6 },
            ...(off.ms > 0 && { degraded: { ...foreground, mbps: off.fg / (off.ms / 1000) / 1e6 } }),
          });
          healer.start();
        }
        pids[slot] = spareNodes.pids[i];
      }
      const prim = primitiveCost(disk, opts.quick ? 3 : 9);
      const floor = k * prim.openMsPerMiB + prim.reconstructMsPerMiB;
      for (const r of runs) {
        const base = r.foreground ? (r.name.includes('read') ? seqRead : seqWrite) : undefined;
        rows.push({
          name: `${shape} rebuild ${r.name}`,
          value: r.mbps,
          unit: 'MB/s',
          ratios: {
            'vs seq read': r.mbps / seqRead.mbps,
            ...(base && r.foreground && { 'foreground kept': r.foreground.mbps / base.mbps }),
            ...(r.degraded && r.foreground && { 'foreground vs rebuild off': r.foreground.mbps / r.degraded.mbps }),
          },
          extra: {
            seconds: r.seconds,
            ...(r.foreground && { minRateMBps: r.minRate / 1e6, foregroundMBps: r.foreground.mbps, rebuildOffMBps: r.degraded?.mbps ?? 'no off window', healthyMBps: base!.mbps }),
            // With a foreground job the process's CPU is mostly the job's: per MiB rebuilt only when idle.
            ...(!r.foreground && {
              managerCpuMsPerMiB: r.managerCpuMsPerMiB,
              nodesCpuMsPerMiB: r.nodesCpuMsPerMiB,
              primitiveFloorMsPerMiB: floor,
              managerCpuVsFloor: r.managerCpuMsPerMiB / floor,
              managerCpuVsSeqRead: r.managerCpuMsPerMiB / seqRead.managerCpuMsPerMiB,
            }),
          },
        });
      }
      for (const [label, job] of [['read', seqRead], ['write', seqWrite]] as const) {
        rows.push({ name: `${shape} seq ${label} 1MiB qd4 (healthy)`, value: job.mbps, unit: 'MB/s', extra: { managerCpuMsPerMiB: job.managerCpuMsPerMiB, nodesCpuMsPerMiB: job.nodesCpuMsPerMiB } });
      }
      rows.push({
        name: `${shape} primitives per rebuilt MiB`,
        value: floor,
        unit: 'ms',
        extra: { openMsPerMiB: prim.openMsPerMiB, kOpens: k * prim.openMsPerMiB, reconstructMsPerMiB: prim.reconstructMsPerMiB },
      });
      await healer.stop();
      await disk.close();
    }
  } finally {
    fleet.stopping = true;
    await Promise.all(started.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
  const params = [...opts.params].map(([key, value]) => ` --${key} ${value}`).join('');
  return {
    bench: 'rebuild',
    command: `npm run bench -- rebuild${opts.quick ? ' --quick' : ''}${params}`,
    rows,
    notes: [
      `nodes of ${nodeMib} MiB on loopback, the whole disk written before timing, ${stripesPerBatch} stripes per rebuild batch, manager in the bench process`,
      'idle rebuild MB/s = shard bytes written to the new node (every stripe of the slot, tables included) / time from replace() to the slot live; scrub MB/s = data bytes checked (k shards per stripe) / time',
      `under load: sequential 1 MiB requests at queue depth 4 over the whole disk run throughout while the rebuild (paced by the healer's Throttle at the minimum shown) runs in alternate 1 s windows, ${windows} on and ${windows} off, then finishes unmeasured; rebuild MB/s = shard bytes / on-window time; "foreground vs rebuild off" = the job's MB/s in on-windows / in off-windows (same degraded array, interleaved); "foreground kept" = on-windows / the same job on the healthy array (${seconds} s, earlier in this run)`,
      'CPU ms per MiB rebuilt (idle rebuild only; scrub: per MiB checked; seq jobs: per MiB moved): manager = this process, nodes = the live nodes and the new one; primitive floor = k x opening 1 MiB of sectors + reconstructing 1 MiB of shards, this thread; managerCpuVsSeqRead = manager CPU per MiB rebuilt / per MiB of a healthy sequential read',
    ],
  };
}
