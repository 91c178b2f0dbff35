// The membership record (the disk nodes' "death record"): which slots are
// live, which node instance holds each live slot, and the array's geometry.
// It is strictly versioned (a node accepts only a greater version), written
// to every live node, and authenticated with the membership key. docs/FORMAT.md
// gives the byte layout; docs/JOURNAL.md the quorum rule implemented here.
import { deathRecordBytesMax } from '../disk-node/limits.ts';
import { slots, slotsMax, type Geometry } from './geometry.ts';
import { recordTagBytes, recordTagValid, tagRecord } from './record-mac.ts';

export const SlotState = { live: 1, dead: 2 } as const;
export type SlotStateValue = (typeof SlotState)[keyof typeof SlotState];

export const arrayIdBytes = 16;
export const instanceIdBytes = 16;
const magic = Buffer.from('TEAMEMB1');
const headerBytes = 64;
const slotBytes = 1 + instanceIdBytes;

export interface SlotRecord {
  state: SlotStateValue;
  instanceId: Buffer;
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
  });
  return tagRecord(key, record);
}

/** Decodes a record read from a node whose death-record version is `nodeVersion`. */
export function decodeMembership(key: Uint8Array, record: Buffer, nodeVersion: bigint): Membership {
  const fail = (why: string): never => {
    throw new MembershipError('E_MEMBERSHIP_FORMAT', why);
  };
  if (record.length < headerBytes + recordTagBytes || record.length > deathRecordBytesMax) fail(`record of ${record.length} bytes`);
  if (!record.subarray(0, 8).equals(magic)) fail('bad magic');
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
  if (n > slotsMax || record.length !== headerBytes + n * slotBytes + recordTagBytes) fail(`length does not fit n=${n}`);
  const list: SlotRecord[] = [];
  for (let i = 0; i < n; i++) {
    const state = record[headerBytes + i * slotBytes];
    if (state !== SlotState.live && state !== SlotState.dead) fail(`slot ${i} state ${state}`);
    const at = headerBytes + i * slotBytes + 1;
    list.push({ state: state as SlotStateValue, instanceId: Buffer.from(record.subarray(at, at + instanceIdBytes)) });
  }
  return { version, arrayId: Buffer.from(record.subarray(16, 32)), geometry, keyErasure: record[52] === 1, slots: list };
}

export function deadCount(m: Membership): number {
  return m.slots.filter((s) => s.state === SlotState.dead).length;
}

export function withDead(m: Membership, dead: Iterable<number>): Membership {
  const next = m.slots.map((s) => ({ ...s }));
  for (const slot of dead) next[slot].state = SlotState.dead;
  return { ...m, version: m.version + 1n, slots: next };
}

/** What one configured node answered when the manager asked for its membership. */
export interface MembershipResponse {
  slot: number;
  instanceId: Buffer;
  /** The decoded record, or undefined if the node had none this array could verify. */
  record?: Membership;
}

/**
 * The quorum rule (docs/JOURNAL.md): adopt the highest-versioned valid record,
 * but only when at least m+1 nodes returned a valid record of this array (at
 * most m nodes can be dead or stale, so m+1 include one that saw the latest
 * update) and at least k of the responders are live in it under the instance
 * they were pinned to. Returns the adopted record and the slots usable now.
 */
export function adoptMembership(responses: MembershipResponse[], arrayId?: Buffer): { membership: Membership; usable: number[] } {
  const valid = responses.filter((r) => r.record && (!arrayId || r.record.arrayId.equals(arrayId)));
  if (valid.length === 0) throw new MembershipError('E_QUORUM', 'no node returned a valid membership record');
  const best = valid.reduce((a, b) => (b.record!.version > a.record!.version ? b : a)).record!;
  const same = valid.filter((r) => r.record!.arrayId.equals(best.arrayId));
  const { k, m } = best.geometry;
  if (same.length < m + 1) {
    throw new MembershipError('E_QUORUM', `${same.length} nodes returned this array's membership; need m+1 = ${m + 1} to rule out a stale view`);
  }
  const usable = responses
    .filter((r) => best.slots[r.slot]?.state === SlotState.live && best.slots[r.slot].instanceId.equals(r.instanceId))
    .map((r) => r.slot);
  if (usable.length < k) {
    throw new MembershipError('E_QUORUM', `only ${usable.length} live nodes answered under their pinned identity; need k = ${k}`);
  }
  return { membership: best, usable };
}
