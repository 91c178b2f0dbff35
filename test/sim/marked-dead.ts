// Which slots some manager has marked dead, read from the membership records
// the nodes hold. The runner notes what the running manager decided, but a
// manager that crashes during recovery (inside openArray) may already have
// written a death record it never returned: the slot is given up all the
// same, and a later refusal that counts it is correct. A death names the
// instance it gave up: after a replacement, a record that still shows the
// old instance dead is the old death, not a new one.
import type { DiskNodeCore } from '../../disk-node/node-core.ts';
import type { KeySet } from '../../array-manager/crypto/key-set.ts';
import { SlotState, decodeMembership } from '../../array-manager/membership.ts';

export interface Death {
  slot: number;
  /** Instance id (hex) the record shows dead at the slot. */
  instance: string;
}

/** `keys`: the array's key set (deriveKeySet of its data key and `arrayId`), derived once per scenario by the caller. */
export function slotsMarkedDead(nodes: readonly DiskNodeCore[], keys: KeySet, arrayId: Buffer): Death[] {
  const dead = new Map<string, Death>();
  for (const node of nodes) {
    let record;
    try {
      record = decodeMembership(keys.membershipMac, node.store.deathRecord, node.store.deathVersion);
    } catch {
      continue; // A blank or restarted node holds no record of this array.
    }
    if (!record.arrayId.equals(arrayId)) continue;
    record.slots.forEach((s, slot) => {
      if (s.state !== SlotState.dead) return;
      const instance = s.instanceId.toString('hex');
      dead.set(`${slot}:${instance}`, { slot, instance });
    });
  }
  return [...dead.values()];
}
