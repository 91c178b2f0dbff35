// Opening an existing array after a manager start or crash:
//
//   1. ask every configured node for its membership record (nodes that do
//      not answer simply do not count);
//   2. adopt a membership record under the quorum rule (membership.ts), pin
//      each live slot to its instance, and mark dead every live slot whose
//      node is missing or came back as a new instance, writing the new record
//      above every version any node answered with;
//   3. recover the journal: read every live node's commit record, header and
//      payload, plan (journal/recovery.ts), make the highest commit record
//      durable on every live node, then apply that entry where it is still
//      pending, and in key-erasure mode wipe what is left of uncommitted
//      entries.
import { deriveKeySet, type KeySet } from './crypto/key-set.ts';
import { ArrayError, type ArrayState, type CacheLimits } from './array-state.ts';
import { startArray } from './array-start.ts';
import { commitSector, journalHeaderSector, journalPayloadStart, sectorBytes } from './geometry.ts';
import { applyEntry, type SlotApply } from './journal-apply.ts';
import { adoptMembership, isMemberState, decodeMembership, type Adoption, type MembershipResponse } from './membership.ts';
import { planRecovery } from '../journal/recovery.ts';
import { Op } from './node-client/frame-codec.ts';
import { NodeHandle, healthDefaults, transportFault, type HealthPolicy, type NodeConnector } from './node-handle.ts';
import type { VirtualDisk } from './virtual-disk.ts';
import { cryptoWorkerCount, type CryptoWorkers } from './sector-batch.ts';

export interface OpenOptions {
  connector: NodeConnector;
  dataKey: Uint8Array;
  /** Open only this array (a node from another array is ignored). */
  arrayId?: Buffer;
  caches?: CacheLimits;
  /** Worker threads sealing and opening large requests (sector-batch.ts), 0..16 or 'auto'; default 0: all on the calling thread. */
  cryptoWorkers?: CryptoWorkers;
  /** When a node that does not answer is declared lost (node-handle.ts). */
  health?: Partial<HealthPolicy>;
  /** Slots the operator declares gone for good (membership.ts, adoptMembership; docs/JOURNAL.md, k <= m). */
  acceptLost?: number[];
}

interface RawRecord {
  slot: number;
  instanceId: Buffer;
  version: bigint;
  record: Buffer;
}

/**
 * A fresh handle's membership record: the session opened for it read the
 * record in its first batch, with ATTEST (NodeClient.openingRecord), so it
 * costs no round trip of its own. Only a session that could not be opened
 * (a transport fault) falls back to a patient DEATH_READ, which reconnects.
 */
async function recordOf(h: NodeHandle): Promise<{ version: bigint; record: Uint8Array }> {
  try {
    const opened = (await h.session()).openingRecord();
    if (opened) return opened;
  } catch (err) {
    if (!transportFault(err)) throw err;
  }
  const [res] = await h.batch([{ op: Op.deathRead }]);
  if (res.op !== Op.deathRead) throw new ArrayError('E_FRAME', 'DEATH_READ answered with another result');
  return res;
}

async function readRecords(handles: NodeHandle[]): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  await Promise.all(
    handles.map(async (h) => {
      try {
        const res = await recordOf(h);
        out.push({ slot: h.slot, instanceId: h.instanceId!, version: res.version, record: Buffer.from(res.record) });
      } catch {
        h.close(); // Unreachable or refusing: this node does not count.
      }
    }),
  );
  return out;
}

/** The array id most nodes claim (unauthenticated: it only selects the keys the MAC check then uses). */
function chooseArrayId(records: RawRecord[], wanted?: Buffer): Buffer {
  if (wanted) return wanted;
  const votes = new Map<string, number>();
  for (const r of records) {
    if (r.record.length < 32) continue;
    const id = r.record.subarray(16, 32).toString('hex');
    votes.set(id, (votes.get(id) ?? 0) + 1);
  }
  const best = [...votes].sort((a, b) => b[1] - a[1])[0];
  if (!best) throw new ArrayError('E_NO_ARRAY', 'no node holds a membership record');
  return Buffer.from(best[0], 'hex');
}

/** Reads every configured node's membership record and adopts one under the quorum rule; writes nothing. */
async function adopt(opts: OpenOptions): Promise<{ handles: NodeHandle[]; keys: KeySet; adopted: Adoption }> {
  if (opts.dataKey.length !== 32) throw new ArrayError('E_CONFIG', 'the data key must be 32 bytes');
  const handles = Array.from({ length: opts.connector.slots }, (_, slot) => new NodeHandle(slot, opts.connector, undefined, { ...healthDefaults, ...opts.connector.health, ...opts.health }));
  const raw = await readRecords(handles);
  const arrayId = chooseArrayId(raw, opts.arrayId);
  const keys = deriveKeySet(opts.dataKey, arrayId);
  const responses: MembershipResponse[] = raw.map((r) => {
    try {
      return { slot: r.slot, instanceId: r.instanceId, record: decodeMembership(keys.membershipMac, r.record, r.version) };
    } catch {
      return { slot: r.slot, instanceId: r.instanceId };
    }
  });
  try {
    const adopted = adoptMembership(responses, arrayId, opts.acceptLost);
    if (adopted.membership.slots.length !== handles.length) {
      throw new ArrayError('E_CONFIG', `${handles.length} nodes configured for an array of ${adopted.membership.slots.length}`);
    }
    return { handles, keys, adopted };
  } catch (err) {
    handles.forEach((h) => h.close());
    keys.destroy();
    throw err;
  }
}

/**
 * What a manager opening the array now would adopt, and which live slots
 * answer as their pinned instance, without changing anything: no membership
 * update, no recovery. With an observer connector its sessions do not even
 * fence a serving manager's (`teearray array open`).
 */
export async function inspectArray(opts: OpenOptions): Promise<Adoption> {
  const { handles, keys, adopted } = await adopt(opts);
  handles.forEach((h) => h.close());
  keys.destroy();
  return adopted;
}

export async function openArray(opts: OpenOptions): Promise<VirtualDisk> {
  const cryptoWorkers = cryptoWorkerCount(opts.cryptoWorkers);
  // adopt() checked that the record has a slot for each handle.
  const { handles, keys, adopted } = await adopt(opts);
  const { membership, usable, highest, unheld } = adopted;
  membership.slots.forEach((s, slot) => (handles[slot].pinned = isMemberState(s.state) ? s.instanceId : undefined));
  return startArray({ geometry: membership.geometry, keys, membership, handles, caches: opts.caches, cryptoWorkers }, async (state) => {
    state.membershipFloor = highest;
    const lost = state.memberSlots().filter((slot) => !usable.includes(slot));
    // A node live in the adopted record never holds an older one (that would refute it), so there is no
    // update to finish; but nodes dead in it may hold higher versions, and the next record must go above them.
    // The adopted record may also mark dead members a complete update may have killed (adoptMembership's
    // `killed`), or be the common part of records all proven incomplete: then no node holds it as it is
    // (`unheld`), so it is written before anything relies on it.
    if (lost.length) await state.markDead(lost, 'missing at open, or answering as another instance');
    else if (highest > membership.version || unheld) await state.restampMembership();
    await recoverJournal(state);
  });
}

async function recoverJournal(state: ArrayState): Promise<void> {
  const g = state.geometry;
  const sectors = Array.from({ length: 2 + g.journalPieces }, (_, i) => i);
  // Recovery needs every live node's journal: it waits for them (patient batches), unlike reads.
  const read = await state.eachSlot(state.memberSlots(), async (slot) => {
    const [res] = await state.handles[slot].batch([{ op: Op.read, sector: 0, count: sectors.length }]);
    if (res.op !== Op.read) throw new ArrayError('E_FRAME', 'READ answered with another result');
    return sectors.map((i) => res.data.subarray(i * sectorBytes, (i + 1) * sectorBytes));
  });
  state.checkWritable();
  const plan = planRecovery(
    state.keys.journalMac,
    state.arrayId,
    [...read].map(([slot, s]) => ({
      slot,
      commit: s[commitSector],
      header: s[journalHeaderSector],
      payload: Buffer.concat(s.slice(journalPayloadStart)),
    })),
  );
  if (plan.corrupt.length) await state.markDead(plan.corrupt, 'journal payload fails its digest at recovery');
  state.checkWritable();
  // Before any node applies the entry, every live node holds its commit record: otherwise a crash
  // after some applies, then the loss of every node that held the commit, would leave the next
  // recovery unaware of an entry that is already half applied (docs/JOURNAL.md, claim 4).
  const commit = plan.commit;
  if (commit) {
    const missing = [...read].filter(([slot, s]) => state.isMember(slot) && !s[commitSector].equals(commit)).map(([slot]) => slot);
    await state.eachSlot(missing, (slot) => state.handles[slot].batch([{ op: Op.write, sector: commitSector, count: 1, data: commit }]));
    state.checkWritable();
  }
  const participants = new Map<number, SlotApply>();
  for (const { slot, header } of plan.apply) participants.set(slot, { header: read.get(slot)![journalHeaderSector], homes: header.homes, zeroHomes: header.zeroHomes });
  if (participants.size > 0) {
    await state.lock.write(() => applyEntry(state, participants));
    state.counters.journalApplies++;
  }
  if (state.membership.keyErasure) {
    await state.eachSlot(state.memberSlots(), (slot) =>
      state.handles[slot].batch([{ op: Op.trim, sector: journalHeaderSector, count: 1 + g.journalPieces }]),
    );
  }
  state.journalVersion = plan.version;
}
