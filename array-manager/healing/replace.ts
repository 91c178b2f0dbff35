// Putting a new node into a slot (docs/REBUILD.md, "Replace"). The node must
// attest (the connector checks the evidence against the reference manifest),
// be large enough for the geometry, and hold no membership record: a node
// that is or was part of an array is refused, so no array's state is ever
// overwritten by mistake. Then, in this order: the slot's old node is marked
// dead if the operator forces out a live one; the new endpoint is persisted
// (the configuration, before any node learns of the change, so a manager that
// crashes in between still reaches the slot's node); the membership makes the
// slot rebuilding, pinned to the new instance, cursor 0. Nothing changes when
// a check fails.
import { ArrayError, type ArrayState } from '../array-state.ts';
import { tableStart } from '../geometry.ts';
import { SlotState, isMemberState } from '../membership.ts';
import { Op, type NodeError } from '../node-client/frame-codec.ts';
import type { NodeClient } from '../node-client/node-client.ts';
import { transportFault } from '../node-handle.ts';

export interface ReplaceRequest {
  slot: number;
  /** Where the new node listens (ws://host:port, or the connector's own names). */
  endpoint: string;
  /** Mark a live or rebuilding slot dead first. */
  force?: boolean;
  /** Why, for the event log (default: the operator asked). */
  reason?: string;
}

export interface ReplaceResult {
  slot: number;
  endpoint: string;
  instanceId: string;
}

/** Persists the slot's new endpoint before the membership changes (the CLI rewrites its config file). */
export type PersistEndpoint = (slot: number, endpoint: string) => Promise<void>;

/** Failures to open a session that say the node could not be reached, not that it is unfit. */
const unreachable = new Set(['E_CONNECT', 'E_TIMEOUT', 'E_CLOSED']);

/** Opens the new node, checks it, and returns its instance id; closes the session whatever happens. */
async function admit(state: ArrayState, req: ReplaceRequest): Promise<Buffer> {
  const connector = state.handles[req.slot].connector;
  if (!connector.connectEndpoint || !connector.assign) throw new ArrayError('E_REPLACE_UNSUPPORTED', 'this array was opened without a way to reach new nodes');
  let client;
  try {
    client = await connector.connectEndpoint(req.endpoint);
  } catch (err) {
    // Nothing answered, nothing within the timeout, or the connection closed while the session opened (a reset, or
    // the node closing it): nothing about the node was learnt, so this is no verdict on it. Retryable, and a hot
    // spare that meets it is kept (healer.ts).
    if (unreachable.has((err as NodeError).code)) throw new ArrayError('E_REPLACE_UNREACHABLE', `${req.endpoint}: not reachable now (${(err as Error).message}); retry`);
    throw new ArrayError('E_REPLACE_ATTESTATION', `${req.endpoint}: no attested session: ${(err as Error).message}`);
  }
  try {
    return await check(state, req, client);
  } catch (err) {
    // The session broke while the node was checked: nothing changed, and the operator may retry.
    if (transportFault(err)) throw new ArrayError('E_REPLACE_UNREACHABLE', `${req.endpoint}: the session broke while the node was checked (${(err as Error).message}); retry`);
    throw err;
  } finally {
    client.close();
  }
}

async function check(state: ArrayState, req: ReplaceRequest, client: NodeClient): Promise<Buffer> {
  const g = state.geometry;
  const instanceId = Buffer.from(client.peer.instanceId);
  if (client.hello.sectorCount < g.nodeSectors) {
    throw new ArrayError('E_REPLACE_TOO_SMALL', `${req.endpoint} has ${client.hello.sectorCount} sectors; this array uses ${g.nodeSectors} on each node`);
  }
  // The session was opened just above, for this check: its first batch read the record (no round trip of its own).
  const deathVersion = client.openingRecord()!.version;
  if (deathVersion !== 0n) {
    throw new ArrayError('E_REPLACE_IN_USE', `${req.endpoint} holds a membership record (version ${deathVersion}): it is, or was, part of an array; start a fresh node`);
  }
  if (state.membership.slots.some((s) => isMemberState(s.state) && s.instanceId.equals(instanceId))) {
    throw new ArrayError('E_REPLACE_IN_USE', `${req.endpoint} is already a member of this array`);
  }
  // The open frame was an observer's (connectEndpoint): it fenced nothing, so what it read may be stale by now (a
  // manager of another array given the same node adopting it). This read is the session's first batch that fences:
  // from it on no older session to the node changes it, and a newer one that does fences the trim below instead.
  const [now] = await client.batch([{ op: Op.deathRead }]);
  if (now.op !== Op.deathRead || now.version !== 0n) {
    throw new ArrayError('E_REPLACE_IN_USE', `${req.endpoint} took a membership record while it was checked: another array uses it`);
  }
  // The journal area must hold nothing this array could mistake for its own (a fresh node's is empty anyway).
  await client.batch([{ op: Op.trim, sector: 0, count: tableStart(g) }]);
  return instanceId;
}

export async function replaceSlot(state: ArrayState, req: ReplaceRequest, persist?: PersistEndpoint): Promise<ReplaceResult> {
  const { slot } = req;
  if (!Number.isInteger(slot) || slot < 0 || slot >= state.n) throw new ArrayError('E_REPLACE_SLOT', `no slot ${slot}: the array has slots 0..${state.n - 1}`);
  if (typeof req.endpoint !== 'string' || req.endpoint.length === 0 || req.endpoint.length > 1024) throw new ArrayError('E_REPLACE_SLOT', 'the endpoint must be a non-empty string of at most 1024 characters');
  const before = state.membership.slots[slot].state;
  if (before !== SlotState.dead && !req.force) {
    throw new ArrayError('E_REPLACE_LIVE', `slot ${slot} is ${before === SlotState.live ? 'live' : 'rebuilding'}: replace a dead slot, or force (--force) to mark it dead first`);
  }
  const instanceId = await admit(state, req);
  if (state.isMember(slot)) await state.markDead([slot], req.reason ?? 'replaced by the operator (--force)');
  if (state.isMember(slot)) throw new ArrayError('E_UNAVAILABLE', `slot ${slot} could not be marked dead yet; retry`);
  await persist?.(slot, req.endpoint);
  state.handles[slot].connector.assign!(slot, req.endpoint);
  state.handles[slot].repin(instanceId);
  await state.changeSlots(new Map([[slot, { state: SlotState.rebuilding, instanceId, cursor: 0 }]]));
  const now = state.membership.slots[slot];
  if (now.state !== SlotState.rebuilding || !now.instanceId.equals(instanceId)) throw new ArrayError('E_UNAVAILABLE', `slot ${slot} changed while it was replaced; retry`);
  state.slotReplaced(slot);
  state.event({ kind: 'slot-replaced', slot, reason: `${req.endpoint} (instance ${instanceId.toString('hex')}) rebuilds it` });
  return { slot, endpoint: req.endpoint, instanceId: instanceId.toString('hex') };
}
