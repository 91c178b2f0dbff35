// Test support: a trust-quorum member's array on in-process disk nodes (key
// erasure on, small nodes), and a scan of every node's RAM for given byte
// strings.
import { createArray } from '../../array-manager/array-create.ts';
import type { VirtualDisk } from '../../array-manager/virtual-disk.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';

export interface MemberArray {
  cluster: SimCluster;
  disk: VirtualDisk;
  key: Buffer;
}

/** Journal pieces per node: the vault's 16-sector region in one entry needs 9 rows at k = 2. */
export const vaultJournalPieces = 12;

export async function memberArray(k = 2, m = 1, nodeSectors = 64): Promise<MemberArray> {
  const cluster = new SimCluster(k + m, nodeSectors);
  const key = dataKey();
  const disk = await createArray({ connector: cluster.connector(), dataKey: key, k, m, journalPieces: vaultJournalPieces, keyErasure: true });
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
