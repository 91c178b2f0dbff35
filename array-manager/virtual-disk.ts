// The virtual disk an open array presents: byte- and sector-addressed reads
// and writes, trim, flush and atomic multi-sector transactions.
//
// Writes queue up and a single committer turns the queue into journal
// entries (group commit): it takes queued requests in order while the entry
// stays within the journal's capacity, so many small concurrent writes share
// one entry and one set of round trips. A request resolves only after its
// entry is committed, so every acknowledged write is durable (recovery
// applies it whatever crashes) and visible to every later read; flush
// therefore only waits for the writes queued before it. A transaction always
// lands in a single entry, whole or not at all.
// Reads go straight to the nodes under the shared side of the apply lock.
import { ArrayError, releaseArray, type ArrayState } from './array-state.ts';
import { sectorBytes, userSectors } from './geometry.ts';
import { EntryBudget, JournalWriter, type PreparedEntry } from './journal-writer.ts';
import { readUserSectors } from './row-reader.ts';
import { since } from './latency-histogram.ts';

/** Most requests waiting for the committer before write() pushes back with E_BUSY. */
const queueRequestsMax = 4096;
/** Largest single read, in bytes. */
export const readBytesMax = 32 * 1024 * 1024;
/**
 * How long the committer, finding the queue empty after a commit, waits for
 * a next write to carry the pending apply before applying it alone. A writer
 * at queue depth 1 sends its next write as soon as the last is acknowledged:
 * the wait turns its third round trip per write (the lone apply, which the
 * next entry's journal round had to wait for) into none (docs/JOURNAL.md,
 * "Pipelining"). Acknowledged writes do not wait for it.
 */
export const applyWaitMs = 1;

interface QueuedRequest {
  /** Sector writes in order; undefined data = trim. Empty for a flush marker. */
  writes: [number, Uint8Array | undefined][];
  /** A transaction: must land in one entry. */
  atomic: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  /** process.hrtime.bigint() when queued, for the write latency histogram. */
  queuedAt?: bigint;
}

export interface TransactionWrite {
  sector: number;
  data: Uint8Array;
}

export class VirtualDisk {
  readonly blockBytes = sectorBytes;
  readonly sizeBytes: number;
  readonly sectors: number;
  private readonly queue: QueuedRequest[] = [];
  private committing = false;
  private closed = false;
  private readonly writer: JournalWriter;
  /** Set while the committer waits for a next write (applyWaitMs): push() ends the wait. */
  private wake: (() => void) | undefined;

  constructor(readonly state: ArrayState) {
    this.sectors = userSectors(state.geometry);
    this.sizeBytes = this.sectors * sectorBytes;
    this.writer = new JournalWriter(state);
  }

  /** True when the array trims journal payloads after apply, so no old data outlives its entry. */
  get keyErasure(): boolean {
    return this.state.membership.keyErasure;
  }

  private checkRange(first: number, count: number): void {
    if (this.closed) throw new ArrayError('E_CLOSED', 'the array is closed');
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 1 || first + count > this.sectors) {
      throw new ArrayError('E_RANGE', `sectors [${first}, ${first + count}) outside the disk's ${this.sectors} sectors`);
    }
  }

  async readSectors(first: number, count: number): Promise<Buffer> {
    this.checkRange(first, count);
    if (count * sectorBytes > readBytesMax) throw new ArrayError('E_TOO_LARGE', `read of ${count} sectors exceeds ${readBytesMax} bytes`);
    const out = Buffer.allocUnsafe(count * sectorBytes);
    const started = process.hrtime.bigint();
    this.state.lastForegroundAt = performance.now();
    // An entry whose commit round was cut short may already be committed on some nodes: until it is
    // committed everywhere, a read could see its rows old now and new later, so it waits (or fails, retryably).
    if (this.writer.inDoubt) await this.writer.ready();
    await this.state.lock.read(() => readUserSectors(this.state, first, count, out));
    this.state.readLatency.observe(since(started));
    this.state.counters.reads++;
    this.state.counters.bytesRead += out.length;
    return out;
  }

  /** Writes whole sectors from `first`; resolves once durable on the nodes. */
  writeSectors(first: number, data: Uint8Array): Promise<void> {
    if (data.length === 0 || data.length % sectorBytes !== 0) {
      return Promise.reject(new ArrayError('E_ALIGN', `write of ${data.length} bytes is not a whole number of ${sectorBytes}-byte sectors`));
    }
    const count = data.length / sectorBytes;
    const writes: [number, Uint8Array][] = [];
    for (let i = 0; i < count; i++) writes.push([first + i, data.subarray(i * sectorBytes, (i + 1) * sectorBytes)]);
    return this.enqueue(first, count, writes, false);
  }

  /** Trims sectors: afterwards they read as zeros, and their old ciphertext is overwritten. */
  trimSectors(first: number, count: number): Promise<void> {
    const writes: [number, undefined][] = [];
    for (let i = 0; i < count; i++) writes.push([first + i, undefined]);
    return this.enqueue(first, count, writes, false);
  }

  /** Makes every write in `writes` visible atomically: after any crash, all of them or none. */
  transaction(writes: TransactionWrite[]): Promise<void> {
    if (writes.length === 0) return Promise.resolve();
    for (const w of writes) {
      if (w.data.length !== sectorBytes) return Promise.reject(new ArrayError('E_ALIGN', `transaction write to sector ${w.sector} is not one sector`));
      try {
        this.checkRange(w.sector, 1);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (!new EntryBudget(this.state.geometry.k, this.state.geometry.journalPieces).fits(writes.map((w) => w.sector))) {
      return Promise.reject(new ArrayError('E_TOO_LARGE', 'transaction does not fit one journal entry'));
    }
    return this.enqueue(0, 1, writes.map((w) => [w.sector, w.data]), true);
  }

  /** Resolves when every write queued before it is durable. */
  flush(): Promise<void> {
    return this.enqueue(0, 1, [], false);
  }

  /** Byte-addressed read; any offset and length inside the disk. */
  async read(offset: number, length: number): Promise<Buffer> {
    const { first, count } = this.span(offset, length);
    const data = await this.readSectors(first, count);
    return data.subarray(offset - first * sectorBytes, offset - first * sectorBytes + length);
  }

  /**
   * Byte-addressed write. Partial sectors at the edges are read, patched and
   * rewritten inside the committer so concurrent writes cannot lose each other.
   */
  async write(offset: number, data: Uint8Array): Promise<void> {
    const { first, count } = this.span(offset, data.length);
    if (offset % sectorBytes === 0 && data.length % sectorBytes === 0) return this.writeSectors(first, data);
    return this.enqueuePatch(first, count, offset, data);
  }

  private span(offset: number, length: number): { first: number; count: number } {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 1 || offset + length > this.sizeBytes) {
      throw new ArrayError('E_RANGE', `bytes [${offset}, ${offset + length}) outside the disk's ${this.sizeBytes} bytes`);
    }
    const first = Math.floor(offset / sectorBytes);
    return { first, count: Math.ceil((offset + length) / sectorBytes) - first };
  }

  private patches = new Map<QueuedRequest, { first: number; count: number; offset: number; data: Uint8Array }>();

  private enqueuePatch(first: number, count: number, offset: number, data: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      const request: QueuedRequest = { writes: [], atomic: false, resolve, reject };
      this.patches.set(request, { first, count, offset, data });
      this.push(request);
    });
  }

  private enqueue(first: number, count: number, writes: [number, Uint8Array | undefined][], atomic: boolean): Promise<void> {
    try {
      this.checkRange(first, count);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => this.push({ writes, atomic, resolve, reject }));
  }

  private push(request: QueuedRequest): void {
    if (this.queue.length >= queueRequestsMax) {
      request.reject(new ArrayError('E_BUSY', `${queueRequestsMax} requests already queued`));
      return;
    }
    request.queuedAt = process.hrtime.bigint();
    this.state.lastForegroundAt = performance.now();
    this.queue.push(request);
    this.wake?.();
    if (!this.committing) void this.commitLoop();
  }

  /** Turns a byte patch into whole-sector writes over the current contents, including writes not yet committed. */
  private async resolvePatch(request: QueuedRequest, pending: Map<number, Uint8Array | undefined>): Promise<void> {
    const patch = this.patches.get(request);
    if (!patch) return;
    this.patches.delete(request);
    const current = await this.state.lock.read(async () => {
      const out = Buffer.allocUnsafe(patch.count * sectorBytes);
      await readUserSectors(this.state, patch.first, patch.count, out);
      return out;
    });
    for (let i = 0; i < patch.count; i++) {
      if (!pending.has(patch.first + i)) continue;
      const data = pending.get(patch.first + i);
      if (data) current.set(data, i * sectorBytes);
      else current.fill(0, i * sectorBytes, (i + 1) * sectorBytes);
    }
    current.set(patch.data, patch.offset - patch.first * sectorBytes);
    for (let i = 0; i < patch.count; i++) request.writes.push([patch.first + i, current.subarray(i * sectorBytes, (i + 1) * sectorBytes)]);
  }

  /** Takes queued requests, in order, while they fit one entry; splits a plain write too large for one. */
  private async take(): Promise<{ requests: QueuedRequest[]; writes: Map<number, Uint8Array | undefined> }> {
    const requests: QueuedRequest[] = [];
    const writes = new Map<number, Uint8Array | undefined>();
    const budget = new EntryBudget(this.state.geometry.k, this.state.geometry.journalPieces);
    while (this.queue.length > 0) {
      const next = this.queue[0];
      try {
        await this.resolvePatch(next, writes);
      } catch (err) {
        // The bytes around an unaligned write could not be read: that request fails, the others go on.
        this.queue.shift();
        next.reject(err as Error);
        continue;
      }
      const indices = next.writes.map(([i]) => i);
      if (!budget.fits(indices)) {
        if (requests.length > 0 || next.atomic) break;
        // A plain write larger than one entry: its head goes now, the rest stays queued.
        let n = 0;
        while (n < indices.length && budget.fits([indices[n]])) budget.add([indices[n++]]);
        for (const [i, d] of next.writes.splice(0, n)) writes.set(i, d);
        break;
      }
      budget.add(indices);
      this.queue.shift();
      requests.push(next);
      for (const [i, d] of next.writes) writes.set(i, d);
    }
    return { requests, writes };
  }

  /** Takes the next batch of requests and prepares its entry (undefined entry: only flushes). */
  private async prepareNext(): Promise<{ entry?: PreparedEntry; requests: QueuedRequest[] } | undefined> {
    if (this.queue.length === 0) return undefined;
    const { requests, writes } = await this.take();
    try {
      return { entry: writes.size ? await this.writer.prepare(writes) : undefined, requests };
    } catch (err) {
      for (const r of requests) r.reject(err as Error);
      if (requests.length === 0) this.queue.shift()?.reject(err as Error);
      this.writer.reset();
      return { requests: [] };
    }
  }

  private settle(requests: QueuedRequest[]): void {
    for (const r of requests) {
      if (r.writes.length > 0) {
        this.state.counters.writes++;
        this.state.counters.bytesWritten += r.writes.length * sectorBytes;
        this.state.writeLatency.observe(since(r.queuedAt!));
      }
      r.resolve();
    }
  }

  /**
   * The committer: journal and commit one entry while the next is prepared,
   * so sealing and encoding overlap both round trips. An entry's requests
   * resolve once it is committed; its apply rides in the next entry's
   * journal round, or runs alone when nothing is queued.
   */
  private async commitLoop(): Promise<void> {
    this.committing = true;
    const fail = (err: Error, ...lists: QueuedRequest[][]) => {
      for (const list of lists) for (const r of list) r.reject(err);
      this.writer.reset();
    };
    try {
      let current = await this.prepareNext();
      while (current || this.writer.hasPending) {
        if (!current && (await this.nextRequestWithin(applyWaitMs))) {
          current = await this.prepareNext();
          continue;
        }
        if (!current?.entry) {
          const err = await this.writer.applyPending().then(() => undefined, (e: Error) => e);
          if (err) {
            // The entry stays pending: the next write's journal round carries its apply. Retrying here would spin.
            fail(err, current?.requests ?? []);
            break;
          }
          if (current) this.settle(current.requests);
          current = await this.prepareNext();
          continue;
        }
        const { entry, requests } = current;
        const landed = this.writer
          .journal(entry)
          .then(() => this.writer.commit(entry))
          .then(
            () => undefined,
            (err: Error) => err,
          );
        const next = await this.prepareNext();
        const err = await landed;
        if (err) {
          // The next entry was prepared on top of this one: it cannot stand alone.
          fail(err, requests, next?.requests ?? []);
          current = undefined;
          continue;
        }
        this.settle(requests);
        current = next;
      }
    } finally {
      this.committing = false;
    }
    if (this.queue.length > 0) void this.commitLoop();
  }

  /** True once a request is queued, false if none came within `ms` (on the health policy's clock, virtual in the simulator). */
  private nextRequestWithin(ms: number): Promise<boolean> {
    if (this.queue.length > 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        this.wake = undefined;
        resolve(true);
      };
      this.wake = wake;
      // Only this wait's own timer may end it: the timer of an earlier wait, which a request ended before
      // the next wait began, must not take the new wait's wake away (a request would then go unnoticed).
      void this.state.clock.sleep(ms).then(() => {
        if (this.wake !== wake) return;
        this.wake = undefined;
        resolve(false);
      });
    });
  }

  async close(): Promise<void> {
    await this.flush().catch(() => {});
    this.closed = true;
    await releaseArray(this.state);
  }
}
