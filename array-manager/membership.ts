// The membership record (the disk nodes' "death record"): which slots are
// live, dead or rebuilding, which node instance holds each member slot, how
// far each rebuilding slot has been rebuilt, and the array's geometry.
// It is strictly versioned (a node accepts only a greater version), written
// to every live node, and authenticated with the membership key. docs/FORMAT.md
// gives the byte layout; docs/JOURNAL.md the quorum rule implemented here.
import { deathRecordBytesMax } from '../disk-node/limits.ts';
import { slots, slotsMax, type Geometry } from './geometry.ts';
import { recordTagBytes, recordTagValid, tagRecord } from './record-mac.ts';

/**
 * A rebuilding slot holds a replacement node: it takes the membership and
 * every journal entry like a live slot, but serves only the rows below its
 * cursor (docs/REBUILD.md).
 */
export const SlotState = { live: 1, dead: 2, rebuilding: 3 } as const;
export type SlotStateValue = (typeof SlotState)[keyof typeof SlotState];

export const arrayIdBytes = 16;
export const instanceIdBytes = 16;
/** Version 2 adds the rebuilding state and a rebuild cursor per slot; version 1 records are still read. */
const magic = Buffer.from('TEAMEMB2');
const magicV1 = Buffer.from('TEAMEMB1');
const headerBytes = 64;
const slotBytesV1 = 1 + instanceIdBytes;
const slotBytes = slotBytesV1 + 4;

export interface SlotRecord {
  state: SlotStateValue;
  instanceId: Buffer;
  /** Rows rebuilt so far, counted over the table rows then the data rows (rebuilding slots; 0 otherwise). */
  cursor: number;
}

export interface Membership {
  version: bigint;
  arrayId: Buffer;
  geometry: Geometry;
  /** Journal payloads are trimmed after apply, so no old data outlives its entry. */
  keyErasure: boolean;
  slots: SlotRecord[];
}

export class MembershipError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export function encodeMembership(key: Uint8Array, m: Membership): Buffer {
  const n = slots(m.geometry);
  if (m.slots.length !== n) throw new MembershipError('E_MEMBERSHIP_FORMAT', `${m.slots.length} slots for n=${n}`);
  const record = Buffer.alloc(headerBytes + n * slotBytes + recordTagBytes);
  magic.copy(record, 0);
  record.writeBigUInt64BE(m.version, 8);
  m.arrayId.copy(record, 16);
  const g = m.geometry;
  record.writeUInt16BE(g.k, 32);
  record.writeUInt16BE(g.m, 34);
  record.writeUInt32BE(g.nodeSectors, 36);
  record.writeUInt32BE(g.journalPieces, 40);
  record.writeUInt32BE(g.tableRows, 44);
  record.writeUInt32BE(g.dataRows, 48);
  record[52] = m.keyErasure ? 1 : 0;
  m.slots.forEach((s, i) => {
    record[headerBytes + i * slotBytes] = s.state;
    s.instanceId.copy(record, headerBytes + i * slotBytes + 1);
    record.writeUInt32BE(s.state === SlotState.rebuilding ? s.cursor : 0, headerBytes + i * slotBytes + 1 + instanceIdBytes);
  });
  return tagRecord(key, record);
}

/** Decodes a record read from a node whose death-record version is `nodeVersion`. */
export function decodeMembership(key: Uint8Array, record: Buffer, nodeVersion: bigint): Membership {
  const fail = (why: string): never => {
    throw new MembershipError('E_MEMBERSHIP_FORMAT', why);
  };
  if (record.length < headerBytes + recordTagBytes || record.length > deathRecordBytesMax) fail(`record of ${record.length} bytes`);
  const v1 = record.subarray(0, 8).equals(magicV1);
  if (!v1 && !record.subarray(0, 8).equals(magic)) fail('bad magic');
  const perSlot = v1 ? slotBytesV1 : slotBytes;
  if (!recordTagValid(key, record)) throw new MembershipError('E_MEMBERSHIP_AUTH', 'membership tag does not verify');
  const version = record.readBigUInt64BE(8);
  if (version !== nodeVersion) fail(`record version ${version} under node version ${nodeVersion}`);
  const geometry: Geometry = {
    k: record.readUInt16BE(32),
    m: record.readUInt16BE(34),
    nodeSectors: record.readUInt32BE(36),
    journalPieces: record.readUInt32BE(40),
    tableRows: record.readUInt32BE(44),
    dataRows: record.readUInt32BE(48),
  };
  const n = geometry.k + geometry.m;
  if (n > slotsMax || record.length !== headerBytes + n * perSlot + recordTagBytes) fail(`length does not fit n=${n}`);
  const rows = geometry.tableRows + geometry.dataRows;
  const list: SlotRecord[] = [];
  for (let i = 0; i < n; i++) {
    const state = record[headerBytes + i * perSlot];
    const known = state === SlotState.live || state === SlotState.dead || (!v1 && state === SlotState.rebuilding);
    if (!known) fail(`slot ${i} state ${state}`);
    const at = headerBytes + i * perSlot + 1;
    const cursor = v1 ? 0 : record.readUInt32BE(at + instanceIdBytes);
    if (cursor > rows || (cursor !== 0 && state !== SlotState.rebuilding)) fail(`slot ${i} cursor ${cursor}`);
    list.push({ state: state as SlotStateValue, instanceId: Buffer.from(record.subarray(at, at + instanceIdBytes)), cursor });
  }
  return { version, arrayId: Buffer.from(record.subarray(16, 32)), geometry, keyErasure: record[52] === 1, slots: list };
}

export function deadCount(m: Membership): number {
  return m.slots.filter((s) => s.state === SlotState.dead).length;
}

/** Slots that hold the membership and the journal: live and rebuilding ones. */
export function isMemberState(state: SlotStateValue): boolean {
  return state === SlotState.live || state === SlotState.rebuilding;
}

/** The next record: `dead` slots marked dead, one version above `version` (the highest any node may hold). */
export function withDead(m: Membership, dead: Iterable<number>, version = m.version): Membership {
  const next = m.slots.map((s) => ({ ...s }));
  for (const slot of dead) next[slot] = { ...next[slot], state: SlotState.dead, cursor: 0 };
  return { ...m, version: version + 1n, slots: next };
}

/** The next record with each listed slot's record replaced, one version above `version`. */
export function withSlots(m: Membership, changes: Map<number, SlotRecord>, version = m.version): Membership {
  const next = m.slots.map((s, i) => ({ ...(changes.get(i) ?? s) }));
  return { ...m, version: version + 1n, slots: next };
}

/** What one configured node answered when the manager asked for its membership. */
export interface MembershipResponse {
  slot: number;
  instanceId: Buffer;
  /** The decoded record, or undefined if the node had none this array could verify. */
  record?: Membership;
}

function sameRecord(a: Membership, b: Membership): boolean {
  return (
    a.version === b.version &&
    a.keyErasure === b.keyErasure &&
    a.slots.every((s, i) => s.state === b.slots[i]?.state && s.cursor === b.slots[i].cursor && s.instanceId.equals(b.slots[i].instanceId))
  );
}

/**
 * True when `slot`, answering as `instanceId`, is a member of `m` (live or
 * rebuilding: both store every update) under the instance `m` pins there. The
 * instance a replacement displaced is never pinned again, so it never counts.
 */
function liveIn(m: Membership, slot: number, instanceId: Buffer): boolean {
  const s = m.slots[slot];
  return s !== undefined && isMemberState(s.state) && s.instanceId.equals(instanceId);
}

/**
 * The records no answer refutes. An update is complete once every slot live
 * in it stored it, and a node never goes back to a lower version or replaces
 * a record by another of the same version; so a record is proven incomplete
 * when a slot live in it, answering as the instance it pins, holds a lower
 * version or a different record of the same version. Managers that each
 * crashed part way through an update, or could not reach the nodes that
 * stored another's, leave such records behind, some of them at higher
 * versions than a complete one; the complete ones are never refuted.
 */
function standingRecords(valid: MembershipResponse[]): Membership[] {
  const distinct: Membership[] = [];
  for (const r of valid) if (!distinct.some((d) => sameRecord(d, r.record!))) distinct.push(r.record!);
  const refutes = (r: MembershipResponse, c: Membership) => {
    if (!liveIn(c, r.slot, r.instanceId)) return false;
    const held = r.record!;
    if (held.version < c.version || (held.version === c.version && !sameRecord(c, held))) return true;
    // A higher record that brings back a node c marked dead: no manager wrote it after c completed (deaths
    // are final: every record since keeps them, a replacement puts a new instance in the slot), yet this
    // node would have stored c before it. So c did not complete.
    return held.version > c.version && revives(held, c);
  };
  return distinct.filter((c) => !valid.some((r) => refutes(r, c)));
}

/** True when `later` has a slot `earlier` marked dead as a member again under the same instance. */
function revives(later: Membership, earlier: Membership): boolean {
  return earlier.slots.some((s, i) => s.state === SlotState.dead && liveIn(later, i, s.instanceId));
}

/**
 * The quorum rule (docs/JOURNAL.md): adopt the highest-versioned valid record,
 * but only when at least m+1 nodes returned a valid record of this array (at
 * most m nodes can be dead or stale, so m+1 include one that stored the
 * latest complete update), when exactly one record of that version stands
 * (standingRecords: an unrefuted rival means the answers cannot tell which
 * update completed, and the open waits for more nodes; with none standing,
 * the part every answered record agrees on, adoptCommonPart), and when at least k
 * of the responders are live in it under the instance they were pinned to,
 * once the members a complete update may have killed are marked dead in it.
 * Returns the adopted record and the slots usable now.
 */
export interface Adoption {
  membership: Membership;
  /** Slots live in it that answered as the instance it pins. */
  usable: number[];
  /** The highest version any node answered with: the next update must be above it. */
  highest: bigint;
  /**
   * Members of the standing record that the answers allow a complete update to have killed
   * (mayHaveBeenKilled): `membership` marks them dead, so no node holds it as it is and the
   * manager must write it (above `highest`) before relying on it.
   */
  killed: number[];
  /** No node holds `membership` as it is (`killed`, or every answered record was refuted): the manager writes it first. */
  unheld: boolean;
}

/**
 * `acceptLost`: slots the operator declares gone for good. For k <= m, a
 * record that fewer than m+1 nodes hold may be adopted when every member of
 * it that did not answer is among them: the operator accepts that a newer
 * update stored only on those nodes, and anything written under it, is lost.
 */
export function adoptMembership(responses: MembershipResponse[], arrayId?: Buffer, acceptLost: readonly number[] = []): Adoption {
  const valid = responses.filter((r) => r.record && (!arrayId || r.record.arrayId.equals(arrayId)));
  if (valid.length === 0) throw new MembershipError('E_QUORUM', 'no node returned a valid membership record');
  const first = valid.reduce((a, b) => (b.record!.version > a.record!.version ? b : a)).record!;
  const same = valid.filter((r) => r.record!.arrayId.equals(first.arrayId));
  const { k, m } = first.geometry;
  const standing = standingRecords(same);
  if (standing.length === 0) return adoptCommonPart(same, responses, first.version);
  const top = standing.reduce((v, c) => (c.version > v ? c.version : v), 0n);
  const atTop = standing.filter((c) => c.version === top);
  if (atTop.length !== 1) {
    throw new MembershipError('E_QUORUM', `membership: ${atTop.length} different records of version ${top} stand; waiting for more nodes to tell which update completed`);
  }
  const best = atTop[0];
  // Every slot live in the record answered with it: it is complete as it stands, so no answer is missing.
  const silent = best.slots
    .map((s, i) => i)
    .filter((i) => isMemberState(best.slots[i].state) && !same.some((r) => r.slot === i && liveIn(best, i, r.instanceId) && sameRecord(r.record!, best)));
  if (same.length < m + 1 && !silent.every((slot) => acceptLost.includes(slot))) {
    throw new MembershipError(
      'E_QUORUM',
      `${same.length} nodes returned this array's membership; need m+1 = ${m + 1} to rule out a stale view, or every live slot (silent: ${silent.join(', ')}; an operator who knows them gone can accept their loss)`,
    );
  }
  // The standing record may predate the latest complete update (every record its members stored since is
  // refuted as incomplete, and nothing above it stands): mark dead each member a complete update may have killed.
  const killed = best.slots.map((_, i) => i).filter((slot) => mayHaveBeenKilled(same, best, slot, m));
  // Same version as `best`: the manager writes it above `highest` before relying on it.
  const adopted = killed.length ? withDead(best, killed, best.version - 1n) : best;
  const usable = responses.filter((r) => liveIn(adopted, r.slot, r.instanceId)).map((r) => r.slot);
  // A rebuilding slot serves only the rows below its cursor: k slots must serve every row.
  const rows = adopted.geometry.tableRows + adopted.geometry.dataRows;
  const whole = usable.filter((slot) => adopted.slots[slot].state === SlotState.live || adopted.slots[slot].cursor >= rows);
  if (whole.length < k) {
    throw new MembershipError('E_QUORUM', `only ${whole.length} live nodes answered under their pinned identity; need k = ${k}`);
  }
  return { membership: adopted, usable, highest: first.version, killed, unheld: killed.length > 0 };
}

/**
 * Every answered record is refuted (docs/JOURNAL.md, "When no record stands"): no answer holds the latest
 * complete update C, and more answers cannot change that (a refuted record stays refuted). With m+1
 * answers, one comes from a node live in C, whose record was stored after C completed and so keeps every
 * member C killed dead. The adopted record therefore keeps a slot a member only under an instance that
 * every answered record pins there as a member, and only as far as every one of them has it: rebuilding,
 * at the lowest cursor, unless live in all. It marks dead what any answered record marks dead (a death
 * some manager already recorded), and a slot whose records pin different instances. No node holds it:
 * the manager writes it above every version answered before relying on it.
 */
function adoptCommonPart(same: MembershipResponse[], responses: MembershipResponse[], highest: bigint): Adoption {
  const records = same.map((r) => r.record!);
  const base = records.reduce((a, b) => (b.version > a.version ? b : a));
  const lowest = records.reduce((v, r) => (r.version < v ? r.version : v), base.version);
  const { k, m } = base.geometry;
  if (same.length < m + 1) {
    throw new MembershipError('E_QUORUM', `membership: every record is proven incomplete and ${same.length} nodes answered; need m+1 = ${m + 1} to include one that stored the latest complete update`);
  }
  const rows = base.geometry.tableRows + base.geometry.dataRows;
  const slotsOut = base.slots.map((_, i): SlotRecord => {
    const here = records.map((r) => r.slots[i]);
    const instance = here[0].instanceId;
    if (here.every((s) => isMemberState(s.state) && s.instanceId.equals(instance))) {
      const cursor = here.reduce((c, s) => Math.min(c, s.state === SlotState.live ? rows : s.cursor), rows);
      return here.every((s) => s.state === SlotState.live) ? { state: SlotState.live, instanceId: instance, cursor: 0 } : { state: SlotState.rebuilding, instanceId: instance, cursor };
    }
    // Dead under an instance some record already marks dead there (the newest such record's), else under
    // the instance of the oldest record: never a new death of a replacement no record killed.
    const deadIn = records.filter((r) => r.slots[i].state === SlotState.dead).sort((a, b) => (a.version < b.version ? 1 : -1))[0];
    const oldest = records.reduce((a, b) => (b.version < a.version ? b : a));
    return { state: SlotState.dead, instanceId: Buffer.from((deadIn ?? oldest).slots[i].instanceId), cursor: 0 };
  });
  const adopted: Membership = { ...base, version: lowest, slots: slotsOut };
  const killed = base.slots.map((_, i) => i).filter((i) => isMemberState(base.slots[i].state) && !isMemberState(slotsOut[i].state));
  const usable = responses.filter((r) => liveIn(adopted, r.slot, r.instanceId)).map((r) => r.slot);
  const whole = usable.filter((slot) => adopted.slots[slot].state === SlotState.live || adopted.slots[slot].cursor >= rows);
  if (whole.length < k) {
    throw new MembershipError('E_QUORUM', `membership: every record is proven incomplete; only ${whole.length} live nodes answered under an identity every record pins; need k = ${k}`);
  }
  return { membership: adopted, usable, highest, killed, unheld: true };
}

/**
 * True unless the answers prove that no complete update killed `slot` under the instance `best` pins
 * there (docs/JOURNAL.md). Let C be the latest complete update. Every answering node live in C holds C or
 * a record stored after C completed, and every such record keeps C's dead dead; the answering nodes dead
 * in C (at most m of them: C has at most m dead) may hold anything. So if C killed this member, the
 * answering nodes whose record keeps it a member are dead in C; so is any answering node whose record
 * keeps one of those a member; and so on. The least set closed that way is within the nodes dead in C:
 * if it has more than m nodes, or every answering node, C cannot have killed the member.
 */
function mayHaveBeenKilled(valid: MembershipResponse[], best: Membership, slot: number, m: number): boolean {
  const s = best.slots[slot];
  if (!isMemberState(s.state)) return false;
  const stale = new Set(valid.filter((r) => liveIn(r.record!, slot, s.instanceId) || (r.slot === slot && r.instanceId.equals(s.instanceId))));
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of valid) {
      if (!stale.has(r) && [...stale].some((y) => liveIn(r.record!, y.slot, y.instanceId))) {
        stale.add(r);
        grew = true;
      }
    }
  }
  return stale.size <= m && stale.size < valid.length;
}
