// What `GET /status` and `teearray array status` report about an open array:
// geometry, each slot's state, pinned node identity, whether its node is in
// doubt and why a dead slot died, journal version, whether the array is
// optimal, degraded, rebuilding or failed, the rebuild's and the scrub's
// progress, the spares, its counters and its latest events.
import type { ArrayEvent } from '../array-state.ts';
import type { VirtualDisk } from '../virtual-disk.ts';
import { SlotState, deadCount } from '../membership.ts';
import { sectorBytes, slots, stripes, userSectors } from '../geometry.ts';
import type { Adoption, Membership, SlotStateValue } from '../membership.ts';
import type { HealerStatus } from '../healing/healer.ts';
import type { ScrubResult } from '../healing/scrub.ts';
import type { RateLimit } from '../healing/throttle.ts';

export type SlotStateName = 'live' | 'dead' | 'rebuilding';
/** optimal: every slot live; degraded: a slot dead (1..m); rebuilding: none dead, some being rebuilt; failed: more than m dead. */
export type ArrayStateName = 'optimal' | 'degraded' | 'rebuilding' | 'failed';

export interface RebuildStatus {
  /** True while some slot is rebuilding. */
  active: boolean;
  /** Stripes rebuilt, summed over the rebuilding slots, and their total. */
  doneRows: number;
  totalRows: number;
  /** Shard bytes written to rebuilding nodes per second, over the last batches. */
  bytesPerSecond: number;
  secondsLeft?: number;
  slots: { slot: number; cursor: number; persisted: number }[];
  /** The limits in force (POST /rate changes them) and the one that applies now (0 = unlimited). */
  rate: RateLimit;
  currentLimitBytesPerSecond: number;
  /** Shard bytes written to rebuilding nodes since this manager started. */
  bytesRebuilt: number;
  /** Why the last batch failed, until one succeeds. */
  error?: string;
}

export interface ScrubStatus {
  running: boolean;
  startedAt?: string;
  finishedAt?: string;
  rowsChecked: number;
  totalRows: number;
  bytesPerSecond: number;
  /** Shards written back because their node held them wrongly, by slot, and their sum. */
  repairedBySlot: Record<string, number>;
  repaired: number;
  /** Stripes that could not be rebuilt, and (at most 1024 of) the user sectors they hold. */
  unrecoverableRows: number;
  unrecoverable: ScrubResult['unrecoverable'];
  /** When the next scheduled scrub starts (scrub.intervalHours), if one is scheduled. */
  nextAt?: string;
  error?: string;
  /** True when this is a pass an earlier run of the manager finished (read from its checkpoint). */
  previousRun?: boolean;
}

export interface SparesStatus {
  /** Endpoints of spares not used yet, in the order they will be taken. */
  available: string[];
  /** Spares refused when they were tried (not attested, too small, in use), with why. */
  rejected: { endpoint: string; reason: string }[];
  /** Spares still listed that could not be reached the last time they were tried, with why (retried later). */
  unreachable: { endpoint: string; reason: string }[];
  autoReplace: boolean;
}

/** The healer's view, as the serving manager passes it to arrayStatus. */
export interface HealingView {
  status: HealerStatus;
  autoReplace: boolean;
  /** A scrub a previous run of the manager finished, shown until this one scrubs. */
  lastScrub?: ScrubResult & { unrecoverableRows?: number };
}

export interface ArrayStatus {
  arrayId: string;
  geometry: { k: number; m: number; n: number; nodeSectors: number; journalPieces: number; dataRows: number; tableRows: number };
  sizeBytes: number;
  keyErasure: boolean;
  membershipVersion: string;
  journalVersion: string;
  health: 'ok' | 'degraded' | 'unavailable' | 'failed';
  state: ArrayStateName;
  deadSlots: number;
  rebuildingSlots: number;
  slots: {
    slot: number;
    state: SlotStateName;
    instanceId: string;
    endpoint?: string;
    /** Live but its node did not answer the last attempts: reconnecting, not (yet) dead. */
    inDoubt: boolean;
    sessionFailures: number;
    /** Why and when this manager marked the slot dead (absent for slots dead before it opened the array). */
    deadReason?: string;
    deadAt?: string;
    /** Rebuilding slots: stripes current on the new node, of `stripes`. */
    cursor?: number;
    stripes?: number;
    /** Shards rewritten on this slot's node because it held them wrongly (reads and scrubs), since the manager started. */
    repaired: number;
  }[];
  rebuild?: RebuildStatus;
  scrub?: ScrubStatus;
  spares?: SparesStatus;
  /** Slots whose nodes have been unreachable for their whole death window. */
  unreachableSlots: number[];
  counters: Record<string, number>;
  /** The latest events, oldest first. */
  events: ArrayEvent[];
}

/** What a membership record says, for either report; `unreachable` counts live slots whose nodes are past their death window. */
function membershipFields(m: Membership, unreachable: number) {
  const dead = deadCount(m);
  const g = m.geometry;
  return {
    arrayId: m.arrayId.toString('hex'),
    geometry: { ...g, n: slots(g) },
    sizeBytes: userSectors(g) * sectorBytes,
    keyErasure: m.keyErasure,
    membershipVersion: m.version.toString(),
    health: (dead > g.m ? 'failed' : dead + unreachable > g.m ? 'unavailable' : dead === 0 ? 'ok' : 'degraded') as ArrayStatus['health'],
    state: arrayStateName(m),
    deadSlots: dead,
    rebuildingSlots: m.slots.filter((s) => s.state === SlotState.rebuilding).length,
  };
}

export function arrayStateName(m: Membership): ArrayStateName {
  const dead = deadCount(m);
  if (dead > m.geometry.m) return 'failed';
  if (dead > 0) return 'degraded';
  return m.slots.some((s) => s.state === SlotState.rebuilding) ? 'rebuilding' : 'optimal';
}

export function slotStateName(state: SlotStateValue): SlotStateName {
  return state === SlotState.live ? 'live' : state === SlotState.rebuilding ? 'rebuilding' : 'dead';
}

function slotFields(m: Membership, i: number, endpoints?: string[]) {
  const slot = m.slots[i];
  return {
    slot: i,
    state: slotStateName(slot.state),
    instanceId: slot.instanceId.toString('hex'),
    ...(endpoints?.[i] !== undefined ? { endpoint: endpoints[i] } : {}),
  };
}

function rebuildStatus(view: HealingView): RebuildStatus {
  const r = view.status.rebuild;
  return {
    active: r.slots.length > 0,
    doneRows: r.doneRows,
    totalRows: r.totalRows,
    bytesPerSecond: Math.round(r.bytesPerSecond),
    ...(r.secondsLeft !== undefined && { secondsLeft: Math.ceil(r.secondsLeft) }),
    slots: r.slots,
    rate: r.rate,
    currentLimitBytesPerSecond: r.currentLimit,
    bytesRebuilt: view.status.counters.rebuildBytes,
    ...(r.error !== undefined && { error: r.error }),
  };
}

function scrubStatus(view: HealingView, totalRows: number): ScrubStatus {
  const s = view.status.scrub;
  const current = 'startedAt' in s && s.startedAt !== undefined ? s : undefined;
  const result = current ?? view.lastScrub;
  const repairedBySlot = { ...(result?.repairedBySlot ?? {}) };
  return {
    running: s.running,
    ...(result?.startedAt !== undefined && { startedAt: result.startedAt }),
    ...(result?.finishedAt !== undefined && { finishedAt: result.finishedAt }),
    rowsChecked: result?.rowsChecked ?? 0,
    totalRows: result?.totalRows ?? totalRows,
    bytesPerSecond: 'bytesPerSecond' in s ? Math.round(s.bytesPerSecond) : 0,
    repairedBySlot,
    repaired: Object.values(repairedBySlot).reduce((a, b) => a + b, 0),
    unrecoverableRows: current ? current.unrecoverableRows : (view.lastScrub?.unrecoverableRows ?? view.lastScrub?.unrecoverable.length ?? 0),
    unrecoverable: result?.unrecoverable ?? [],
    ...('nextAt' in s && s.nextAt !== undefined && { nextAt: s.nextAt }),
    ...('error' in s && s.error !== undefined && { error: s.error }),
    ...(!current && view.lastScrub && { previousRun: true }),
  };
}

/**
 * The status of an open array. Endpoints come from the connector when it
 * knows them (a replacement changes a slot's), else from `endpoints`; the
 * rebuild, scrub and spares sections only when a healer runs.
 */
export function arrayStatus(disk: VirtualDisk, endpoints?: string[], healing?: HealingView): ArrayStatus {
  const s = disk.state;
  const m = s.membership;
  const total = stripes(m.geometry);
  const current = m.slots.map((_, i) => s.handles[i].connector.endpointOf?.(i) ?? endpoints?.[i]);
  return {
    ...membershipFields(m, s.unreachableSlots().length),
    journalVersion: s.journalVersion.toString(),
    slots: m.slots.map((slot, i) => ({
      ...slotFields(m, i, current.some((e) => e !== undefined) ? (current as string[]) : undefined),
      inDoubt: slot.state !== SlotState.dead && s.handles[i].inDoubt,
      sessionFailures: s.handles[i].sessionFailures,
      ...(s.deaths.has(i) ? { deadReason: s.deaths.get(i)!.reason, deadAt: s.deaths.get(i)!.at } : {}),
      ...(slot.state === SlotState.rebuilding ? { cursor: s.rebuildCursor(i), stripes: total } : {}),
      repaired: s.repairsBySlot.get(i) ?? 0,
    })),
    unreachableSlots: s.unreachableSlots(),
    counters: { ...s.counters },
    events: [...s.events],
    ...(healing && {
      rebuild: rebuildStatus(healing),
      scrub: scrubStatus(healing, total),
      spares: { available: healing.status.spares, rejected: healing.status.rejectedSpares, unreachable: healing.status.unreachableSpares, autoReplace: healing.autoReplace },
    }),
  };
}

/** What `teearray array open` reports: the membership a manager would adopt now, and which live slots answer. */
export interface InspectionStatus extends Pick<ArrayStatus, 'arrayId' | 'geometry' | 'sizeBytes' | 'keyErasure' | 'membershipVersion' | 'health' | 'state' | 'deadSlots' | 'rebuildingSlots'> {
  slots: { slot: number; state: SlotStateName; instanceId: string; endpoint?: string; answering: boolean }[];
}

export function inspectionStatus({ membership: m, usable }: Adoption, endpoints?: string[]): InspectionStatus {
  return {
    ...membershipFields(m, 0),
    slots: m.slots.map((_, i) => ({ ...slotFields(m, i, endpoints), answering: usable.includes(i) })),
  };
}
