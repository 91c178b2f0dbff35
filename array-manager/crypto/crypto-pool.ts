// A bounded pool of worker threads that seals and opens large batches of
// sectors in parallel with the calling thread.
//
// A batch of at least `inlineBelowSectors` sectors is cut into equal shares:
// the first done by the calling thread, each of the others copied into one
// worker's shared arena (crypto-pool-share.ts) and announced with one
// message, so the workers run while the calling thread does its own share.
// Smaller batches run inline: below that size the messages and copies cost
// more than the parallelism saves (bench/crypto.ts measures where the line
// is). One batch is in the workers at a time; later
// ones wait in a FIFO of at most `queuedBatchesMax`.
//
// Results equal sealSectors/openSectors (sector-crypto.ts), except that a
// failed open() zero-fills `out` instead of leaving it untouched; either way
// no unauthenticated plaintext is ever written.
//
// A worker that crashes or exits (its 'error' or 'exit' event) fails no
// request: the share it held is run again on the calling thread from the
// batch's own buffers (the worker only ever wrote its arena), and a new worker
// takes its place, at most `respawnsMax` times over the pool's life, so that
// a worker that crashes on every job (a bug, memory exhaustion) does not
// respawn forever; past that bound a lost worker's shares run on the calling
// thread. Each loss is reported to onWorkerLost (the array counts and logs it).
//
// Secrets: one 64-byte SharedArrayBuffer holding the sector keys, shared with
// the workers and zeroed by close(). Workers are unref'd while idle, so a pool
// that is never closed does not keep the process alive.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { batchSectorsMax, entryBytes, keyBytes, sectorBytes } from './crypto-constants.ts';
import { CryptoError, SectorAuthError } from './crypto-errors.ts';
import {
  arenaBytes,
  arenaViews,
  runShare,
  sharedSectorKeys,
  type ArenaSlice,
  type PoolJob,
  type PoolReply,
  type WorkerSetup,
} from './crypto-pool-share.ts';
import type { SectorKeys } from './key-set.ts';
import { checkBatch } from './sector-crypto.ts';

export interface CryptoPoolOptions {
  /** Worker threads; default one fewer than the cores, at least 1. */
  workers?: number;
  /** Batches smaller than this run inline on the calling thread. */
  inlineBelowSectors?: number;
  /** Bound on batches waiting for the workers; more throw E_POOL_BUSY. */
  queuedBatchesMax?: number;
  /** The worker module; override when the program is bundled. */
  workerUrl?: URL;
  /** Workers started in place of lost ones over the pool's life (default respawnsMaxDefault). */
  respawnsMax?: number;
}

/** A worker thread that crashed or exited, as told to CryptoPool.onWorkerLost. */
export interface WorkerLoss {
  /** Its place in the pool, 0-based. */
  worker: number;
  reason: string;
  /** False once respawnsMax replacements are used: its shares run on the calling thread from now on. */
  replaced: boolean;
}

/** Measured by bench/crypto.ts on the 2-core reference machine (docs/PERFORMANCE.md). */
export const inlineBelowSectorsDefault = 32;
export const poolWorkersMax = 16;
const queuedBatchesMaxDefault = 64;
/** Enough for the rare crash over a long run (each one is logged), few enough that a worker crashing on every job stops being restarted at once. */
const respawnsMaxDefault = 8;

// The worker starts as a two-line script: it installs the TypeScript loader
// when its entry is a .ts file (development and tests: tsx's --import hooks
// do not reach worker threads), then imports the entry module.
const workerBoot = `const { workerData: w } = require('node:worker_threads');
(w.loader ? import(w.loader).then((m) => m.register()) : Promise.resolve()).then(() => import(w.entry));`;

type Op = PoolJob['op'];

interface Batch {
  op: Op;
  indices: ArrayLike<number>;
  input: Uint8Array;
  entries: Uint8Array;
  out: Uint8Array;
}

interface PoolWorker {
  thread: Worker;
  arena: { slice(count: number): ArenaSlice };
  /** Resolves the job in flight on this worker, if any: with null when the worker was lost before it replied. */
  settle: ((reply: PoolReply | null) => void) | null;
  /** False once it crashed or exited: it takes no more jobs, and its replies, if any still arrive, are ignored. */
  alive: boolean;
}

export class CryptoPool {
  readonly inlineBelowSectors: number;
  /** Told of every worker lost; the pool goes on either way. */
  onWorkerLost: (loss: WorkerLoss) => void = () => {};
  private readonly keys: SectorKeys;
  private readonly sharedKeys: Uint8Array;
  private readonly keyBuffer: SharedArrayBuffer;
  private readonly workerUrl: URL;
  private readonly loader: string | undefined;
  private readonly workers: PoolWorker[];
  private readonly shareSectorsMax: number;
  private readonly queuedBatchesMax: number;
  private respawnsLeft: number;
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private closed = false;

  constructor(keys: SectorKeys, options: CryptoPoolOptions = {}) {
    const workerCount = options.workers ?? Math.max(1, availableParallelism() - 1);
    assert(Number.isInteger(workerCount) && workerCount >= 1 && workerCount <= poolWorkersMax, 'workers');
    this.inlineBelowSectors = Math.max(1, options.inlineBelowSectors ?? inlineBelowSectorsDefault);
    this.queuedBatchesMax = options.queuedBatchesMax ?? queuedBatchesMaxDefault;
    this.respawnsLeft = options.respawnsMax ?? respawnsMaxDefault;
    this.shareSectorsMax = Math.ceil(batchSectorsMax / (workerCount + 1));
    this.keyBuffer = new SharedArrayBuffer(2 * keyBytes);
    this.sharedKeys = new Uint8Array(this.keyBuffer);
    this.sharedKeys.set(keys.sectorEncryption, 0);
    this.sharedKeys.set(keys.sectorMac, keyBytes);
    this.keys = sharedSectorKeys(this.keyBuffer);
    this.workerUrl = options.workerUrl ?? defaultWorkerUrl();
    this.loader = typeScriptLoader(this.workerUrl);
    this.workers = Array.from({ length: workerCount }, (_, i) => this.spawn(i));
  }

  get workerCount(): number {
    return this.workers.length;
  }

  /** sealSectors (sector-crypto.ts), spread over the pool. */
  async seal(indices: ArrayLike<number>, plaintexts: Uint8Array, out: Uint8Array, entries: Uint8Array): Promise<void> {
    await this.run({ op: 'seal', indices, input: plaintexts, entries, out });
  }

  /** openSectors (sector-crypto.ts), spread over the pool; resolves to the number of blank sectors. */
  open(indices: ArrayLike<number>, ciphertexts: Uint8Array, entries: Uint8Array, out: Uint8Array): Promise<number> {
    return this.run({ op: 'open', indices, input: ciphertexts, entries, out });
  }

  /** Waits for queued batches, stops the workers and zeroes the pool's keys. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    this.sharedKeys.fill(0);
    // Stopped on purpose: their exits are no loss.
    for (const w of this.workers) w.alive = false;
    await Promise.all(this.workers.map((w) => w.thread.terminate()));
  }

  /** Starts the worker for place `index`, with an arena of its own (a lost worker's may still be written by its dying thread). */
  private spawn(index: number): PoolWorker {
    const arena = new SharedArrayBuffer(arenaBytes(this.shareSectorsMax));
    const workerData: WorkerSetup = { entry: this.workerUrl.href, loader: this.loader, keys: this.keyBuffer, arena, shareSectorsMax: this.shareSectorsMax };
    const thread = new Worker(workerBoot, { eval: true, workerData });
    const worker: PoolWorker = { thread, arena: arenaViews(arena, this.shareSectorsMax), settle: null, alive: true };
    thread.unref();
    thread.on('message', (reply: PoolReply) => {
      if (!worker.alive) return;
      const settle = worker.settle;
      assert(settle, 'crypto worker replied with no job in flight');
      worker.settle = null;
      thread.unref();
      settle(reply);
    });
    thread.on('error', (err) => this.lost(index, worker, `crashed: ${err.message}`));
    thread.on('exit', (code) => this.lost(index, worker, `exited with code ${code}`));
    return worker;
  }

  /** A worker crashed or exited: its job in flight is handed back to be run inline, and it is replaced while respawns are left. */
  private lost(index: number, worker: PoolWorker, reason: string): void {
    if (!worker.alive) return; // 'exit' follows 'error'
    worker.alive = false;
    worker.settle?.(null);
    worker.settle = null;
    const replaced = !this.closed && this.respawnsLeft > 0;
    if (replaced) {
      this.respawnsLeft--;
      this.workers[index] = this.spawn(index);
    }
    this.onWorkerLost({ worker: index, reason: `crypto worker ${index} ${reason}`, replaced });
  }

  private async run(batch: Batch): Promise<number> {
    if (this.closed) throw new CryptoError('E_POOL_CLOSED', 'crypto pool is closed');
    const count = checkBatch(batch.indices, batch.input, batch.out, batch.entries);
    if (count < this.inlineBelowSectors) return this.settled(batch, [this.share(batch, 0, count)]);
    if (this.queued >= this.queuedBatchesMax) {
      throw new CryptoError('E_POOL_BUSY', `more than ${this.queuedBatchesMax} batches queued`);
    }
    this.queued++;
    const job = this.tail.then(() => this.spread(batch, count));
    this.tail = job.catch(() => undefined);
    try {
      return await job;
    } finally {
      this.queued--;
    }
  }

  /** Runs one batch: the first share on this thread, one share per worker. */
  private async spread(batch: Batch, count: number): Promise<number> {
    // Share 0 is this thread's and share i + 1 is worker i's, so a batch too
    // small to fill every share leaves workers idle, never this thread.
    const share = Math.ceil(count / (this.workers.length + 1));
    const span = (i: number): [number, number] => [Math.min(count, i * share), Math.min(count, (i + 1) * share)];
    // The workers as posted to: a lost one is replaced in this.workers while
    // the batch runs, and a reply it sent before is in its own arena.
    const crew = [...this.workers];
    const posted = crew.map((w, i) => this.post(w, batch, ...span(i + 1)));
    const local = this.share(batch, ...span(0));
    // Wait for every worker even if this thread's share failed: a worker
    // must be idle before the next batch reuses its arena.
    const answers = await Promise.all(posted);
    // A lost worker's share is run here, from the batch's buffers: only the
    // worker's arena held that share's work, never the batch's `out`.
    const replies = [local, ...answers.map((reply, i) => reply ?? this.share(batch, ...span(i + 1)))];
    crew.forEach((w, i) => {
      if (answers[i]?.ok) this.collect(w, batch, ...span(i + 1));
    });
    return this.settled(batch, replies);
  }

  /** Sums blank counts, or throws the failure of the first failed share in batch order. */
  private settled(batch: Batch, replies: PoolReply[]): number {
    let blank = 0;
    for (const reply of replies) {
      if (reply.ok) {
        blank += reply.blank;
        continue;
      }
      if (batch.op === 'open') batch.out.fill(0);
      if ('authIndex' in reply) throw new SectorAuthError(reply.authIndex);
      throw new Error(`crypto pool: ${reply.message}`);
    }
    return blank;
  }

  private share(batch: Batch, from: number, to: number): PoolReply {
    const { op, indices, input, entries, out } = batch;
    const ids = Array.prototype.slice.call(indices, from, to) as number[];
    return runShare(this.keys, op, ids, sectors(input, from, to), entryRange(entries, from, to), sectors(out, from, to));
  }

  /** Hands a share to `w`; resolves to its reply, or to null when there is no live worker to run it. */
  private post(w: PoolWorker, batch: Batch, from: number, to: number): Promise<PoolReply | null> {
    const count = to - from;
    if (count === 0) return Promise.resolve({ ok: true, blank: 0 });
    if (!w.alive) return Promise.resolve(null);
    const slice = w.arena.slice(count);
    slice.data.set(sectors(batch.input, from, to));
    if (batch.op === 'open') slice.entries.set(entryRange(batch.entries, from, to));
    for (let i = 0; i < count; i++) slice.indices[i] = batch.indices[from + i];
    return new Promise((resolve) => {
      w.settle = resolve;
      w.thread.ref();
      w.thread.postMessage({ op: batch.op, count } satisfies PoolJob);
    });
  }

  private collect(w: PoolWorker, batch: Batch, from: number, to: number): void {
    if (to === from) return;
    const slice = w.arena.slice(to - from);
    batch.out.set(slice.data, from * sectorBytes);
    if (batch.op === 'seal') batch.entries.set(slice.entries, from * entryBytes);
  }
}

/**
 * The worker module beside this one: crypto-worker.ts from the sources, or
 * crypto-worker.mjs beside a bundle (cli/build.ts writes it next to
 * dist/teearray.mjs, whose URL this module then has).
 */
function defaultWorkerUrl(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './crypto-worker.ts' : './crypto-worker.mjs', import.meta.url);
}

/** The tsx loader a TypeScript worker entry needs, or undefined for JavaScript. */
function typeScriptLoader(entry: URL): string | undefined {
  if (!entry.pathname.endsWith('.ts')) return undefined;
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    throw new Error(`crypto pool: worker ${entry.href} is TypeScript and tsx is not installed; pass a JavaScript workerUrl`);
  }
}

function sectors(buf: Uint8Array, from: number, to: number): Uint8Array {
  return buf.subarray(from * sectorBytes, to * sectorBytes);
}

function entryRange(buf: Uint8Array, from: number, to: number): Uint8Array {
  return buf.subarray(from * entryBytes, to * entryBytes);
}
