// What `GET /status` and `teearray array status` report about an open array:
// geometry, each slot's state, pinned node identity, whether its node is in
// doubt and why a dead slot died, journal version, whether the array is
// degraded or failed, its counters and its latest events.
import type { ArrayEvent } from '../array-state.ts';
import type { VirtualDisk } from '../virtual-disk.ts';
import { SlotState, deadCount } from '../membership.ts';
import { sectorBytes, slots, userSectors } from '../geometry.ts';
import type { Adoption, Membership } from '../membership.ts';

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
    deadSlots: dead,
  };
}

function slotFields(m: Membership, i: number, endpoints?: string[]) {
  const slot = m.slots[i];
  return {
    slot: i,
    state: (slot.state === SlotState.live ? 'live' : 'dead') as 'live' | 'dead',
    instanceId: slot.instanceId.toString('hex'),
    ...(endpoints ? { endpoint: endpoints[i] } : {}),
  };
}

export function arrayStatus(disk: VirtualDisk, endpoints?: string[]): ArrayStatus {
  const s = disk.state;
  const m = s.membership;
  return {
    ...membershipFields(m, s.unreachableSlots().length),
    journalVersion: s.journalVersion.toString(),
    slots: m.slots.map((slot, i) => ({
      ...slotFields(m, i, endpoints),
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
  return {
    ...membershipFields(m, 0),
    slots: m.slots.map((_, i) => ({ ...slotFields(m, i, endpoints), answering: usable.includes(i) })),
  };
}
