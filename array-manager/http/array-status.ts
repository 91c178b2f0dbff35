// What `GET /status` and `teearray array status` report about an open array:
// geometry, each slot's state, pinned node identity, whether its node is in
// doubt and why a dead slot died, journal version, whether the array is
// degraded or failed, its counters and its latest events.
import type { ArrayEvent } from '../array-state.ts';
import type { VirtualDisk } from '../virtual-disk.ts';
import { SlotState, deadCount } from '../membership.ts';
import { sectorBytes, slots, userSectors } from '../geometry.ts';
import type { Adoption } from '../membership.ts';

export interface ArrayStatus {
  arrayId: string;
  geometry: { k: number; m: number; n: number; nodeSectors: number; journalPieces: number; dataRows: number; tableRows: number };
  sizeBytes: number;
  keyErasure: boolean;
  membershipVersion: string;
  journalVersion: string;
  health: 'ok' | 'degraded' | 'unavailable' | 'failed';
  deadSlots: number;
  slots: {
    slot: number;
    state: 'live' | 'dead';
    instanceId: string;
    endpoint?: string;
    /** Live but its node did not answer the last attempts: reconnecting, not (yet) dead. */
    inDoubt: boolean;
    sessionFailures: number;
    /** Why and when this manager marked the slot dead (absent for slots dead before it opened the array). */
    deadReason?: string;
    deadAt?: string;
  }[];
  /** Slots whose nodes have been unreachable for their whole death window. */
  unreachableSlots: number[];
  counters: Record<string, number>;
  /** The latest events, oldest first. */
  events: ArrayEvent[];
}

export function arrayStatus(disk: VirtualDisk, endpoints?: string[]): ArrayStatus {
  const s = disk.state;
  const m = s.membership;
  const dead = deadCount(m);
  return {
    arrayId: m.arrayId.toString('hex'),
    geometry: { ...s.geometry, n: slots(s.geometry) },
    sizeBytes: userSectors(s.geometry) * disk.blockBytes,
    keyErasure: m.keyErasure,
    membershipVersion: m.version.toString(),
    journalVersion: s.journalVersion.toString(),
    health: dead > s.geometry.m ? 'failed' : dead + s.unreachableSlots().length > s.geometry.m ? 'unavailable' : dead === 0 ? 'ok' : 'degraded',
    deadSlots: dead,
    slots: m.slots.map((slot, i) => ({
      slot: i,
      state: slot.state === SlotState.live ? 'live' : 'dead',
      instanceId: slot.instanceId.toString('hex'),
      ...(endpoints ? { endpoint: endpoints[i] } : {}),
      inDoubt: slot.state === SlotState.live && s.handles[i].inDoubt,
      sessionFailures: s.handles[i].sessionFailures,
      ...(s.deaths.has(i) ? { deadReason: s.deaths.get(i)!.reason, deadAt: s.deaths.get(i)!.at } : {}),
    })),
    unreachableSlots: s.unreachableSlots(),
    counters: { ...s.counters },
    events: [...s.events],
  };
}

/** What `teearray array open` reports: the membership a manager would adopt now, and which live slots answer. */
export interface InspectionStatus extends Pick<ArrayStatus, 'arrayId' | 'geometry' | 'sizeBytes' | 'keyErasure' | 'membershipVersion' | 'health' | 'deadSlots'> {
  slots: { slot: number; state: 'live' | 'dead'; instanceId: string; endpoint?: string; answering: boolean }[];
}

export function inspectionStatus({ membership: m, usable }: Adoption, endpoints?: string[]): InspectionStatus {
  const dead = deadCount(m);
  return {
    arrayId: m.arrayId.toString('hex'),
    geometry: { ...m.geometry, n: slots(m.geometry) },
    sizeBytes: userSectors(m.geometry) * sectorBytes,
    keyErasure: m.keyErasure,
    membershipVersion: m.version.toString(),
    health: dead === 0 ? 'ok' : dead <= m.geometry.m ? 'degraded' : 'failed',
    deadSlots: dead,
    slots: m.slots.map((slot, i) => ({
      slot: i,
      state: slot.state === SlotState.live ? 'live' : 'dead',
      instanceId: slot.instanceId.toString('hex'),
      ...(endpoints ? { endpoint: endpoints[i] } : {}),
      answering: usable.includes(i),
    })),
  };
}
