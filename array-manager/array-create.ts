// Creating an array on n fresh (or reused) disk nodes: choose the geometry
// from the smallest node, wipe every node, write every table sector (blank
// entries under a valid self-MAC, so an all-zero table is never valid), an
// empty commit record, and last the membership record that pins each slot to
// its node's attested instance. Creation is not journalled: a crash during
// it leaves no membership record, and creating again starts over.
//
// Round trips per node: the session's ATTEST (which also reads the node's
// membership record), the format batches (for nodes up to 256 MiB one: TRIM,
// the table rows, the commit record), then, once every node has run all of
// them, the membership record. A node runs a batch's commands in order, whole
// or not at all, so one batch does what the same commands in separate
// batches did; the barrier that matters is the one before the membership
// record.
import { randomBytes } from 'node:crypto';
import { deriveKeySet } from './crypto/key-set.ts';
import { encodeTable } from './crypto/table-sector.ts';
import { ArrayError, type ArrayState, type CacheLimits } from './array-state.ts';
import { startArray } from './array-start.ts';
import { commitSector, journalPiecesDefault, planGeometry, rowSector, sectorBytes, slotOfShard, tableSectorsFor, type Geometry } from './geometry.ts';
import { batchWorkBytesMax } from '../disk-node/limits.ts';
import { SlotState, arrayIdBytes, encodeMembership, type Membership } from './membership.ts';
import { encodeCommit } from '../journal/journal-record.ts';
import { Op, type OutgoingCommand } from './node-client/frame-codec.ts';
import { NodeHandle, healthDefaults, type HealthPolicy, type NodeConnector } from './node-handle.ts';
import type { VirtualDisk } from './virtual-disk.ts';
import { cryptoWorkerCount, type CryptoWorkers } from './sector-batch.ts';

export interface CreateOptions {
  connector: NodeConnector;
  /** 32-byte data key; every array key is derived from it and the array id. */
  dataKey: Uint8Array;
  k: number;
  m: number;
  keyErasure?: boolean;
  journalPieces?: number;
  /** Use at most this many sectors of each node (default: all of the smallest). */
  nodeSectors?: number;
  caches?: CacheLimits;
  /** Worker threads sealing and opening large requests (sector-batch.ts), 0..16 or 'auto'; default 0: all on the calling thread. */
  cryptoWorkers?: CryptoWorkers;
  /** When a node that does not answer is declared lost (node-handle.ts). */
  health?: Partial<HealthPolicy>;
  onProgress?: (done: number, total: number) => void;
}

/** Table rows written per batch during creation. */
const formatRowsPerBatch = 256;

export async function createArray(opts: CreateOptions): Promise<VirtualDisk> {
  const n = opts.k + opts.m;
  if (opts.connector.slots !== n) throw new ArrayError('E_CONFIG', `${opts.connector.slots} nodes configured for k + m = ${n}`);
  if (opts.dataKey.length !== 32) throw new ArrayError('E_CONFIG', 'the data key must be 32 bytes');
  const cryptoWorkers = cryptoWorkerCount(opts.cryptoWorkers);
  const handles = Array.from({ length: n }, (_, slot) => new NodeHandle(slot, opts.connector, undefined, { ...healthDefaults, ...opts.connector.health, ...opts.health }));
  let opened: OpenedNodes, geometry: Geometry;
  try {
    opened = await openAll(handles);
    geometry = planGeometry(opts.k, opts.m, Math.min(opened.smallest, opts.nodeSectors ?? opened.smallest), opts.journalPieces ?? journalPiecesDefault);
  } catch (err) {
    // A node that does not answer, nodes too small for the shape, or a journal out of bounds: nothing was written,
    // and no session may stay open.
    handles.forEach((h) => h.close());
    throw err;
  }
  const { instanceIds, highest } = opened;
  const arrayId = randomBytes(arrayIdBytes);
  const keys = deriveKeySet(opts.dataKey, arrayId);
  const membership: Membership = {
    version: highest + 1n,
    arrayId,
    geometry,
    keyErasure: opts.keyErasure ?? false,
    slots: instanceIds.map((instanceId) => ({ state: SlotState.live, instanceId, cursor: 0 })),
  };
  return startArray({ geometry, keys, membership, handles, caches: opts.caches, cryptoWorkers }, (state) => format(state, opts.onProgress));
}

interface OpenedNodes {
  instanceIds: Buffer[];
  /** The fewest sectors any node has. */
  smallest: number;
  /** The highest membership version any node holds: nodes reused from an earlier array refuse a record not above it. */
  highest: bigint;
}

/** Opens a session to every node, in slot order, and pins each handle to the instance that answered. */
async function openAll(handles: NodeHandle[]): Promise<OpenedNodes> {
  const opened: OpenedNodes = { instanceIds: [], smallest: Infinity, highest: 0n };
  for (const h of handles) {
    try {
      const session = await h.session();
      // A fresh handle's session, just opened: its first batch read the record (NodeClient.openingRecord).
      const { version } = session.openingRecord()!;
      if (version > opened.highest) opened.highest = version;
      opened.smallest = Math.min(opened.smallest, session.hello.sectorCount);
      h.pinned = Buffer.from(session.peer.instanceId);
      opened.instanceIds.push(h.pinned);
    } catch (err) {
      throw new ArrayError('E_CREATE_NODE', `slot ${h.slot}: ${(err as Error).message}`);
    }
  }
  return opened;
}

/** Every node must take every write: a node that fails during creation fails the creation. */
async function onAll(state: ArrayState, fn: (h: NodeHandle) => Promise<unknown>): Promise<void> {
  await Promise.all(state.handles.map(fn));
}

/** One format batch, the same on every node: a piece of the wipe, a piece of the tables, or both. */
interface FormatBatch {
  trim?: { sector: number; count: number };
  rows?: { first: number; count: number };
}

/**
 * The wipe in pieces a node accepts (one batch may trim at most
 * batchWorkBytesMax), then the table rows, formatRowsPerBatch per batch, the
 * first of them in the last wipe batch. Every trim runs before any table
 * write, as when each went alone: a later trim never zeroes a table sector.
 */
function formatPlan(g: Geometry): FormatBatch[] {
  const trimSectors = batchWorkBytesMax / sectorBytes;
  const plan: FormatBatch[] = [];
  for (let first = 0; first < g.nodeSectors; first += trimSectors) plan.push({ trim: { sector: first, count: Math.min(trimSectors, g.nodeSectors - first) } });
  for (let first = 0; first < g.tableRows; first += formatRowsPerBatch) {
    const rows = { first, count: Math.min(formatRowsPerBatch, g.tableRows - first) };
    if (first === 0 && plan.length) plan[plan.length - 1].rows = rows;
    else plan.push({ rows });
  }
  return plan;
}

async function format(state: ArrayState, onProgress?: (done: number, total: number) => void): Promise<void> {
  const g = state.geometry;
  const plan = formatPlan(g);
  const commit = encodeCommit(state.keys.journalMac, state.arrayId, { version: 0n, headerDigests: new Array(state.n).fill(undefined) });
  for (const [i, step] of plan.entries()) {
    const perSlot = step.rows && tableRowShards(state, g, step.rows.first, step.rows.count);
    await onAll(state, (h) => {
      const commands: OutgoingCommand[] = [];
      if (step.trim) commands.push({ op: Op.trim, ...step.trim });
      if (step.rows) commands.push({ op: Op.write, sector: rowSector(g, 'table', step.rows.first), count: step.rows.count, data: perSlot![h.slot] });
      // The empty commit record in the last batch: like the tables, it only has to be there before the membership record.
      if (i === plan.length - 1) commands.push({ op: Op.write, sector: commitSector, count: 1, data: commit });
      return h.batch(commands);
    });
    if (step.rows) onProgress?.(step.rows.first + step.rows.count, g.tableRows);
  }
  // Last, and only once every node holds its tables and commit record: a crash before this leaves no record anywhere.
  const record = encodeMembership(state.keys.membershipMac, state.membership);
  await onAll(state, (h) => h.batch([{ op: Op.deathWrite, version: state.membership.version, record }]));
}

/** Blank table sectors for rows [first, first+rows), encoded, with parity: one buffer per slot. */
function tableRowShards(state: ArrayState, g: Geometry, first: number, rows: number): Buffer[] {
  const n = g.k + g.m;
  const tables = tableSectorsFor(g.dataRows, g.k);
  const perSlot = Array.from({ length: n }, () => Buffer.alloc(rows * sectorBytes));
  // One row's shards, reused row after row (zeroed first: a row past the last table sector stays blank).
  const scratch = Buffer.alloc(n * sectorBytes);
  const shards = Array.from({ length: n }, (_, j) => scratch.subarray(j * sectorBytes, (j + 1) * sectorBytes));
  for (let r = 0; r < rows; r++) {
    const row = first + r;
    scratch.fill(0);
    for (let j = 0; j < g.k; j++) if (row * g.k + j < tables) encodeTable(state.keys, row * g.k + j, shards[j]);
    state.code.encode(shards.slice(0, g.k), shards.slice(g.k));
    shards.forEach((shard, j) => shard.copy(perSlot[slotOfShard(g, row, j)], r * sectorBytes));
  }
  return perSlot;
}
