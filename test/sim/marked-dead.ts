// Which slots some manager has marked dead, read from the membership records
// the nodes hold. The runner notes what the running manager decided, but a
// manager that crashes during recovery (inside openArray) may already have
// written a death record it never returned: the slot is given up all the
// same, and a later refusal that counts it is correct.
import type { DiskNodeCore } from '../../disk-node/node-core.ts';
import { deriveKeySet } from '../../array-manager/crypto/key-set.ts';
import { SlotState, decodeMembership } from '../../array-manager/membership.ts';

export function slotsMarkedDead(nodes: readonly DiskNodeCore[], dataKey: Uint8Array, arrayId: Buffer): number[] {
  const keys = deriveKeySet(dataKey, arrayId);
  const dead = new Set<number>();
  try {
    for (const node of nodes) {
      let record;
      try {
        record = decodeMembership(keys.membershipMac, node.store.deathRecord, node.store.deathVersion);
      } catch {
        continue; // A blank or restarted node holds no record of this array.
      }
      if (!record.arrayId.equals(arrayId)) continue;
      record.slots.forEach((s, slot) => s.state === SlotState.dead && dead.add(slot));
    }
  } finally {
    keys.destroy();
  }
  return [...dead];
}
