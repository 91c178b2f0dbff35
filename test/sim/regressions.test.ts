// Scenarios the soak found, and the reproductions of issue #9, kept as fixed
// cases so that they stay fixed. Each one replays exactly (runScenario is
// deterministic for a scenario). `violation` records what the code before
// the fix reported.
import t from 'tap';
import { pointScenario } from './exhaustive.ts';
import { emptyStats, runScenario, type SimStats } from './runner.ts';
import type { Scenario, SimOp } from './scenario.ts';

interface Case {
  found: string;
  scenario: Scenario;
  /** What shows that the fault really was injected. */
  injected: (stats: SimStats) => boolean;
  /** The violation the code before the fix reports. */
  violation?: string;
}

const crashedAndLost = (stats: SimStats) => stats.crashes > 0 && stats.nodeLosses > 0;
const arrayOf = (k: number, m: number, groups: SimOp[][]): Scenario => ({ k, m, journalPieces: 8, keyErasure: false, groups });
const smallArray = (groups: SimOp[][]): Scenario => arrayOf(2, 1, groups);
const writeSector0 = (seed: number): SimOp => ({ kind: 'write', sector: 0, count: 1, seed });
/** A new manager opens the array: the crash lands on the first frame of a write far from sector 0. */
const restartManager: SimOp[] = [
  { kind: 'crash', afterFrames: 0, duringRecovery: -1 },
  { kind: 'write', sector: 50, count: 1, seed: 4 },
];

const cases: Case[] = [
  {
    // A 1 ms wait after a commit for a next write to carry the apply (since
    // taken out) left data row 0 unreadable with m = 3 nodes lost.
    found: 'soak, seed 1331347991',
    scenario: {
      k: 5,
      m: 3,
      journalPieces: 8,
      keyErasure: false,
      groups: [
        [
          { kind: 'kill', slot: 1, afterFrames: 0, restart: false },
          { kind: 'txn', sectors: [0, 1], seed: 0 },
        ],
        [
          { kind: 'write', sector: 0, count: 1, seed: 0 },
          { kind: 'kill', slot: 2, afterFrames: 13, restart: false },
        ],
        [
          { kind: 'crash', afterFrames: 20, duringRecovery: 13 },
          { kind: 'kill', slot: 0, afterFrames: 28, restart: false },
          { kind: 'write', sector: 0, count: 6, seed: 0 },
        ],
        [{ kind: 'write', sector: 0, count: 1, seed: 0 }],
      ],
    },
    injected: crashedAndLost,
  },
  {
    // Hole 1: recovery applies commit V on some participants without first
    // making commit V durable on every live node; it is cut short, the only
    // node holding commit V dies, and the next recovery sees V-1.
    found: 'issue #9, hole 1 (recovery applies a commit it has not replicated)',
    // The reproduction (k=2 m=1: crash after 7 frames, again after 7 frames of recovery, slot 0
    // lost 12 frames later) was counted in protocol v1 frames; each session now starts with an ATTEST
    // batch, so the same moments lie at other frame counts. This is the point of the exhaustive sweep
    // that lands on them, found with the fix taken out (k=2 m=1, a write of two rows). Found again
    // after frames were cut: the first group's apply rides in the second group's journal round (the
    // committer's applyWaitMs), and an opening's first batch reads the membership record (crash frame
    // 7, recovery frame 10, death 8 before).
    scenario: pointScenario({ k: 2, m: 1, op: 'write-two-rows', crashFrame: 4, recoveryCrashFrame: 7, victim: 0, death: 5 }),
    injected: crashedAndLost,
    violation: 'verify after recovery: E_UNRECOVERABLE E_UNRECOVERABLE: data row 0: fewer than k = 2 shards readable and valid with 1 faulty of m=1',
  },
  {
    // Hole 2: manager 1 cannot reach slot 2, marks it dead in version 2 and
    // crashes after only slot 0 stored it (frame 2 of the group). Manager 2
    // cannot reach slot 0 (the partition moves with the restart), adopts
    // version 1 from slots 1 and 2, marks slot 0 dead in its own version 2
    // and acknowledges a write of sector 0. Manager 3 hears slot 0 first,
    // adopts its version 2, trusts slot 0 and reads its old sector 0.
    found: 'issue #9, hole 2 (two membership records with one version)',
    scenario: smallArray([
      [writeSector0(1)],
      [
        { kind: 'partition', slot: 2, afterFrames: 0, healAfterMs: -1 },
        { kind: 'partition', slot: 0, afterFrames: -1, healAfterMs: -1 },
        { kind: 'crash', afterFrames: 2, duringRecovery: -1 },
        writeSector0(2),
      ],
      [writeSector0(3)],
      restartManager,
    ]),
    injected: (stats) => stats.crashes === 2 && stats.partitions === 2 && stats.nodeLosses === 0,
    violation: 'after recovery: sector 0: read a value that was never written there or was overwritten by an acknowledged write',
  },
  {
    // Hole 3: slot 0's journal batch for the write of seed 2 (entry V) is
    // withheld; the manager sees a reset, resends, commits V, then journals
    // and commits V+1 (seed 3). The withheld batch reaches slot 0 on its old
    // session after V+1's journal batch and before V+1 is applied there, so
    // the apply (here recovery's, after the crash) copies V's pieces home.
    found: 'issue #9, hole 3 (a withheld batch runs late on its old session)',
    scenario: smallArray([[writeSector0(1)], [{ kind: 'withhold', slot: 0, nth: 0, releaseAfterFrames: 12 }, writeSector0(2)], [writeSector0(3)], restartManager]),
    injected: (stats) => stats.lateFrames === 1 && stats.crashes === 1 && stats.nodeLosses === 0,
    violation: 'after recovery: sector 0: read a value that was never written there or was overwritten by an acknowledged write',
  },
  {
    // Slot 4 dies (killed, marked dead after the window); the membership
    // update that records it cannot reach slot 1 (killed) nor slot 0
    // (partitioned 30,001 ms), so it stops with E_UNAVAILABLE after slots 2,
    // 3 and 5 stored the new version. The next write resumes the update and
    // sends that same version again: the three healthy nodes that already
    // hold it refused with E_DEATH_VERSION, and the manager marked them dead.
    found: 'crash-sim-b, seed 42874 (issue 10 proof: resuming a stopped membership update kills the nodes that stored it)',
    scenario: arrayOf(4, 2, [
      [
        { kind: 'kill', slot: 1, afterFrames: 0, restart: false },
        { kind: 'partition', slot: 0, afterFrames: 11, healAfterMs: 30001 },
      ],
      [writeSector0(0), { kind: 'kill', slot: 4, afterFrames: 0, restart: false }, { kind: 'flush' }],
      [writeSector0(0)],
      [{ kind: 'read', sector: 0, count: 1 }],
    ]),
    // Since a node's outage runs from its first failed connect, the update no longer stops in this scenario;
    // test/array/unreachable-nodes.test.ts stops one on purpose and checks the resume.
    injected: (stats) => stats.nodeLosses === 2 && stats.partitions === 1,
    violation: 'slot 2 marked dead at 60000 ms (virtual) with no real fault: network faults only, its longest partition by then 0 ms of the 30000 ms death window',
  },
  {
    // Slot 0 is lost and slot 2 holds a corrupt shard of data row 27 when
    // slot 1 is partitioned (for 30 s): the unaligned write's read of row 27
    // gets k shards at once, one of them corrupt, and failed with
    // E_UNRECOVERABLE at once, instead of waiting for slot 1 or failing
    // retryably (2 slots really faulty of m = 2).
    found: 'crash-sim, seed 32417 (issue 10 proof: a write does not wait for a silent node when an answered shard is corrupt)',
    scenario: arrayOf(4, 2, [
      [
        { kind: 'corrupt', slot: 2, row: 28, byte: 0 },
        { kind: 'kill', slot: 0, afterFrames: 0, restart: false },
      ],
      [
        { kind: 'partition', slot: 1, afterFrames: 0, healAfterMs: 30000 },
        { kind: 'write', sector: 99, count: 10, seed: 0 },
      ],
      [{ kind: 'network', perMille: 0 }],
    ]),
    injected: (stats) => stats.nodeLosses === 1 && stats.corruptions === 1 && stats.partitions === 1,
    violation: 'write: E_UNRECOVERABLE E_UNRECOVERABLE: data row 27: no reconstruction verifies with 2 really faulty of m=2',
  },
  {
    // Slot 0 is partitioned briefly, answers again (an attested session),
    // then is partitioned for 30 s while slot 1 restarts: the death window
    // ran from the first outage, since only a batch's reply ended one, so an
    // open gave slot 0 up early and refused (1 slot really faulty of m = 1).
    found: 'crash-sim-b, seed 42874 (issue 10 proof: an attested reconnect ends an outage)',
    scenario: {
      ...arrayOf(2, 1, [
        [{ kind: 'partition', slot: 0, afterFrames: -1, healAfterMs: 1 }],
        [
          { kind: 'crash', afterFrames: 4, duringRecovery: 6 },
          { kind: 'partition', slot: 0, afterFrames: 8, healAfterMs: 30000 },
          { kind: 'write', sector: 0, count: 1, seed: 0 },
          { kind: 'kill', slot: 4, afterFrames: 0, restart: true },
        ],
        [{ kind: 'crash', afterFrames: 0, duringRecovery: 0 }],
      ]),
      delivery: { seed: 0, jitter: 0, slotDelays: [0, 1, 1, 1, 1, 1, 0, 0] },
    },
    injected: (stats) => stats.nodeLosses === 1 && stats.partitions === 2 && stats.crashes >= 2,
    violation: "open after crash: E_QUORUM E_QUORUM: 1 nodes returned this array's membership; need m+1 = 2 to rule out a stale view, or every live slot with 1 really faulty of m=1",
  },
  {
    // A forced replacement while a transaction runs: the writer was opening a
    // session to slot 1's old node when the replacement repinned the slot;
    // that session came back after the repin, answered as the old instance,
    // and the handle took it for the new node restarted: the replacement
    // node was marked dead at once (E_IDENTITY), spending one of m losses.
    // Fixed in node-handle.ts: a session opened before a repin is dropped.
    found: 'crash-sim-b with healing ops, seed 42874, scenario 240',
    scenario: {
      ...arrayOf(2, 1, [
        [
          { kind: 'txn', sectors: [64, 0], seed: 0 },
          { kind: 'replace', slot: 1, force: true, spare: 'fresh' },
        ],
        [{ kind: 'flush' }],
      ]),
      delivery: { seed: 0, jitter: 2, slotDelays: [0, 0, 0, 0, 0, 0, 1, 0] },
    },
    injected: (stats) => stats.replacements === 1,
    violation:
      'slot 1 marked dead at 50 ms (virtual) with no real fault: network faults only, its longest partition by then 0 ms of the 30000 ms death window (the node a replacement put there, instance 2c68443e)',
  },
  {
    // A frame of the replacement's check of the new node (its status, the
    // trim of its journal area) reset by the network: the transport error
    // escaped replaceSlot untyped. Fixed in healing/replace.ts: retryable (now E_REPLACE_UNREACHABLE).
    found: 'crash-sim with healing ops (sample 17 of seed 0x7ea1), shrunk by hand',
    scenario: arrayOf(2, 1, [
      [{ kind: 'write', sector: 0, count: 4, seed: 1 }],
      [{ kind: 'kill', slot: 0, afterFrames: 0, restart: false }],
      [
        { kind: 'network', perMille: 400 },
        { kind: 'replace', slot: 0, force: true, spare: 'fresh' },
      ],
    ]),
    injected: (stats) => stats.networkFaults > 0 && stats.retryableRefusals > 0,
    violation: 'replace slot 0: E_CLOSED E_CLOSED: session closed: reset by fault with 1 really faulty of m=1',
  },
  {
    // Slot 4 partitioned 24 s from 200 ms; at 28.3 s the manager's reconnect
    // reached it, but the network reset the session (a withheld frame)
    // before its attestation finished, and at 30.3 s, past the 30 s window
    // counted from the first failed connect, the failure marked the slot
    // dead: redundancy spent on network faults alone. Fixed in
    // node-handle.ts: a session broken after the pinned node's HELLO ends
    // the outage, like any answer.
    found: 'soak, seed 188479891',
    scenario: arrayOf(5, 3, [
      [{ kind: 'kill', slot: 0, afterFrames: 2, restart: false }],
      [
        { kind: 'partition', slot: 4, afterFrames: 7, healAfterMs: 24301 },
        { kind: 'read', sector: 0, count: 1 },
      ],
      [
        { kind: 'withhold', slot: 4, nth: 2, releaseAfterFrames: 0 },
        { kind: 'write', sector: 0, count: 5, seed: 0 },
      ],
      [{ kind: 'withhold', slot: 0, nth: 0, releaseAfterFrames: 0 }],
    ]),
    injected: (stats) => stats.nodeLosses === 1 && stats.partitions === 1 && stats.networkFaults >= 1,
    violation: 'slot 4 marked dead at 30300 ms (virtual) with no real fault: network faults only, its longest partition by then 26300 ms of the 30000 ms death window',
  },
  {
    // A scrub right after a partition of slot 1 healed: slot 1's node was
    // still reconnecting when the pass read table row 0, the stripe verified
    // from the other three shards, and the pass counted it as checked with
    // slot 1's corrupt shard never read. Fixed in row-reader.ts: a scrub
    // (fresh) waits for a serving node that is silent at once, as a read
    // short of shards does, up to its death window.
    found: 'soak, seed 850303767',
    scenario: arrayOf(3, 1, [
      [
        { kind: 'corrupt', slot: 5, row: 0, byte: 0 },
        { kind: 'partition', slot: 1, afterFrames: 0, healAfterMs: 1 },
      ],
      [writeSector0(0), { kind: 'scrub', steps: 0, stripesPerBatch: 16 }],
      [{ kind: 'replace', slot: 0, force: false, spare: 'fresh' }],
    ]),
    injected: (stats) => stats.corruptions === 1 && stats.partitions === 1 && stats.scrubs === 1 && stats.repairedShards >= 1,
    violation: "scrub: a whole pass with no fault in its group left slot 1's corrupted shard of stripe 0 (table row 0, node sector 10) in place with 1 really faulty of m=1",
  },
  {
    // A scrub with one data shard of a stripe missing (slot 0 lost) and a
    // parity shard corrupt (slot 5): the reconstruction that verified left
    // that parity out, and reconstruct() rewrote it in place as it should
    // be, so the comparison with the recomputed parity found nothing wrong
    // and the corrupt shard stayed on its node. Fixed in row-reader.ts
    // (reconstructData puts back the parity it read).
    found: 'crash-sim-b with healing ops, seed 42874, scenario 1315',
    scenario: arrayOf(5, 3, [
      [{ kind: 'corrupt', slot: 5, row: 57, byte: 0 }],
      [{ kind: 'kill', slot: 0, afterFrames: 0, restart: false }],
      [
        { kind: 'scrub', steps: 0, stripesPerBatch: 21 },
        { kind: 'txn', sectors: [0, 1], seed: 0 },
      ],
    ]),
    injected: (stats) => stats.corruptions === 1 && stats.nodeLosses === 1 && stats.scrubs === 1,
    violation: "scrub: a whole pass with no fault in its group left slot 5's corrupted shard of stripe 57 (data row 56, node sector 67) in place with 2 really faulty of m=3",
  },
  {
    // Slot 2's node restarts (frame 20) while the operator forcibly replaces
    // it and a trim journals: the trim's round meets the restarted node
    // (E_IDENTITY) and queues its death behind the replacement's membership
    // updates, which wait out slot 0's death window. By the time it ran, the
    // spare held slot 2, and the old node's failure marked the spare dead.
    // Fixed in array-state.ts: a death is bound to the instance that failed.
    found: 'soak, seed 506842213',
    scenario: {
      ...smallArray([
        [
          { kind: 'kill', slot: 5, afterFrames: 2, restart: true },
          { kind: 'kill', slot: 5, afterFrames: 3, restart: false },
        ],
        [
          { kind: 'replace', slot: 5, force: true, spare: 'fresh' },
          { kind: 'trim', sector: 0, count: 1 },
          { kind: 'kill', slot: 0, afterFrames: 12, restart: false },
        ],
        [{ kind: 'withhold', slot: 0, nth: 0, releaseAfterFrames: 0 }],
      ]),
      delivery: { seed: 2146959038, jitter: 0, slotDelays: [0, 0, 0, 0, 0, 0, 0, 0] },
    },
    injected: (stats) => stats.nodeLosses === 2 && stats.replacements === 1,
    violation: 'slot 2 marked dead at 30050 ms (virtual) with no real fault: network faults only, its longest partition by then 0 ms of the 30000 ms death window (the node a replacement put there, instance …)',
  },
  {
    // A forced replacement while a transaction's journal round runs: the
    // round's batch to slot 1's old node (restarted, unnoticed) failed
    // E_IDENTITY before the replacement repinned the slot, and the round,
    // settling after it, marked the slot dead: the new node, rebuilding.
    // Fixed in array-state.ts (eachSlot): a failure of an instance the slot
    // no longer holds, judged once every call settled, fails the call
    // retryably and kills nothing. Reached once the writer read table and
    // data rows in one round (more frames before it, it never lined up).
    found: 'bench sim, seed 0x7ea1, scenario 78, shrunk',
    scenario: {
      ...arrayOf(3, 2, [
        [
          { kind: 'kill', slot: 1, afterFrames: 15, restart: true },
          { kind: 'crash', afterFrames: 3, duringRecovery: -1 },
          { kind: 'txn', sectors: [0, 1], seed: 0 },
        ],
        [
          { kind: 'txn', sectors: [36, 0], seed: 0 },
          { kind: 'replace', slot: 0, force: false, spare: 'fresh' },
        ],
        [{ kind: 'corrupt', slot: 0, row: 0, byte: 0 }],
      ]),
      keyErasure: true,
      delivery: { seed: 0, jitter: 0, slotDelays: [0, 0, 0, 0, 0, 1, 0, 0] },
    },
    injected: (stats) => stats.replacements === 1 && stats.nodeLosses === 1 && stats.crashes === 1,
    violation:
      'slot 1 marked dead at 0 ms (virtual) with no real fault: network faults only, its longest partition by then 0 ms of the 30000 ms death window (the node a replacement put there, instance e1eb248c)',
  },
  {
    // The same race through an apply batch: judged when that slot's call
    // settled, the failure still matched the slot's instance; the
    // replacement repinned the slot before the other calls settled.
    found: 'crash-sim-b, seed 42874, scenario 895, shrunk',
    scenario: {
      ...arrayOf(2, 1, [
        [
          { kind: 'txn', sectors: [67, 0], seed: 0 },
          { kind: 'kill', slot: 1, afterFrames: 10, restart: true },
        ],
        [
          { kind: 'replace', slot: 5, force: true, spare: 'member' },
          { kind: 'kill', slot: 0, afterFrames: 16, restart: false },
        ],
        [
          { kind: 'replace', slot: 0, force: false, spare: 'fresh' },
          { kind: 'write', sector: 0, count: 1, seed: 0 },
        ],
        [{ kind: 'txn', sectors: [0, 1], seed: 0 }],
      ]),
      delivery: { seed: 0, jitter: 0, slotDelays: [1, 0, 0, 1, 1, 1, 1, 0] },
    },
    injected: (stats) => stats.replacements === 1 && stats.nodeLosses === 2,
    violation:
      'slot 1 marked dead at 100 ms (virtual) with no real fault: network faults only, its longest partition by then 0 ms of the 30000 ms death window (the node a replacement put there, instance c347f748)',
  },
  {
    // A rebuild batch persisted slot 2's cursor 1, then a replacement forced
    // the slot out before the rebuild op looked: the runner never noted that
    // stripe as rebuilt, and took the next manager's cursor 1 (from the
    // complete record) for trusting stripes no one rebuilt. The simulator's
    // bookkeeping, not the manager: fixed in runner.ts (watchRebuilt).
    found: 'soak seed 349365036, shrunk',
    scenario: arrayOf(3, 2, [
      [
        { kind: 'replace', slot: 2, force: true, spare: 'fresh' },
        { kind: 'write', sector: 0, count: 3, seed: 0 },
        { kind: 'kill', slot: 0, afterFrames: -1, restart: false },
      ],
      [
        { kind: 'rebuild', batches: 1, stripesPerBatch: 1, checkpointEvery: 1 },
        { kind: 'crash', afterFrames: 13, duringRecovery: 0 },
        { kind: 'corrupt', slot: 7, row: 0, byte: 0 },
        { kind: 'replace', slot: 0, force: false, spare: 'fresh' },
      ],
      [{ kind: 'replace', slot: 0, force: false, spare: 'fresh' }],
    ]),
    injected: (stats) => stats.replacements >= 2 && stats.crashes >= 1,
    violation: 'after recovery: slot 2 trusts stripes up to 1; no manager rebuilt more than 0',
  },
  {
    // Manager 1 cannot reach slot 4 (partitioned until the crash) and marks
    // it dead in v2, stored on slots 0, 1, 2, 5, 6 and 7 before it crashes;
    // slot 3 keeps v1. Manager 2 hears every node: v2 is refuted by slot 3,
    // v1 stands and is adopted, and its restamp (v3, v1's slots) reaches
    // slots 1, 3, 4, 5 and 7 before the crash in recovery. Manager 3 hears
    // all eight: v3 is refuted by slots 0, 2 and 6 (v2 below it), v2 by the
    // v3 holders (v3 brings slot 4 back), no answer holds v1, and the open
    // refused, waiting for nodes that had all answered. Fixed in
    // membership.ts (adoptCommonPart).
    found: 'soak, seed 316507884',
    scenario: {
      ...arrayOf(5, 3, [
        [
          { kind: 'crash', afterFrames: 21, duringRecovery: 13 },
          { kind: 'write', sector: 0, count: 5, seed: 0 },
          { kind: 'partition', slot: 4, afterFrames: 2, healAfterMs: -1 },
        ],
        [{ kind: 'replace', slot: 0, force: false, spare: 'fresh' }],
      ]),
      delivery: { seed: 13, jitter: 1, slotDelays: [5, 0, 4, 4, 0, 0, 5, 1] },
    },
    injected: (stats) => stats.crashes === 2 && stats.partitions === 1 && stats.replacements === 1,
    violation:
      'open after crash: E_QUORUM E_QUORUM: membership: every record is proven incomplete; waiting for more nodes to tell which update completed with 1 really faulty of m=3',
  },
  {
    // Two replacements offered the same node (a member of this array, at a
    // spare's endpoint) at once: the second's session fenced the first's
    // while it opened, and the first was refused E_REPLACE_ATTESTATION, a
    // verdict on the node, which makes the healer set a hot spare aside for
    // good; a reset by the network at that moment did the same. A session
    // that closes while it opens is now the retryable E_REPLACE_UNREACHABLE
    // (healing/replace.ts), and the check's open frame is an observer's
    // (NodeClientOptions.observeOpen), so neither check fences the other or
    // the array's session to the node: both are refused E_REPLACE_IN_USE.
    found: 'soak, seed 109718272, shrunk',
    scenario: {
      ...smallArray([
        [{ kind: 'kill', slot: 0, afterFrames: 0, restart: true }],
        [
          { kind: 'replace', slot: 0, force: true, spare: 'member' },
          { kind: 'replace', slot: 0, force: false, spare: 'member' },
          { kind: 'write', sector: 1, count: 1, seed: 0 },
        ],
        [{ kind: 'kill', slot: 0, afterFrames: 0, restart: false }],
      ]),
      delivery: { seed: 1325732144, jitter: 3, slotDelays: [0, 0, 0, 0, 1, 0, 0, 0] },
    },
    injected: (stats) => stats.replaceRefusals === 2 && stats.retryableRefusals === 0,
    violation: 'replace slot 0 with a member spare (force): E_REPLACE_ATTESTATION: sim:member:1:2: no attested session: E_CLOSED: session closed: E_FENCED; expected E_REPLACE_IN_USE',
  },
  {
    // The simulator's bookkeeping, not the manager: a `member` spare is a
    // member's node offered at a spare's endpoint, which must be refused.
    // The runner took the node at a member's slot even after it had
    // restarted empty (a new instance, no record), which the manager rightly
    // accepted. Fixed in runner.ts: only a node the membership pins is offered.
    found: 'soak, seeds 374731437 and 744035791, shrunk',
    scenario: arrayOf(3, 2, [
      [{ kind: 'corrupt', slot: 0, row: 0, byte: 0 }],
      [
        { kind: 'replace', slot: 0, force: false, spare: 'fresh' },
        { kind: 'replace', slot: 0, force: false, spare: 'member' },
        // (Frame counts retuned when the replacement check gained its fencing DEATH_READ: 4 and 13 before.)
        { kind: 'partition', slot: 1, afterFrames: 5, healAfterMs: 30051 },
        { kind: 'kill', slot: 0, afterFrames: 15, restart: true },
      ],
      [{ kind: 'trim', sector: 0, count: 1 }],
    ]),
    injected: (stats) => stats.replacements === 1 && stats.replaceRefusals === 1 && stats.nodeLosses === 1,
    violation: 'replace slot 1 with a member spare: accepted; expected E_REPLACE_IN_USE',
  },
];

for (const c of cases) {
  t.test(`no violation: ${c.found}`, async (t) => {
    const stats = emptyStats();
    t.same(await runScenario(c.scenario, stats), [], 'the model holds');
    t.ok(c.injected(stats), 'the faults happened as described');
  });
}
