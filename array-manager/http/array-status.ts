// What `GET /status` and `teearray array status` report about an open array:
// geometry, each slot's state and pinned node identity, journal version,
// whether the array is degraded or failed, and its counters.
import type { VirtualDisk } from '../virtual-disk.ts';
import { SlotState, deadCount } from '../membership.ts';
import { slots, userSectors } from '../geometry.ts';

export interface ArrayStatus {
  arrayId: string;
  geometry: { k: number; m: number; n: number; nodeSectors: number; journalPieces: number; dataRows: number; tableRows: number };
  sizeBytes: number;
  keyErasure: boolean;
  membershipVersion: string;
  journalVersion: string;
  health: 'ok' | 'degraded' | 'failed';
  deadSlots: number;
  slots: { slot: number; state: 'live' | 'dead'; instanceId: string; endpoint?: string }[];
  counters: Record<string, number>;
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
    health: dead === 0 ? 'ok' : dead <= s.geometry.m ? 'degraded' : 'failed',
    deadSlots: dead,
    slots: m.slots.map((slot, i) => ({
      slot: i,
      state: slot.state === SlotState.live ? 'live' : 'dead',
      instanceId: slot.instanceId.toString('hex'),
      ...(endpoints ? { endpoint: endpoints[i] } : {}),
    })),
    counters: { ...s.counters },
  };
}
