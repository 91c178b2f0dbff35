// Journal records and the pure recovery function: every row of the recovery
// table in journal/recovery.ts, and codec negatives.
import t from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import {
  commitSlotsMax,
  decodeCommit,
  decodeHeader,
  encodeCommit,
  encodeHeader,
  headerDigest,
  headerPiecesMax,
  payloadDigest,
} from '../../journal/journal-record.ts';
import { planRecovery, type SlotJournal } from '../../journal/recovery.ts';
import { tagRecord } from '../../array-manager/record-mac.ts';

const key = randomBytes(32);
const arrayId = randomBytes(16);
const S = 4096;

function slotWith(slot: number, version: bigint, homes: number[], commit: Buffer, zeroHomes: number[] = []) {
  const payload = randomBytes(homes.length * S);
  const header = encodeHeader(key, arrayId, { version, slot, homes, zeroHomes, payloadDigest: payloadDigest([payload]) });
  return { node: { slot, commit, header, payload } as SlotJournal, header };
}

t.test('header and commit round trip; anything else is "no record"', async (t) => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.nat(127),
      fc.array(fc.nat(2 ** 32 - 1), { maxLength: 50 }),
      fc.array(fc.nat(2 ** 32 - 1), { maxLength: 50 }),
      (version, slot, homes, zeroHomes) => {
        const h = { version, slot, homes, zeroHomes, payloadDigest: randomBytes(32) };
        const back = decodeHeader(key, arrayId, encodeHeader(key, arrayId, h));
        return (
          !!back &&
          back.version === version &&
          back.slot === slot &&
          back.homes.join() === homes.join() &&
          back.zeroHomes.join() === zeroHomes.join() &&
          back.payloadDigest.equals(h.payloadDigest)
        );
      },
    ),
  );
  const c = encodeCommit(key, arrayId, { version: 9n, headerDigests: [randomBytes(16), undefined, randomBytes(16)] });
  const back = decodeCommit(key, arrayId, c)!;
  t.equal(back.version, 9n);
  t.equal(back.headerDigests[1], undefined, 'non-participant');
  t.equal(decodeCommit(key, arrayId, Buffer.alloc(S)), undefined, 'blank sector');
  t.equal(decodeCommit(randomBytes(32), arrayId, c), undefined, 'another key');
  t.equal(decodeCommit(key, randomBytes(16), c), undefined, 'another array');
  for (const at of [0, 8, 40, S - 1]) {
    const bad = Buffer.from(c);
    bad[at] ^= 1;
    t.equal(decodeCommit(key, arrayId, bad), undefined, `flipped byte ${at}`);
  }
  t.equal(decodeHeader(key, arrayId, c), undefined, 'a commit is not a header');
  t.throws(() => encodeHeader(key, arrayId, { version: 1n, slot: 0, homes: new Array(headerPiecesMax + 1).fill(0), zeroHomes: [], payloadDigest: randomBytes(32) }));
  t.throws(
    () => encodeHeader(key, arrayId, { version: 1n, slot: 0, homes: [1], zeroHomes: new Array(headerPiecesMax).fill(0), payloadDigest: randomBytes(32) }),
    'payload and zero pieces count together against the bound',
  );
});

t.test('version 1 headers (no zero pieces) are still read; one claiming zero pieces is not', async (t) => {
  const asV1 = (zeroCount: number): Buffer => {
    const v2 = encodeHeader(key, arrayId, { version: 3n, slot: 1, homes: [10, 11], zeroHomes: zeroCount ? [12] : [], payloadDigest: randomBytes(32) });
    const v1 = Buffer.from(v2);
    v1.write('TEAJHDR1', 0, 'ascii');
    return tagRecord(key, v1); // re-tag: the tag covers every byte before it
  };
  const plain = decodeHeader(key, arrayId, asV1(0));
  t.same(plain && [plain.version, plain.homes, plain.zeroHomes], [3n, [10, 11], []], 'a version 1 header decodes with no zero pieces');
  t.equal(decodeHeader(key, arrayId, asV1(1)), undefined, 'a version 1 header with a zero count is not valid');
  t.throws(() => encodeCommit(key, arrayId, { version: 1n, headerDigests: new Array(commitSlotsMax + 1).fill(undefined) }));
});

t.test('recovery table', async (t) => {
  const blank = Buffer.alloc(S);
  t.same(planRecovery(key, arrayId, [{ slot: 0, commit: blank, header: blank, payload: Buffer.alloc(0) }]), { version: 0n, apply: [], corrupt: [] }, 'fresh array');

  // Entry 5 journalled on slots 0 and 1; slot 2 holds no piece.
  const a = slotWith(0, 5n, [100, 101], blank);
  const b = slotWith(1, 5n, [100], blank);
  const commit5 = encodeCommit(key, arrayId, { version: 5n, headerDigests: [headerDigest(a.header), headerDigest(b.header), undefined] });
  const commit4 = encodeCommit(key, arrayId, { version: 4n, headerDigests: [undefined, undefined, undefined] });
  const nodes = (c0: Buffer, c1: Buffer, c2: Buffer, h0 = a.header, h1 = b.header): SlotJournal[] => [
    { ...a.node, commit: c0, header: h0 },
    { ...b.node, commit: c1, header: h1 },
    { slot: 2, commit: c2, header: blank, payload: Buffer.alloc(0) },
  ];

  let plan = planRecovery(key, arrayId, nodes(commit5, commit5, commit5));
  t.equal(plan.version, 5n);
  t.same(plan.apply.map((x) => [x.slot, x.header.homes]), [[0, [100, 101]], [1, [100]]], 'committed entry applied on every participant');

  plan = planRecovery(key, arrayId, nodes(commit4, commit5, commit4));
  t.equal(plan.version, 5n, 'the highest commit wins even when on one node only');

  plan = planRecovery(key, arrayId, nodes(commit4, commit4, commit4));
  t.same([plan.version, plan.apply], [4n, []], 'uncommitted entry 5 is ignored');

  plan = planRecovery(key, arrayId, nodes(commit5, commit5, commit5, blank));
  t.same(plan.apply.map((x) => x.slot), [1], 'slot 0 erased its header when it applied: skipped');

  const next = slotWith(0, 6n, [7], blank);
  plan = planRecovery(key, arrayId, nodes(commit5, commit5, commit5, next.header));
  t.same(plan.apply.map((x) => x.slot), [1], 'slot 0 holds the next, uncommitted entry: it applied 5 in the same batch');

  const torn = nodes(commit5, commit5, commit5);
  torn[0] = { ...torn[0], payload: Buffer.from(torn[0].payload) };
  torn[0].payload[5] ^= 1;
  plan = planRecovery(key, arrayId, torn);
  t.same([plan.corrupt, plan.apply.map((x) => x.slot)], [[0], [1]], 'payload that fails its digest: slot is corrupt');

  const zeros = slotWith(0, 5n, [], blank, [300, 301]);
  const withZeros = encodeCommit(key, arrayId, { version: 5n, headerDigests: [headerDigest(zeros.header), headerDigest(b.header), undefined] });
  plan = planRecovery(key, arrayId, nodes(withZeros, withZeros, withZeros, zeros.header));
  t.same(
    plan.apply.map((x) => [x.slot, x.header.homes, x.header.zeroHomes]),
    [[0, [], [300, 301]], [1, [100], []]],
    'a slot with only zero pieces is applied too: its homes get trimmed',
  );

  const other = encodeCommit(key, arrayId, { version: 5n, headerDigests: [undefined, undefined, undefined] });
  t.throws(() => planRecovery(key, arrayId, nodes(commit5, other, commit5)), { code: 'E_JOURNAL_CONFLICT' }, 'two different commits with one version');
});
