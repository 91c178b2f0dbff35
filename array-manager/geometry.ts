// Where everything lives: the layout of an array across its n = k + m disk
// nodes (docs/FORMAT.md). Pure arithmetic, no I/O.
//
// Every node has the same sector layout:
//
//     node sector            what
//     0                      commit record (journal atomicity record)
//     1                      journal header
//     2 .. 2+P               journal payload (P pieces)
//     tableStart ..          table rows: the IV+MAC table sectors, erasure coded
//     dataStart ..           data rows: the user's sectors, erasure coded
//
// A row is one stripe: one sector on each node at the same node sector. In
// row r, shard j (0..k-1 data, k..n-1 parity) lives on slot (j + r) mod n, so
// parity rotates and no node is the parity hot spot. Array sector s (the
// user's LBA) is data shard s mod k of data row floor(s / k); table sector t
// is data shard t mod k of table row floor(t / k).
import { tableEntriesMax } from './crypto/crypto-constants.ts';

export const sectorBytes = 4096;
export const commitSector = 0;
export const journalHeaderSector = 1;
export const journalPayloadStart = 2;
/** Most slots in an array: bounded so the membership record fits one 4 KiB death record. */
export const slotsMax = 128;
/** Default journal payload capacity per node per entry (sectors): rows one entry may touch. */
export const journalPiecesDefault = 256;
/** Most journal pieces per node: one node's pieces and header must fit one request frame. */
export const journalPiecesMax = 768;

export class GeometryError extends Error {
  readonly code = 'E_GEOMETRY';
}

export interface Geometry {
  k: number;
  m: number;
  /** Sectors on each node. */
  nodeSectors: number;
  /** Journal payload sectors per node. */
  journalPieces: number;
  tableRows: number;
  dataRows: number;
}

export type Region = 'table' | 'data';

export function slots(g: Geometry): number {
  return g.k + g.m;
}

export function tableStart(g: Geometry): number {
  return journalPayloadStart + g.journalPieces;
}

export function dataStart(g: Geometry): number {
  return tableStart(g) + g.tableRows;
}

/** Sectors the user sees. */
export function userSectors(g: Geometry): number {
  return g.dataRows * g.k;
}

export function tableSectorsFor(dataRows: number, k: number): number {
  return Math.ceil((dataRows * k) / tableEntriesMax);
}

function tableRowsFor(dataRows: number, k: number): number {
  return Math.ceil(tableSectorsFor(dataRows, k) / k);
}

/** Chooses the largest data region that fits `nodeSectors` with its tables and journal. */
export function planGeometry(k: number, m: number, nodeSectors: number, journalPieces = journalPiecesDefault): Geometry {
  const n = k + m;
  if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 1 || n > slotsMax) {
    throw new GeometryError(`k=${k} m=${m}: need integers k >= 1, m >= 1, k + m <= ${slotsMax}`);
  }
  if (!Number.isInteger(journalPieces) || journalPieces < n || journalPieces > journalPiecesMax) {
    throw new GeometryError(`journal of ${journalPieces} pieces: need ${n}..${journalPiecesMax}`);
  }
  const avail = nodeSectors - journalPayloadStart - journalPieces;
  // rows + tableRows(rows) <= avail; tables take under 1% so start from the bound and step down.
  let dataRows = Math.max(0, Math.floor((avail * tableEntriesMax) / (tableEntriesMax + 1)));
  while (dataRows > 0 && dataRows + tableRowsFor(dataRows, k) > avail) dataRows--;
  if (dataRows < 1) throw new GeometryError(`${nodeSectors} sectors per node leave no room for data`);
  return { k, m, nodeSectors, journalPieces, tableRows: tableRowsFor(dataRows, k), dataRows };
}

/** The slot holding shard `shard` of row `row`. */
export function slotOfShard(g: Geometry, row: number, shard: number): number {
  return (shard + row) % slots(g);
}

/** The shard index slot `slot` holds in row `row`. */
export function shardOfSlot(g: Geometry, row: number, slot: number): number {
  const n = slots(g);
  return (((slot - row) % n) + n) % n;
}

/** Node sector of row `row` in `region`. */
export function rowSector(g: Geometry, region: Region, row: number): number {
  return (region === 'table' ? tableStart(g) : dataStart(g)) + row;
}

/**
 * Rows counted over the table rows, then the data rows: the unit a rebuild
 * or scrub walks. Stripe i lives at node sector tableStart + i on every node.
 */
export function stripes(g: Geometry): number {
  return g.tableRows + g.dataRows;
}

/** The stripe of row `row` of `region`. */
export function stripeOf(g: Geometry, region: Region, row: number): number {
  return region === 'table' ? row : g.tableRows + row;
}

/** Region and row of stripe `stripe`. */
export function stripeRow(g: Geometry, stripe: number): { region: Region; row: number } {
  return stripe < g.tableRows ? { region: 'table', row: stripe } : { region: 'data', row: stripe - g.tableRows };
}

/** Row and shard of an array sector (region 'data') or a table sector (region 'table'). */
export function locate(g: Geometry, index: number): { row: number; shard: number } {
  return { row: Math.floor(index / g.k), shard: index % g.k };
}
