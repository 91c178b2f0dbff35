// The ship of Theseus: a k=4 m=2 array of real disk-node processes loses its
// nodes one after another (SIGKILL), each replaced by a fresh node process
// that the healer rebuilds while a writer keeps going, until no original node
// is left; and that three times over (3 x 6 replacements). Replacements
// alternate between the operator's replace() and a hot spare the healer takes
// by itself. The writer runs throughout: random writes and multi-sector
// transactions on disjoint regions, a model of what was acknowledged, and
// read-backs checked against it. After each generation everything
// acknowledged reads back from the nodes (caches dropped); at the end m more
// nodes are killed and everything still reads back. Every slot death must
// follow a real kill of that slot's process.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Healer } from '../../array-manager/healing/healer.ts';
import type { ArrayEvent } from '../../array-manager/array-state.ts';
import { SlotState } from '../../array-manager/membership.ts';
import type { VirtualDisk } from '../../array-manager/virtual-disk.ts';
import { notBuilt } from '../cli/cli-process.ts';
import { prng } from '../sim/prng.ts';
import { startFleet, until, type NodeProcess } from '../e2e/node-fleet.ts';

const S = 4096;
const k = 4;
const m = 2;
const n = k + m;
const generations = 3;
const nodeMib = 3;
/** Short, so each lost node costs the test little; long enough that a busy but alive node is not declared lost. */
const deathWindowMs = 600;
const writers = 4;
/** Sectors each writer owns (disjoint regions, so the model is exact with writers running concurrently). */
const regionSectors = 448;
const seed = Number(process.env.THESEUS_SEED ?? 0x7e5e05);

/** Retryable refusals a write may meet while a slot dies or a membership update is under way. */
const retryable = new Set(['E_UNAVAILABLE']);

interface Writer {
  /** Acknowledged content of the writers' regions. */
  model: Buffer;
  ops: { writes: number; transactions: number; reads: number; retries: number };
  /** Read-backs that disagreed with the model (never expected). */
  mismatches: string[];
  /** Errors that were not retryable (never expected). */
  errors: string[];
  /** Stops issuing operations and resolves once every operation in flight is acknowledged. */
  pause(): Promise<void>;
  resume(): void;
  stop(): Promise<void>;
}

function startWriter(disk: VirtualDisk, random: () => number): Writer {
  const model = Buffer.alloc(writers * regionSectors * S);
  const ops = { writes: 0, transactions: 0, reads: 0, retries: 0 };
  const mismatches: string[] = [];
  const errors: string[] = [];
  let paused = false;
  let stopped = false;
  let gate: Promise<void> = Promise.resolve();
  let openGate = () => {};
  const idle = new Set<number>();
  let alive = writers;
  let idleWaiters: (() => void)[] = [];
  const int = (max: number) => Math.floor(random() * max);

  /** Runs `op` until it is acknowledged; retryable refusals are retried (the same write again is idempotent). */
  const acked = async (what: string, op: () => Promise<void>) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (!retryable.has(code) || attempt > 50) {
          errors.push(`${what}: ${code} ${(err as Error).message}`);
          throw err;
        }
        ops.retries++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };

  const worker = async (w: number) => {
    const base = w * regionSectors;
    while (!stopped) {
      if (paused) {
        idle.add(w);
        idleWaiters.forEach((f) => f());
        await gate;
        idle.delete(w);
        continue;
      }
      const choice = random();
      if (choice < 0.55) {
        const count = 1 + int(24);
        const at = base + int(regionSectors - count);
        const data = randomBytes(count * S);
        await acked(`write ${at}+${count}`, () => disk.writeSectors(at, data));
        data.copy(model, at * S);
        ops.writes++;
      } else if (choice < 0.8) {
        // A transaction (one sector per write) of 2-8 sectors spread over the writer's region, so over several rows.
        const pieces = 2 + int(7);
        const span = Math.floor(regionSectors / pieces);
        const writes = Array.from({ length: pieces }, (_, i) => ({ sector: base + i * span + int(span), data: randomBytes(S) }));
        await acked(`transaction of ${pieces}`, () => disk.transaction(writes));
        for (const wr of writes) Buffer.from(wr.data).copy(model, wr.sector * S);
        ops.transactions++;
      } else {
        const count = 1 + int(32);
        const at = base + int(regionSectors - count);
        let got: Buffer | undefined;
        await acked(`read ${at}+${count}`, async () => void (got = await disk.readSectors(at, count)));
        if (!got!.equals(model.subarray(at * S, (at + count) * S))) mismatches.push(`read ${at}+${count} differs from what was acknowledged`);
        ops.reads++;
      }
    }
  };
  const running = Array.from({ length: writers }, (_, w) =>
    worker(w)
      .catch((err) => {
        errors.push(`writer ${w} stopped: ${(err as Error).message}`);
      })
      .finally(() => {
        alive--;
        idleWaiters.forEach((f) => f());
      }),
  );
  return {
    model,
    ops,
    mismatches,
    errors,
    async pause() {
      paused = true;
      gate = new Promise((r) => (openGate = r));
      await new Promise<void>((resolve) => {
        const check = () => {
          if (idle.size >= alive || stopped) resolve();
        };
        idleWaiters.push(check);
        check();
      });
      idleWaiters = [];
    },
    resume() {
      paused = false;
      openGate();
    },
    async stop() {
      stopped = true;
      paused = false;
      openGate();
      await Promise.all(running);
    },
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Reads the writers' regions from the nodes, not the manager's caches, and compares them with the model. */
async function verify(disk: VirtualDisk, model: Buffer): Promise<boolean> {
  disk.state.rows.clear();
  disk.state.tables.clear();
  const sectors = model.length / S;
  for (let at = 0; at < sectors; at += 256) {
    const count = Math.min(256, sectors - at);
    const got = await disk.readSectors(at, count);
    if (!got.equals(model.subarray(at * S, (at + count) * S))) return false;
  }
  return true;
}

t.test('every node replaced three times over under a writer; then m more lost', { skip: notBuilt, timeout: 240_000 }, async (t) => {
  const started = Date.now();
  const fleet = await startFleet({ k, m, nodeMib, health: { deathWindowMs }, spares: 1 });
  // Each replacement's process starts while the slot before it waits out its death window (writes wait then, so the
  // CPU is free): starting all 18 up front costs 13 s, starting them during rebuilds slows the rebuilds.
  let nextSpare = Promise.resolve(fleet.spares[0]);
  t.teardown(() => fleet.stop());
  const { disk } = fleet;
  t.ok(disk.sectors >= writers * regionSectors, `the disk (${disk.sectors} sectors) holds the writers' regions`);
  const originals = new Set(fleet.slots.map((s) => s.pid));

  // Which slots were killed and not yet replaced: a death anywhere else is a false one.
  const killed = new Set<number>();
  let diedAt = 0;
  let replacedAt = 0;
  const falseDeaths: string[] = [];
  const replaced: number[] = [];
  const rebuilt: number[] = [];
  const listener = (e: ArrayEvent) => {
    // THESEUS_DEBUG=1 prints every array event with its time since the start.
    if (process.env.THESEUS_DEBUG) console.error(`${Date.now() - started} ms`, JSON.stringify(e));
    if (e.kind === 'slot-dead' && !killed.has(e.slot!)) falseDeaths.push(`slot ${e.slot}: ${e.reason}`);
    if (e.kind === 'slot-dead') diedAt = Date.now();
    if (e.kind === 'slot-replaced') (replaced.push(e.slot!), (replacedAt = Date.now()));
    if (e.kind === 'rebuild-done') rebuilt.push(e.slot!);
  };
  disk.state.listeners.add(listener);

  const healer = new Healer(disk, {
    rebuild: { stripesPerBatch: 128, checkpointMs: 200 },
    // Fast enough that a rebuild under the writer's load takes a second or two.
    rate: { minBytesPerSecond: 32 << 20, maxBytesPerSecond: 0 },
    retryMs: 100,
    // Spares start after kills here, on ports the OS picks: one could get a killed node's port, and the healer
    // would offer it to that node's slot as the node restarted (a different test's scenario).
    reuseRestarted: false,
  });
  healer.start();
  t.teardown(() => healer.stop());

  const random = prng(seed);
  const writer = startWriter(disk, random);
  t.teardown(() => writer.stop());

  let replacements = 0;
  for (let gen = 0; gen < generations; gen++) {
    const order = shuffle([...Array(n).keys()], random);
    const genStarted = Date.now();
    for (const [i, slot] of order.entries()) {
      const spare: NodeProcess = await nextSpare;
      const hot = (gen + i) % 2 === 1;
      const before = { replaced: replaced.length, rebuilt: rebuilt.filter((s) => s === slot).length };
      if (hot) healer.spares.push(spare.endpoint);
      killed.add(slot);
      const killedAt = Date.now();
      fleet.kill(slot);
      if (replacements + 1 < generations * n) nextSpare = fleet.spawn(1).then(([p]) => p);
      if (!hot) {
        // The operator replaces the slot once the array has declared it dead.
        await until(() => disk.state.membership.slots[slot].state === SlotState.dead, `slot ${slot} to be declared dead`, 30_000);
        await healer.replace({ slot, endpoint: spare.endpoint });
      }
      await until(() => replaced.length > before.replaced && rebuilt.filter((s) => s === slot).length > before.rebuilt, `slot ${slot} to be replaced and rebuilt (gen ${gen}, ${hot ? 'hot spare' : 'replace'})`, 60_000);
      t.ok(disk.state.isLive(slot), `gen ${gen}: slot ${slot} replaced (${hot ? 'hot spare' : 'replace()'}) and rebuilt ${Date.now() - killedAt} ms after the kill (dead +${diedAt - killedAt}, replaced +${replacedAt - killedAt})`);
      killed.delete(slot);
      fleet.slots[slot] = spare;
      replacements++;
    }
    t.same(disk.state.liveSlots(), [...Array(n).keys()], `gen ${gen}: every slot live`);
    t.notOk(fleet.slots.some((s) => originals.has(s.pid)), `gen ${gen}: no node of the generation before is left`);
    originals.clear();
    fleet.slots.forEach((s) => originals.add(s.pid));
    await writer.pause();
    await disk.flush();
    t.ok(await verify(disk, writer.model), `gen ${gen}: everything acknowledged reads back from the nodes (${Date.now() - genStarted} ms for ${n} replacements)`);
    writer.resume();
  }
  await writer.stop();
  await healer.stop();
  t.same(writer.errors, [], 'the writer met no error it could not retry');
  t.same(writer.mismatches, [], 'every read-back during the run matched what was acknowledged');
  t.ok(writer.ops.writes > 50 && writer.ops.transactions > 20, `the writer ran throughout: ${JSON.stringify(writer.ops)}`);
  t.equal(replacements, generations * n, `${generations * n} replacements`);
  t.equal(replaced.length, generations * n, 'each a slot-replaced event');
  t.same(falseDeaths, [], 'no slot died without a real kill');
  t.equal(disk.state.counters.nodeFailures, generations * n, 'exactly one death per kill');
  t.ok(await verify(disk, writer.model), 'after three generations everything reads back');

  // Then m more nodes are lost: everything still reads back.
  for (let slot = 0; slot < m; slot++) {
    killed.add(slot);
    fleet.kill(slot);
  }
  t.ok(await verify(disk, writer.model), `with ${m} of the last generation's nodes killed, everything still reads back`);
  t.same(falseDeaths, [], 'still no false death');
  disk.state.listeners.delete(listener);
  t.comment(`ship of theseus: ${Date.now() - started} ms, writer ${JSON.stringify(writer.ops)}, launcher warnings ${fleet.warnings.length}`);
});
