// Test support: a trust-quorum member's array on in-process disk nodes (key
// erasure on, small nodes), and a scan of every node's RAM for given byte
// strings.
import { createArray } from '../../array-manager/array-create.ts';
import type { VirtualDisk } from '../../array-manager/virtual-disk.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';
import { vaultSectors } from '../../vault/vault-limits.ts';

export interface MemberArray {
  cluster: SimCluster;
  disk: VirtualDisk;
  key: Buffer;
}

/** Journal pieces per node: the vault's region in one entry touches ceil(16 / k) data rows and a table row or two. */
function journalPieces(k: number): number {
  return Math.ceil(vaultSectors / k) + 2;
}

/** Sectors per node: commit, header, journal, a table row or two, the vault's rows, and a few rows to spare. */
function nodeSectorsFor(k: number): number {
  return 2 + journalPieces(k) + 2 + Math.ceil(vaultSectors / k) + 4;
}

/** A k + m array of small in-process nodes in key-erasure mode, large enough for the vault. */
export async function memberArray(k = 2, m = 1, nodeSectors = nodeSectorsFor(k)): Promise<MemberArray> {
  const cluster = new SimCluster(k + m, nodeSectors);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k, m, journalPieces: journalPieces(k), keyErasure: true });
  return { cluster, disk, key };
}

/** Every needle (by label) found in any node's sector memory or death record, with where. */
export function scanRam(cluster: SimCluster, needles: Map<string, Uint8Array>): string[] {
  const found: string[] = [];
  cluster.nodes.forEach((node, slot) => {
    const memories = [...node.store.chunks, node.store.deathRecord];
    for (const [label, needle] of needles) {
      if (memories.some((mem) => mem.indexOf(needle) >= 0)) found.push(`${label} on slot ${slot}`);
    }
  });
  return found;
}
