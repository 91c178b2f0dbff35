// The exhaustive sweep of small shapes: for one operation on an array whose
// first two rows hold data, every frame at which the manager can crash
// (the apply included) x every frame at which the recovery can crash (or
// none) x every victim slot x every moment of its death (at the crash,
// before recovery; at each frame of the recovery; between the crashed
// recovery and the next), then degraded re-reads with one further slot lost
// at a time, up to m lost in all. Each point is a plain Scenario, so the
// runner and the model check it like any other, and a failing point replays
// from its coordinates (printed with it).
//
// How many frames an operation and its recovery take is not written down
// here but measured by probe runs (deterministic for a shape, operation and
// crash frame), so the sweep follows the code as it changes.
import { ScenarioRun, emptyStats } from './runner.ts';
import type { Scenario, SimOp } from './scenario.ts';

export const exhaustiveShapes: readonly (readonly [number, number])[] = [
  [2, 1],
  [3, 2],
  [2, 3],
];

export const exhaustiveOps = ['write-sector', 'write-two-rows', 'trim-row', 'txn-two-rows'] as const;
export type ExhaustiveOp = (typeof exhaustiveOps)[number];

/** Death at the manager crash (before recovery), or between the crashed recovery and the next. */
export const atCrash = -1;
export const betweenRecoveries = -2;

export interface Point {
  k: number;
  m: number;
  op: ExhaustiveOp;
  /** Frames of the operation delivered before the manager crashes. */
  crashFrame: number;
  /** Frames of the recovery delivered before it crashes too; -1: it does not. */
  recoveryCrashFrame: number;
  victim: number;
  /** `atCrash`, `betweenRecoveries`, or the frame of the (first) recovery before which the victim dies. */
  death: number;
}

/** The operation under test; data row r holds sectors r*k .. r*k+k-1. */
function operation(op: ExhaustiveOp, k: number): SimOp {
  if (op === 'write-sector') return { kind: 'write', sector: 0, count: 1, seed: 2 };
  if (op === 'write-two-rows') return { kind: 'write', sector: k - 1, count: 2, seed: 2 };
  if (op === 'trim-row') return { kind: 'trim', sector: 0, count: k };
  // A key and its epoch: one sector in each of the first two rows, changed together.
  return { kind: 'txn', sectors: [0, k], seed: 2 };
}

/** A write far from the rows under test whose first frame the crash that ends each degraded step lands on. */
const nudge: SimOp = { kind: 'write', sector: 150, count: 1, seed: 3 };

export function pointScenario(p: Point): Scenario {
  const n = p.k + p.m;
  const deathFrames = p.death >= 0 ? p.crashFrame + p.death : p.death === atCrash ? -1 : -2;
  const groups: SimOp[][] = [
    [{ kind: 'write', sector: 0, count: 2 * p.k, seed: 1 }],
    [
      operation(p.op, p.k),
      // The flush keeps the group open until the entry is applied, so the crash can land on the apply.
      { kind: 'flush' },
      { kind: 'crash', afterFrames: p.crashFrame, duringRecovery: p.recoveryCrashFrame },
      { kind: 'kill', slot: p.victim, afterFrames: deathFrames, restart: false },
    ],
  ];
  // Degraded re-reads: a fresh manager (nothing cached) with one more slot lost each time.
  for (let further = 1; further < p.m; further++) {
    groups.push([
      { kind: 'kill', slot: (p.victim + further) % n, afterFrames: atCrash, restart: false },
      { kind: 'crash', afterFrames: 0, duringRecovery: -1 },
      nudge,
    ]);
  }
  return { k: p.k, m: p.m, journalPieces: 8, keyErasure: false, groups };
}

/** Frames the operation takes (apply included), and the recovery after a crash at each of them. */
async function probe(k: number, m: number, op: ExhaustiveOp): Promise<{ recoveryFrames: number[] }> {
  const frames = async (crashFrame: number) => {
    const sc = pointScenario({ k, m, op, crashFrame, recoveryCrashFrame: -1, victim: 0, death: 0 });
    sc.groups[1] = sc.groups[1].filter((o) => o.kind !== 'kill');
    sc.groups.length = 2;
    const run = new ScenarioRun(sc, emptyStats());
    await run.run();
    if (run.violations.length) return { io: -1, recovery: 0 };
    return { io: run.frames.io[1], recovery: run.frames.recoveries[0] ?? 0 };
  };
  const whole = await frames(1e9);
  const recoveryFrames: number[] = [];
  for (let c = 0; c < whole.io; c++) recoveryFrames.push((await frames(c)).recovery);
  return { recoveryFrames };
}

/** The death moments of one (crash, recovery crash): at the crash, at each recovery frame before it ends or crashes, and between recoveries. */
function deaths(recoveryFrames: number, recoveryCrashFrame: number): number[] {
  const frames = recoveryCrashFrame >= 0 ? recoveryCrashFrame : recoveryFrames;
  const out = [atCrash, ...Array.from({ length: frames }, (_, j) => j)];
  if (recoveryCrashFrame >= 0) out.push(betweenRecoveries);
  return out;
}

/** Every point of one shape, in a fixed order; `index` numbers them from 0 within the shape. */
export async function* shapePoints(k: number, m: number): AsyncGenerator<{ index: number; point: Point }> {
  let index = 0;
  for (const op of exhaustiveOps) {
    const { recoveryFrames } = await probe(k, m, op);
    for (let crashFrame = 0; crashFrame < recoveryFrames.length; crashFrame++) {
      const r = recoveryFrames[crashFrame];
      for (let recoveryCrashFrame = -1; recoveryCrashFrame < r; recoveryCrashFrame++) {
        for (let victim = 0; victim < k + m; victim++) {
          for (const death of deaths(r, recoveryCrashFrame)) yield { index: index++, point: { k, m, op, crashFrame, recoveryCrashFrame, victim, death } };
        }
      }
    }
  }
}

export function describePoint(p: Point): string {
  return `k=${p.k} m=${p.m} op=${p.op} crashFrame=${p.crashFrame} recoveryCrashFrame=${p.recoveryCrashFrame} victim=${p.victim} death=${p.death}`;
}

export interface SweepResult {
  points: number;
  failures: { index: number; point: Point; violations: string[] }[];
}

/**
 * Runs the points of one shape whose index is `offset` modulo `stride` (a
 * bounded, evenly spread part of the sweep), stopping early when `until`
 * says so. Every failure is kept with its coordinates.
 */
export async function sweepShape(k: number, m: number, opts: { stride: number; offset: number; until?: () => boolean }): Promise<SweepResult> {
  const result: SweepResult = { points: 0, failures: [] };
  for await (const { index, point } of shapePoints(k, m)) {
    if (index % opts.stride !== opts.offset) continue;
    if (opts.until?.()) break;
    result.points++;
    const run = new ScenarioRun(pointScenario(point), emptyStats());
    await run.run();
    if (run.violations.length) result.failures.push({ index, point, violations: run.violations });
  }
  return result;
}
