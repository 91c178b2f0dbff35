// Crash points of a vault rotation, enumerated: the manager crashes after
// every frame of the rotation (journal, commit and apply: the rotation
// resolves only once applied), and the recovery after it crashes at every
// one of its frames too, or not at all; one node dies at the crash, at every
// frame of the recovery, or between a crashed recovery and the next. A
// second family kills a node at every frame of the rotation itself, and the
// manager crashes at every later frame. After each point a new manager
// opens the array and the vault must be wholly in the old epoch or wholly
// in the new one (the new one whenever the rotation had been acknowledged),
// and every volume's recorded key check must be that of its recorded
// epoch's key.
//
// The rotation is run once per shape without a crash, and the nodes' memory
// is copied after every frame: a manager that crashes after frame c leaves
// exactly the memory the nodes had after frame c (frames are delivered in a
// fixed order and the nodes' cores are deterministic), so each point starts
// from that copy instead of replaying the setup and the rotation. The node
// copies keep their instance keys: they are the same nodes, not new ones.
import { createHash } from 'node:crypto';
import { openArray } from '../../array-manager/array-open.ts';
import type { TransactionWrite, VirtualDisk } from '../../array-manager/virtual-disk.ts';
import { DiskNodeCore } from '../../disk-node/node-core.ts';
import { SectorStore } from '../../disk-node/store.ts';
import { configurationDigest } from '../../vault/configuration.ts';
import { dealEpoch, priorsAfter, type Deal } from '../../vault/dealer.ts';
import { keyCheck, volumeKey } from '../../vault/epoch-keys.ts';
import { decodeRecords } from '../../vault/vault-records.ts';
import { vaultSectors } from '../../vault/vault-limits.ts';
import { openVault, type Vault, type VaultDisk, type VolumeUpdate } from '../../vault/vault.ts';
import { SimCluster } from '../sim/sim-cluster.ts';
import { memberArray } from './member-array.ts';

const memberIds = ['m1', 'm2', 'm3'];

/** A copy of a node: the same instance (keys, sessions seen), its memory duplicated. */
export function copyNode(node: DiskNodeCore): DiskNodeCore {
  const store: SectorStore = Object.assign(Object.create(SectorStore.prototype), node.store, {
    chunks: node.store.chunks.map((c) => Buffer.from(c)),
    deathRecord: Buffer.from(node.store.deathRecord),
  });
  return Object.assign(Object.create(DiskNodeCore.prototype), node, { store, stats: { ...node.stats } });
}

/** What a shape's one uncrashed rotation left: the nodes after each frame and what the vault must read as. */
export interface RotationRun {
  k: number;
  m: number;
  template: SimCluster;
  /** after[c]: every node's copy once c frames of the rotation were delivered. */
  after: DiskNodeCore[][];
  /** Frames delivered when the rotation's transaction was acknowledged: a crash from then on must leave the new epoch. */
  ackFrame: number;
  dataKey: Buffer;
  deals: [Deal, Deal];
  /** Outcomes of the final recoveries run so far, by startingState(). */
  outcomes: Map<string, string[]>;
  /** The key check of each volume's key in each epoch, computed from the deals' secrets ("vol-a@2"). */
  keyChecks: Map<string, Uint8Array>;
}

function volumeUpdate(deal: Deal, name: string): VolumeUpdate {
  const c = deal.configuration;
  return { name, keyCheck: keyCheck(volumeKey(deal.secret, c.rackId, c.epoch, name)) };
}

/** Array, vault and epoch 1 with two volumes; the deal of epoch 2 ready (vol-a moves to it). */
async function setUp(k: number, m: number) {
  const { cluster, disk, key } = await memberArray(k, m);
  const vault = await openVault(disk);
  await vault.init(memberIds[0]);
  const first = dealEpoch({ epoch: 1, threshold: 2, memberIds, priors: [] });
  await vault.storeShare(first.configuration, first.shares[0], [volumeUpdate(first, 'vol-a'), volumeUpdate(first, 'vol-b')]);
  const second = dealEpoch({ rackId: first.configuration.rackId, epoch: 2, threshold: 2, memberIds, priors: priorsAfter(first.configuration, first.secret) });
  return { cluster, disk, key, vault, deals: [first, second] as [Deal, Deal] };
}

function rotate(vault: Vault, deals: [Deal, Deal]): Promise<void> {
  return vault.rotate(deals[1].configuration, deals[1].shares[0], [volumeUpdate(deals[1], 'vol-a')]);
}

/** One uncrashed rotation with copies after each frame; `split` rotates in two transactions (a control that must fail). */
export async function runRotation(k: number, m: number, split = false): Promise<RotationRun> {
  const { cluster, disk, key, deals } = await setUp(k, m);
  const base = cluster.delivered;
  const state = recordFrames(cluster);
  let ackFrame = -1;
  // Acknowledged once the (last) transaction resolved.
  await rotate(await openVault(tracked(disk, () => (ackFrame = cluster.delivered - base), split)), deals);
  cluster.onAnswered = () => {};
  const after = Array.from({ length: cluster.delivered - base + 1 }, (_, c) => state(c));
  await disk.close();
  const keyChecks = new Map<string, Uint8Array>();
  for (const d of deals) for (const name of ['vol-a', 'vol-b']) keyChecks.set(`${name}@${d.configuration.epoch}`, volumeUpdate(d, name).keyCheck);
  return { k, m, template: cluster, after, ackFrame, dataKey: key, deals, keyChecks, outcomes: new Map() };
}

/** The disk as the vault sees it, telling `onAck` when a transaction is acknowledged (before its apply). */
function tracked(disk: VirtualDisk, onAck: () => void, split = false): VaultDisk {
  // The control: a disk that lands the vault's region in two transactions, as a vault without one could.
  const transaction = split
    ? async (writes: TransactionWrite[]) => {
        await disk.transaction(writes.slice(0, writes.length / 2));
        await disk.transaction(writes.slice(writes.length / 2));
      }
    : (writes: TransactionWrite[]) => disk.transaction(writes);
  return {
    sectors: disk.sectors,
    blockBytes: disk.blockBytes,
    readSectors: (first, count) => disk.readSectors(first, count),
    transaction: (writes) => transaction(writes).then(onAck),
    flush: () => disk.flush(),
  };
}

/** A cluster of copies of `nodes`, answering to the template's manager. */
export function fork(run: RotationRun, nodes: DiskNodeCore[]): SimCluster {
  // One-sector placeholder nodes, replaced at once by the copies.
  const cluster = new SimCluster(run.k + run.m, 1);
  (cluster as { manager: SimCluster['manager'] }).manager = run.template.manager;
  nodes.forEach((node, slot) => (cluster.nodes[slot] = copyNode(node)));
  return cluster;
}

/** Opens the array (recovery); 'frozen' when the cluster's crash point stops it first. */
async function recover(cluster: SimCluster, dataKey: Buffer): Promise<VirtualDisk | 'frozen'> {
  return Promise.race([openArray({ connector: cluster.connector(), dataKey }), cluster.whenFrozen()]);
}

/** The cluster's nodes after each frame from now on: `state(r)` is their memory once r more frames were delivered. */
function recordFrames(cluster: SimCluster): (r: number) => DiskNodeCore[] {
  const base = cluster.delivered;
  let last = cluster.nodes.map(copyNode);
  const after: DiskNodeCore[][] = [last];
  // Only the node that answered changed: the others' copies are shared with the frame before.
  cluster.onAnswered = (slot) => {
    last = last.map((node, i) => (i === slot ? copyNode(cluster.nodes[i]) : node));
    after[cluster.delivered - base] = last;
  };
  // A frame counted but not answered (its node had just died) changed no memory: the last copy before it holds.
  return (r) => {
    for (let d = Math.min(r, after.length - 1); ; d--) if (after[d]) return after[d];
  };
}

/** Where the victim dies: at the manager crash, at a frame of the first recovery, or only between a crashed recovery and the next. */
export type Death = { at: 'crash' } | { at: 'recovery'; frame: number } | { at: 'between' };

export interface SweepResult {
  points: number;
  /** Recoveries actually run: a point whose final recovery starts from the same memory and losses as an earlier one's shares its outcome. */
  recoveries: number;
  violations: string[];
}

/** VAULT_SWEEP_SHARE=0 runs every point's final recovery, identical starting states included (for long runs). */
const shareOutcomes = process.env.VAULT_SWEEP_SHARE !== '0';

/**
 * Names what a final recovery starts from: every node's instance, memory and
 * death record, and which nodes are dead. The recovery is a deterministic
 * function of these (the manager's keys are fixed per run), so two points
 * with the same name have the same outcome; the node's session counters are
 * left out, as a new manager's sessions do not depend on them.
 */
function startingState(cluster: SimCluster, dead: number): string {
  const h = createHash('sha256');
  cluster.nodes.forEach((node) => {
    h.update(node.instanceId);
    for (const chunk of node.store.chunks) h.update(chunk);
    h.update(node.store.deathRecord);
  });
  return `${dead}:${h.digest('hex')}`;
}

/**
 * Every point that starts from the crash after `crashFrame` frames of the
 * rotation and loses `victim`: for each moment of its death, the first
 * recovery runs once to the end (a point of its own, unless the victim dies
 * only between recoveries) while the nodes' memory is copied after each of
 * its frames; each frame r at which that recovery could have crashed
 * instead is then a point whose second recovery starts from the copy after r.
 */
export async function sweepCrashFrame(run: RotationRun, crashFrame: number, victim: number): Promise<SweepResult> {
  const result: SweepResult = { points: 0, recoveries: 0, violations: [] };
  const acknowledged = crashFrame >= run.ackFrame;
  const point = (label: string, violations: string[]) => {
    result.points++;
    for (const v of violations) result.violations.push(`crashFrame=${crashFrame} victim=${victim} ${label}: ${v}`);
  };
  const group = async (death: Death): Promise<number> => {
    const cluster = fork(run, run.after[crashFrame]);
    if (death.at === 'crash') cluster.kill(victim);
    if (death.at === 'recovery') cluster.after(death.frame, () => cluster.kill(victim));
    const state = recordFrames(cluster);
    const disk = await recover(cluster, run.dataKey);
    if (disk === 'frozen') throw new Error('a recovery without a crash point froze');
    const ran = cluster.delivered;
    result.recoveries++;
    const name = death.at === 'recovery' ? `death at recovery frame ${death.frame}` : `death ${death.at}`;
    if (death.at !== 'between') point(`${name}, recovery ends`, await checkVault(run, disk, acknowledged));
    else await disk.close();
    // The recovery crashes after r frames, once the victim has died (r > its frame); the next recovery runs without it.
    const firstCrash = death.at === 'recovery' ? death.frame + 1 : 0;
    for (let r = firstCrash; r < ran; r++) {
      const next = fork(run, state(r));
      next.kill(victim);
      const key = `${acknowledged}:${startingState(next, victim)}`;
      let outcome = shareOutcomes ? run.outcomes.get(key) : undefined;
      if (!outcome) {
        const again = await recover(next, run.dataKey);
        if (again === 'frozen') throw new Error('a recovery without a crash point froze');
        outcome = await checkVault(run, again, acknowledged);
        run.outcomes.set(key, outcome);
        result.recoveries++;
      }
      point(`${name}, recovery crash at ${r}`, outcome);
    }
    return ran;
  };
  // The recovery that loses no node first: its length gives the frames at which the victim can die.
  const frames = await group({ at: 'between' });
  await group({ at: 'crash' });
  for (let frame = 0; frame < frames; frame++) await group({ at: 'recovery', frame });
  return result;
}

/** A node dies after `deathFrame` frames of the rotation, the manager crashes after `crashFrame` (> deathFrame). */
export async function runDeathDuringRotation(run: RotationRun, deathFrame: number, crashFrame: number, victim: number): Promise<string[]> {
  const cluster = fork(run, run.after[0]);
  const disk = await openArray({ connector: cluster.connector(), dataKey: run.dataKey });
  let acknowledged = false;
  const vault = await openVault(tracked(disk, () => (acknowledged = true)));
  cluster.after(deathFrame, () => cluster.kill(victim));
  cluster.crashAt = cluster.delivered + crashFrame;
  const outcome = await Promise.race([rotate(vault, run.deals).then(() => 'done', () => 'failed'), cluster.whenFrozen()]);
  if (outcome !== 'frozen') cluster.freezeAll();
  const recovered = await recover(cluster, run.dataKey);
  if (recovered === 'frozen') return ['recovery froze without a crash point'];
  return checkVault(run, recovered, acknowledged);
}

/** The vault reads as wholly epoch 1 or wholly epoch 2 (epoch 2 when acknowledged), with matching key checks. */
export async function checkVault(run: RotationRun, disk: VirtualDisk, acknowledged: boolean): Promise<string[]> {
  const violations: string[] = [];
  try {
    // One read of the region, decoded as openVault() and readShare() decode it (the marker's digest checked).
    const records = decodeRecords(await disk.readSectors(0, vaultSectors));
    const epoch = records?.configuration?.epoch ?? 0;
    const deal = run.deals[epoch - 1];
    if (!records || !deal) return [`epoch ${epoch} is neither the old nor the new one`];
    if (acknowledged && epoch !== 2) violations.push('an acknowledged rotation was lost');
    if (records.generation !== epoch + 1) violations.push(`generation ${records.generation} with epoch ${epoch}`);
    if (!Buffer.from(configurationDigest(records.configuration!)).equals(Buffer.from(configurationDigest(deal.configuration)))) violations.push(`configuration is not epoch ${epoch}'s`);
    if (!records.share || !Buffer.from(records.share).equals(Buffer.from(deal.shares[0]))) violations.push(`share is not epoch ${epoch}'s`);
    const expected = epoch === 1 ? [['vol-a', 1], ['vol-b', 1]] : [['vol-b', 1], ['vol-a', 2]];
    const got = records.volumes.map((v) => [v.name, v.epoch]);
    if (JSON.stringify(got) !== JSON.stringify(expected)) violations.push(`volume map ${JSON.stringify(got)} in epoch ${epoch}`);
    for (const v of records.volumes) {
      if (!Buffer.from(run.keyChecks.get(`${v.name}@${v.epoch}`)!).equals(Buffer.from(v.keyCheck))) violations.push(`${v.name}: key check is not that of epoch ${v.epoch}'s key`);
    }
  } catch (err) {
    violations.push(`vault: ${(err as Error).message}`);
  } finally {
    await disk.close();
  }
  return violations;
}

/** Points of every (crash frame, victim) of a shape, in an order that spreads the crash frames, until `pointsMin` have run. */
export async function sweepShape(k: number, m: number, pointsMin = Infinity): Promise<SweepResult & { crashFrames: number; units: number }> {
  const run = await runRotation(k, m);
  const frames = run.after.length;
  // Crash frames by a fixed stride coprime with their count, so a bounded sweep covers journal, commit and apply alike.
  let stride = 3;
  while (frames % stride === 0) stride++;
  const result = { points: 0, recoveries: 0, violations: [] as string[], crashFrames: frames, units: 0 };
  for (let i = 0; i < frames && result.points < pointsMin; i++) {
    const crashFrame = (i * stride) % frames;
    for (let victim = 0; victim < k + m && result.points < pointsMin; victim++) {
      const r = await sweepCrashFrame(run, crashFrame, victim);
      result.points += r.points;
      result.recoveries += r.recoveries;
      result.violations.push(...r.violations);
      result.units++;
    }
  }
  return result;
}

/** Every node death during the rotation (after each frame, each victim) with the manager crashing at each later frame. */
export async function sweepDeathsDuringRotation(k: number, m: number): Promise<SweepResult> {
  const run = await runRotation(k, m);
  const result: SweepResult = { points: 0, recoveries: 0, violations: [] };
  const frames = run.after.length - 1;
  for (let deathFrame = 0; deathFrame < frames; deathFrame++) {
    for (let crashFrame = deathFrame + 1; crashFrame <= frames; crashFrame++) {
      for (let victim = 0; victim < k + m; victim++) {
        result.points++;
        result.recoveries++;
        for (const v of await runDeathDuringRotation(run, deathFrame, crashFrame, victim)) result.violations.push(`death at rotation frame ${deathFrame}, crash at ${crashFrame}, victim ${victim}: ${v}`);
      }
    }
  }
  return result;
}
