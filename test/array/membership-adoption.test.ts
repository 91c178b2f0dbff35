// The membership quorum rule (array-manager/membership.ts, docs/JOURNAL.md):
// the fixed case of two different records with one version that issue 9
// found, its variants, and a property over random histories of managers
// that crash part way through membership updates: a slot that a completed
// update marked dead never comes back live in an adopted record.
import t from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { SlotState, adoptMembership, withDead, withSlots, type Membership, type MembershipResponse } from '../../array-manager/membership.ts';

const ids = Array.from({ length: 8 }, () => randomBytes(16));

function genesis(k: number, m: number): Membership {
  return {
    version: 1n,
    arrayId: Buffer.alloc(16, 7),
    geometry: { k, m, nodeSectors: 100, journalPieces: 8, tableRows: 1, dataRows: 10 },
    keyErasure: false,
    slots: Array.from({ length: k + m }, (_, i) => ({ state: SlotState.live, instanceId: ids[i], cursor: 0 })),
  };
}

const deadSet = (m: Membership) => m.slots.flatMap((s, i) => (s.state === SlotState.dead ? [i] : []));

/** Responses from `slots`, each holding `held[slot]`. */
function answers(held: Membership[], slots: number[]): MembershipResponse[] {
  return slots.map((slot) => ({ slot, instanceId: ids[slot], record: held[slot] }));
}

t.test('two records of one version: the complete one wins, whoever answers first', async (t) => {
  // k=3 m=2. A first manager marks slots 3 and 4 dead in v2 and crashes after only slot 0 stored it;
  // a second reaches every node but 0, adopts v1 and marks 0 dead in its own v2, stored by all it reaches.
  const v1 = genesis(3, 2);
  const first = withDead(v1, [3, 4]);
  const second = withDead(v1, [0]);
  const held = [first, second, second, second, second];
  for (const order of [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [0, 3, 4, 1, 2]]) {
    const { membership, highest } = adoptMembership(answers(held, order));
    t.same(deadSet(membership), [0], `order ${order}: the second manager's complete record`);
    t.equal(highest, 2n);
  }
  // Hearing only slot 0 and the two slots the first record killed, nothing tells the records apart: wait.
  t.throws(() => adoptMembership(answers(held, [0, 3, 4])), { code: 'E_QUORUM' }, 'ambiguous: refused, not guessed');
});

t.test('k <= m: the same race is resolved the same way', async (t) => {
  const v1 = genesis(2, 2);
  const first = withDead(v1, [2, 3]);
  const second = withDead(v1, [0]);
  const { membership } = adoptMembership(answers([first, second, second, second], [0, 1, 2, 3]));
  t.same(deadSet(membership), [0]);
});

t.test('records of higher versions that the answers prove incomplete do not hide a complete one', async (t) => {
  // k=3 m=2. A manager that reached 0, 1 and 4 marked 2 and 3 dead in v2 and, after restarting, in v3,
  // each time stored only on slot 0; a later manager that reached 2, 3 and 4 adopted v1 and completed
  // its own v2 with 0 and 1 dead. Slot 4, live in v3 but holding v2, proves v3 incomplete.
  const v1 = genesis(3, 2);
  const partial = withDead(withDead(v1, [2, 3]), [], 2n);
  const complete = withDead(v1, [0, 1]);
  const held = [partial, v1, complete, complete, complete];
  const { membership, highest } = adoptMembership(answers(held, [0, 2, 3, 4]));
  t.same(deadSet(membership), [0, 1], 'the complete record, not the higher partial one');
  t.equal(highest, 3n, 'the next update goes above every version seen');
  t.throws(() => adoptMembership(answers(held, [0, 2, 3])), { code: 'E_QUORUM' }, 'without a witness: refused, not guessed');
});

t.test('two updates each stored by one node, each node live in the other: the record both started from', async (t) => {
  const v1 = genesis(3, 2);
  const a = withDead(v1, [4]);
  const b = withDead(v1, [3]);
  const { membership, highest } = adoptMembership(answers([a, b, v1, v1, v1], [0, 1, 2, 3, 4]));
  t.equal(membership.version, 1n);
  t.equal(highest, 2n);
  t.throws(() => adoptMembership(answers([a, b, v1, v1, v1], [0, 1])), { code: 'E_QUORUM' }, 'fewer than m+1 answers');
});

t.test('every record refuted: the part every answered record agrees on, written above them', async (t) => {
  // k=5 m=3 (soak seed 316507884): v2 marks slot 4 dead and reaches every slot but 3 and 4; the next
  // manager adopts v1 (slot 3 refutes v2) and restamps it as v3, which reaches 1, 3, 4, 5, 7. v3 is
  // refuted by 0, 2, 6 (they hold v2), v2 by the v3 holders (v3 brings slot 4 back), and no one holds v1.
  const v1 = genesis(5, 3);
  const v2 = withDead(v1, [4]);
  const v3 = withDead(v1, [], 2n);
  const held = [v2, v3, v2, v3, v3, v3, v2, v3];
  const all = [0, 1, 2, 3, 4, 5, 6, 7];
  const { membership, usable, highest, unheld, killed } = adoptMembership(answers(held, all));
  t.same(deadSet(membership), [4], 'slot 4, dead in one of the records, stays dead');
  t.same(usable, [0, 1, 2, 3, 5, 6, 7]);
  t.equal(highest, 3n);
  t.ok(unheld, 'no node holds it: the manager writes it first');
  t.same(killed, [4]);
  t.throws(() => adoptMembership(answers(held, [0, 1, 2])), { code: 'E_QUORUM', message: /need m\+1/ }, 'fewer than m+1 answers: refused');
  // Records of one version that refute each other: a replacement one pins and another does not is not
  // trusted (the slot stays dead under the old instance), nor a rebuild cursor beyond the lowest.
  const replacement = randomBytes(16);
  const a = withSlots(v2, new Map([[4, { state: SlotState.rebuilding, instanceId: replacement, cursor: 3 }]]));
  const b = withSlots(v2, new Map([[4, { state: SlotState.rebuilding, instanceId: replacement, cursor: 1 }]]));
  const c = withDead(v2, [0], 2n);
  const mixed = adoptMembership(answers([a, a, a, a, c, c, c, c], all));
  t.same(deadSet(mixed.membership), [0, 4], 'dead in one record: dead; pinned differently: dead');
  t.ok(mixed.membership.slots[4].instanceId.equals(ids[4]), 'the old instance is the one dead');
  t.equal(mixed.membership.version, 3n);
  const agreed = adoptMembership(answers([a, a, b, b, b, b, b, b], all));
  t.same(agreed.membership.slots[4], { state: SlotState.rebuilding, instanceId: replacement, cursor: 1 }, 'rebuilding, at the lowest cursor');
  t.same(deadSet(agreed.membership), []);
});

/** One step of a history: a manager that reaches `reach` and stores its update on the first `stored` of the slots it writes to. */
interface Step {
  reach: number[];
  stored: number;
}

/**
 * Replays a history of managers, one after another: each reaches `reach`, adopts, marks dead every live
 * slot it cannot use and writes its update above every version seen to a prefix of the live slots (it
 * crashes after `stored` of them). Returns the first adoption that revives a slot a complete update
 * killed, or undefined.
 */
function replay(k: number, m: number, steps: Step[]): string | undefined {
  const held: Membership[] = Array.from({ length: k + m }, () => genesis(k, m));
  let completed = held[0];
  for (const [i, step] of steps.entries()) {
    let adopted;
    try {
      adopted = adoptMembership(answers(held, step.reach));
    } catch (err) {
      if ((err as { code?: string }).code === 'E_QUORUM') continue;
      throw err;
    }
    const dead = deadSet(adopted.membership);
    for (const slot of deadSet(completed)) {
      if (!dead.includes(slot)) return `step ${i}: adopted v${adopted.membership.version} with slot ${slot} live, killed by complete v${completed.version}`;
    }
    // The manager marks dead what it cannot use and writes its update above every version seen.
    const lost = adopted.membership.slots.flatMap((s, i) => (s.state === SlotState.live && !adopted.usable.includes(i) ? [i] : []));
    const next = withDead(adopted.membership, lost, adopted.highest);
    const targets = next.slots.flatMap((s, i) => (s.state === SlotState.live ? [i] : []));
    const stored = targets.slice(0, step.stored).filter((slot) => held[slot].version < next.version);
    for (const slot of stored) held[slot] = next;
    if (deadSet(next).length <= m && targets.every((slot) => held[slot] === next)) completed = next;
  }
  return undefined;
}

t.test('histories the property test found', async (t) => {
  // k=3 m=2: a record refuted only by a higher record that revives a slot it killed (`revives`).
  t.equal(
    replay(3, 2, [
      { reach: [0, 3, 4], stored: 1 },
      { reach: [0, 2, 3], stored: 1 },
      { reach: [1, 2, 3, 4], stored: 4 },
      { reach: [0, 1, 2, 3, 4], stored: 3 },
      { reach: [0, 2, 3, 4], stored: 0 },
    ]),
    undefined,
  );
  // k=4 m=2: v2 dead[0] completes on 1-5; v3 dead[0,1] reaches 2,3,4 only; v4 dead[0,2] reaches 1,3 only.
  // Answering 0, 2, 3, 4 hold v1, v3, v4, v3: v3 and v4 are refuted, v1 stands, and no answer holds v2.
  // Slot 0 is the only member of v1 that every answer but at most m (closed under "keeps live") kills:
  // a complete update may have killed it, so it is marked dead, and with three slots left, no quorum.
  const steps = [
    { reach: [1, 2, 3, 4, 5], stored: 5 },
    { reach: [2, 3, 4, 5], stored: 3 },
    { reach: [1, 3, 4, 5], stored: 2 },
    { reach: [0, 2, 3, 4], stored: 0 },
  ];
  t.equal(replay(4, 2, steps), undefined);
  // k=3 m=2, the same hole: v2 dead[4] completes on 0-3; v3 dead[2,4] reaches 0, 1; v4 dead[4] reaches 0.
  // Answering 0, 1, 4 hold v4, v3, v1: v4 and v3 are refuted and v1 stands with slot 4 live.
  t.equal(
    replay(3, 2, [
      { reach: [0, 1, 2, 3], stored: 4 },
      { reach: [0, 1, 3], stored: 2 },
      { reach: [0, 1, 2, 3, 4], stored: 1 },
      { reach: [0, 1, 4], stored: 0 },
    ]),
    undefined,
  );
  const v1 = genesis(4, 2);
  const v2 = withDead(v1, [0]);
  const v3 = withDead(v2, [1]);
  const v4 = withDead(v2, [2], 3n);
  const held = [v1, v4, v3, v4, v3, v2];
  t.throws(() => adoptMembership(answers(held, [0, 2, 3, 4])), { code: 'E_QUORUM', message: /need k = 4/ }, 'slot 0 is not counted');
  const all = adoptMembership(answers(held, [0, 1, 2, 3, 4, 5]));
  t.same(deadSet(all.membership), [0], 'slot 5 holds v2 and refutes v3 and v4: v2 is adopted');
  t.same(all.killed, []);
});

t.test('the answers allow a complete update to have killed a member of the standing record: it is marked dead', async (t) => {
  const v1 = genesis(4, 2);
  const v2 = withDead(v1, [0]);
  const v3 = withDead(v2, [1]);
  const v4 = withDead(v2, [2], 3n);
  // Slot 5 answers too, with v2 — but say slot 5 too had moved on to v3: then every answer but slot 0 kills 0.
  const held = [v1, v4, v3, v4, v3, v3];
  const { membership, killed, usable, highest } = adoptMembership(answers(held, [0, 2, 3, 4, 5]));
  t.equal(membership.version, 1n, 'the standing record, v1 ...');
  t.same(deadSet(membership), [0], '... with slot 0 marked dead');
  t.same(killed, [0], 'reported, so the manager writes it');
  t.same(usable, [2, 3, 4, 5]);
  t.equal(highest, 4n);
  // Two stale answers keep slot 0 live: the least set of answers that would all have to be dead has 0, 1
  // and (keeping 1 live) 3: more than m, so no complete update killed 0, and the record is left as it is.
  const spread = [v1, v1, v3, v4, v3, v3];
  t.same(adoptMembership(answers(spread, [0, 1, 2, 3, 4, 5])).killed, []);
});

t.test('property: no adopted record revives a slot that a completed update killed', async () => {
  const shapes: [number, number][] = [[2, 1], [3, 2], [2, 3], [4, 2], [1, 2], [2, 2]];
  await fc.assert(
    fc.property(
      fc.constantFrom(...shapes).chain(([k, m]) =>
        fc.tuple(
          fc.constant([k, m] as const),
          fc.array(fc.record({ reach: fc.subarray([...Array(k + m).keys()], { minLength: 1 }), stored: fc.nat(k + m) }), { minLength: 1, maxLength: 16 }),
        ),
      ),
      ([[k, m], steps]: [readonly [number, number], Step[]]) => replay(k, m, steps) === undefined,
    ),
    { numRuns: Number(process.env.MEMBERSHIP_RUNS ?? 5000) },
  );
});

t.test('k <= m: fewer than m+1 answers suffice when every slot live in the record answered with it', async (t) => {
  // k=2 m=3: slots 3 and 4 were lost and marked dead; the three left answer, fewer than m+1 = 4.
  const current = withDead(genesis(2, 3), [3, 4]);
  const held = [current, current, current, genesis(2, 3), genesis(2, 3)];
  t.same(deadSet(adoptMembership(answers(held, [0, 1, 2])).membership), [3, 4]);
  // The losses not yet recorded: the answers fit a newer update that killed the answering slots, so wait.
  const stale = genesis(2, 3);
  t.throws(() => adoptMembership(answers([stale, stale, stale, stale, stale], [0, 1, 2])), { code: 'E_QUORUM' });
});

t.test('k <= m: a rebuilding replacement holds the record like a live slot; an operator can accept silent slots as lost', async (t) => {
  // k=2 m=3: slots 3 and 4 lost and recorded dead (v2); then slot 3 replaced by a new instance (v3, rebuilding).
  const v1 = genesis(2, 3);
  const v2 = withDead(v1, [3, 4]);
  const replacement = randomBytes(16);
  const v3: Membership = { ...v2, version: 3n, slots: v2.slots.map((s, i) => (i === 3 ? { state: SlotState.rebuilding, instanceId: replacement, cursor: 5 } : s)) };
  const held = [v3, v3, v3, v3, v2];
  const withReplacement = (slots: number[]): MembershipResponse[] =>
    slots.map((slot) => ({ slot, instanceId: slot === 3 ? replacement : ids[slot], record: held[slot] }));
  const { membership, usable } = adoptMembership(withReplacement([0, 1, 2, 3]));
  t.equal(membership.version, 3n, 'four record holders, the replacement among them: m+1');
  t.same(usable, [0, 1, 2, 3], 'the rebuilding slot is usable (it serves the stripes below its cursor)');
  t.throws(() => adoptMembership(withReplacement([0, 1, 3])), { code: 'E_QUORUM', message: /silent: 2/ }, 'three holders and a member silent: refused');
  const accepted = adoptMembership(withReplacement([0, 1, 3]), undefined, [2]);
  t.equal(accepted.membership.version, 3n, 'the operator accepts slot 2 as lost: adopted');
  t.throws(() => adoptMembership(withReplacement([0, 1, 3]), undefined, [4]), { code: 'E_QUORUM' }, 'accepting another slot does not help');
  // The old instance of a replaced slot never counts: answering at slot 3 with its old identity, it is ignored.
  const old = adoptMembership([...withReplacement([0, 1, 2]), { slot: 3, instanceId: ids[3], record: v2 }, { slot: 4, instanceId: ids[4], record: v2 }]);
  t.equal(old.membership.version, 3n);
  t.same(old.usable, [0, 1, 2], 'the displaced instance is not usable');
  // Only live slots serve every stripe: two of them are needed (k), the rebuilding one does not make up for a third.
  t.throws(() => adoptMembership(withReplacement([0, 3]), undefined, [1, 2]), { code: 'E_QUORUM', message: /need k = 2/ }, 'k whole slots are needed');
});
