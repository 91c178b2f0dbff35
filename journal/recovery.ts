// Journal recovery as a pure function over what the live nodes hold. The
// manager reads each live node's commit record, journal header and payload,
// and this decides what to apply. docs/JOURNAL.md argues why it is correct.
//
// Recovery cases (V = highest version among valid commit records):
//
//   commit digest for slot i | slot i's header          | action
//   -------------------------+--------------------------+---------------------------------
//   none (not a participant) | anything                 | nothing to do on slot i
//   D                        | digest D, pieces verify  | copy every piece home, trim zero
//                            |                          | pieces' homes (idempotent)
//   D                        | digest D, payload differs| slot i is corrupt: treat it as failed
//   D                        | any other digest / blank | slot i applied V already (its apply
//                            |                          | erased or replaced the header), skip
//
// No valid commit record anywhere means a fresh array: version 0.
// Two valid commit records with the same version but different contents can
// only come from a manager bug; recovery refuses rather than guess.
import {
  decodeCommit,
  decodeHeader,
  headerDigest,
  payloadDigest,
  recordBytes,
  type CommitRecord,
  type JournalHeader,
} from './journal-record.ts';
import { timingSafeEqual } from 'node:crypto';

export interface SlotJournal {
  slot: number;
  commit: Buffer;
  header: Buffer;
  /** The journal payload sectors, at least as many as the header lists. */
  payload: Buffer;
}

export interface RecoveryPlan {
  version: bigint;
  /** The commit record of `version` as found: recovery writes it to every live node before it applies anything. */
  commit?: Buffer;
  apply: { slot: number; header: JournalHeader }[];
  corrupt: number[];
}

export class RecoveryError extends Error {
  readonly code = 'E_JOURNAL_CONFLICT';
}

function highestCommit(key: Uint8Array, arrayId: Buffer, nodes: SlotJournal[]): { record: CommitRecord; raw: Buffer } | undefined {
  let best: { record: CommitRecord; raw: Buffer } | undefined;
  for (const n of nodes) {
    const record = decodeCommit(key, arrayId, n.commit);
    if (!record) continue;
    if (best && record.version === best.record.version && !n.commit.equals(best.raw)) {
      throw new RecoveryError(`two different commit records carry version ${record.version}`);
    }
    if (!best || record.version > best.record.version) best = { record, raw: n.commit };
  }
  return best;
}

function piecesVerify(h: JournalHeader, payload: Buffer): boolean {
  if (payload.length < h.homes.length * recordBytes) return false;
  return timingSafeEqual(payloadDigest([payload.subarray(0, h.homes.length * recordBytes)]), h.payloadDigest);
}

export function planRecovery(key: Uint8Array, arrayId: Buffer, nodes: SlotJournal[]): RecoveryPlan {
  const found = highestCommit(key, arrayId, nodes);
  const plan: RecoveryPlan = { version: found?.record.version ?? 0n, commit: found?.raw, apply: [], corrupt: [] };
  if (!found) return plan;
  const commit = found.record;
  for (const n of nodes) {
    const expected = commit.headerDigests[n.slot];
    if (!expected || !headerDigest(n.header).equals(expected)) continue;
    const header = decodeHeader(key, arrayId, n.header);
    if (!header || header.version !== commit.version || header.slot !== n.slot) {
      throw new RecoveryError(`slot ${n.slot}: header matches the commit digest but not its version`);
    }
    if (piecesVerify(header, n.payload)) plan.apply.push({ slot: n.slot, header });
    else plan.corrupt.push(n.slot);
  }
  return plan;
}
