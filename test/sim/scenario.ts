// What a simulated scenario is made of, and the fast-check arbitrary that
// generates (and shrinks) scenarios. Ops in one group run concurrently; fault
// ops arm triggers that fire while that group's I/O is under way, counted in
// frames delivered to nodes, so a crash or a node loss can land between any
// two frames of any operation, recovery included. A partition heals after a
// time on the cluster's virtual clock, shorter or longer than the death
// window. A negative count means "at the n-th manager crash from now"
// instead (n = -count): a node loss or a partition that comes with a manager
// restart, as when the next manager runs on a host that sees another part of
// the network.
import fc from 'fast-check';
import { healthDefaults } from '../../array-manager/node-handle.ts';

export type SimOp =
  | { kind: 'write'; sector: number; count: number; seed: number }
  | { kind: 'trim'; sector: number; count: number }
  | { kind: 'txn'; sectors: number[]; seed: number }
  | { kind: 'read'; sector: number; count: number }
  /** Resolves once every write started before it is durable and its entry applied: a crash armed in the group can land on the apply. */
  | { kind: 'flush' }
  | { kind: 'crash'; afterFrames: number; duringRecovery: number }
  | { kind: 'kill'; slot: number; afterFrames: number; restart: boolean }
  /**
   * The node is unreachable from `afterFrames` on, keeps its memory, and answers again as the same
   * instance once the cluster's virtual clock has moved on by `healAfterMs` (negative: at the n-th
   * crash after it began). Only a partition that lasts the death window may cost the slot.
   */
  | { kind: 'partition'; slot: number; afterFrames: number; healAfterMs: number }
  /** The `nth` frame sent to the slot in this group is held back (the manager sees a reset) and reaches the node on its old session `releaseAfterFrames` frames later. */
  | { kind: 'withhold'; slot: number; nth: number; releaseAfterFrames: number }
  | { kind: 'corrupt'; slot: number; row: number; byte: number }
  | { kind: 'network'; perMille: number }
  /**
   * A new node for a slot (healing/replace.ts): the first dead slot from `slot` on, else a member
   * whose node is lost (forced out), else `slot` itself, forced out only with `force` and while the
   * faults stay below m. `spare` is the node offered: a fresh spare, or one that must be refused
   * (too small, holding another array's membership, a member of this array, nothing at the endpoint).
   */
  | { kind: 'replace'; slot: number; force: boolean; spare: SpareKind }
  /** Up to `batches` rebuild batches (Rebuilder.step) of `stripesPerBatch` stripes, the cursor persisted every `checkpointEvery`-th batch (0: only when a slot finishes). */
  | { kind: 'rebuild'; batches: number; stripesPerBatch: number; checkpointEvery: number }
  /** `steps` scrub batches (0: to the end of the pass), starting a pass if none runs. */
  | { kind: 'scrub'; steps: number; stripesPerBatch: number };

export type SpareKind = 'fresh' | 'small' | 'foreign' | 'member' | 'missing';

export interface Scenario {
  k: number;
  m: number;
  journalPieces: number;
  keyErasure: boolean;
  groups: SimOp[][];
  /** The managers' row and table caches (array-state.ts, CacheLimits); absent, the defaults, which hold every row a scenario touches. Small, rows are read from the nodes, as in an array larger than its caches. */
  caches?: { rowsMax: number; tablesMax: number };
  /** Seeded out-of-order delivery with per-slot delays (delivery-scheduler.ts); absent, frames arrive in the order sent. */
  delivery?: { seed: number; jitter: number; slotDelays: number[] };
}

/** Fault ops arm triggers; the others are I/O. */
export const faultKinds: ReadonlySet<SimOp['kind']> = new Set(['crash', 'kill', 'corrupt', 'network', 'partition', 'withhold']);

/** Healing ops run next to the group's I/O, through the manager's healing code. */
export const healingKinds: ReadonlySet<SimOp['kind']> = new Set(['replace', 'rebuild', 'scrub']);

/** Sectors the ops address: small, so ops collide on rows, tables and sectors. */
export const sectorSpan = 160;

const shapes: [number, number][] = [
  [2, 1],
  [3, 1],
  [3, 2],
  [4, 2],
  [5, 3],
];

/** Mostly a frame count; sometimes "at the next manager crash" or the one after (-1, -2). */
function framesOrCrash(max: number): fc.Arbitrary<number> {
  return fc.oneof({ weight: 4, arbitrary: fc.nat(max) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: -1 }) });
}

/**
 * How long a partition lasts in virtual time: mostly shorter than the death
 * window (a network fault the array must ride out), often as long or longer
 * (a real loss), sometimes until the next manager crash or the one after.
 */
const partitionLength: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: healthDefaults.deathWindowMs - 1 }) },
  { weight: 2, arbitrary: fc.integer({ min: healthDefaults.deathWindowMs, max: 4 * healthDefaults.deathWindowMs }) },
  { weight: 1, arbitrary: fc.integer({ min: -2, max: -1 }) },
);

/** Two runs in three get a seeded out-of-order delivery, some with a slow slot or two. */
const delivery = fc.option(
  fc.record({
    seed: fc.nat(),
    jitter: fc.integer({ min: 0, max: 3 }),
    slotDelays: fc.array(fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 6 }) }), { minLength: 8, maxLength: 8 }),
  }),
  { freq: 3, nil: undefined },
);

const op: fc.Arbitrary<SimOp> = fc.oneof(
  { weight: 24, arbitrary: fc.record({ kind: fc.constant('write' as const), sector: fc.nat(sectorSpan - 1), count: fc.integer({ min: 1, max: 12 }), seed: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('trim' as const), sector: fc.nat(sectorSpan - 1), count: fc.integer({ min: 1, max: 6 }) }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('txn' as const),
      sectors: fc.uniqueArray(fc.nat(sectorSpan - 1), { minLength: 2, maxLength: 5 }),
      seed: fc.nat(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), sector: fc.nat(sectorSpan - 1), count: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'flush' as const }) },
  {
    weight: 20,
    arbitrary: fc.record({ kind: fc.constant('crash' as const), afterFrames: fc.nat(30), duringRecovery: fc.oneof(fc.constant(-1), fc.nat(40)) }),
  },
  {
    weight: 16,
    arbitrary: fc.record({ kind: fc.constant('kill' as const), slot: fc.nat(7), afterFrames: framesOrCrash(40), restart: fc.boolean() }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('partition' as const),
      slot: fc.nat(7),
      afterFrames: framesOrCrash(30),
      healAfterMs: partitionLength,
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({ kind: fc.constant('withhold' as const), slot: fc.nat(7), nth: fc.nat(8), releaseAfterFrames: fc.nat(40) }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('corrupt' as const), slot: fc.nat(7), row: fc.nat(60), byte: fc.nat(4095) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('network' as const), perMille: fc.integer({ min: 0, max: 30 }) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('replace' as const),
      slot: fc.nat(7),
      force: fc.boolean(),
      spare: fc.oneof(
        { weight: 5, arbitrary: fc.constant('fresh' as const) },
        { weight: 1, arbitrary: fc.constantFrom('small' as const, 'foreign' as const, 'member' as const, 'missing' as const) },
      ),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('rebuild' as const),
      batches: fc.integer({ min: 1, max: 6 }),
      stripesPerBatch: fc.oneof({ weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 2, arbitrary: fc.integer({ min: 5, max: 40 }) }),
      checkpointEvery: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    // Until no slot is rebuilding, in batches large enough to keep that to a few.
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('rebuild' as const),
      batches: fc.constant(1000),
      stripesPerBatch: fc.integer({ min: 13, max: 40 }),
      checkpointEvery: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    // A scrub pass costs as much as the rest of a scenario: rarer than a rebuild, to keep the CI runs' time.
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('scrub' as const),
      steps: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 })),
      stripesPerBatch: fc.integer({ min: 16, max: 64 }),
    }),
  },
);

export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    shape: fc.constantFrom(...shapes),
    journalPieces: fc.integer({ min: 8, max: 24 }),
    keyErasure: fc.boolean(),
    groups: fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 16 }),
    delivery,
  })
  .map(({ shape, journalPieces, keyErasure, groups, delivery }) => ({ k: shape[0], m: shape[1], journalPieces, keyErasure, groups, ...(delivery && { delivery }) }));
