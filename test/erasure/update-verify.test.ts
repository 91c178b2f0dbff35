// updateParity against a full re-encode, verify on good and damaged stripes,
// the zero-copy arena path against the copying path, and decode-plan reuse.
import t from 'tap';
import fc from 'fast-check';
import { createErasureCode } from '../../array-manager/erasure/erasure-code.ts';
import { decodeSchedulesMax } from '../../array-manager/erasure/limits.ts';
import { codeFor, engines, fill, randomShards, sameBytes } from './helpers.ts';

const shardBytes = 1024;

for (const engine of engines) {
  t.test(`${engine}: updateParity equals a full re-encode`, async (t) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.integer()), { minLength: 1, maxLength: 6 }),
        (k, m, writes) => {
          const code = codeFor(k, m, shardBytes, engine);
          const data = randomShards(k, shardBytes, k + 17 * m);
          const parity = randomShards(m, shardBytes, 3);
          code.encode(data, parity);
          for (const [slot, seed] of writes) {
            const index = slot % k;
            const next = fill(new Uint8Array(shardBytes), seed);
            code.updateParity(parity, index, data[index], next);
            data[index] = next;
          }
          const fresh = randomShards(m, shardBytes, 4);
          code.encode(data, fresh);
          return parity.every((p, i) => sameBytes(p, fresh[i])) && code.verify([...data, ...parity]);
        },
      ),
      { numRuns: 40, seed: 7 },
    );
    t.pass('40 random write sequences');
  });

  t.test(`${engine}: verify rejects any single flipped bit`, async (t) => {
    const k = 5;
    const m = 3;
    const code = codeFor(k, m, shardBytes, engine);
    const stripe = randomShards(k + m, shardBytes, 11);
    code.encode(stripe.slice(0, k), stripe.slice(k));
    t.ok(code.verify(stripe));
    let missed = 0;
    for (let s = 0; s < k + m; s++) {
      for (const bit of [0, 7, 8 * 127 + 3, 8 * shardBytes - 1]) {
        stripe[s][bit >> 3] ^= 1 << (bit & 7);
        if (code.verify(stripe)) missed++;
        stripe[s][bit >> 3] ^= 1 << (bit & 7);
      }
    }
    t.equal(missed, 0);
    t.ok(code.verify(stripe), 'restored stripe verifies again');
  });

  t.test(`${engine}: arena stripes (in place) give the same results as copied views`, async (t) => {
    const k = 6;
    const m = 3;
    const code = createErasureCode({ k, m, shardBytes, engine, arenaStripes: 2 });
    const arena = code.allocStripe();
    const second = code.allocStripe();
    t.throws(() => code.allocStripe(), { code: 'E_ARENA' });
    t.equal(second[0].buffer, arena[0].buffer, 'one memory');
    const plain = randomShards(k + m, shardBytes, 21);
    plain.slice(0, k).forEach((s, i) => arena[i].set(s));
    code.encode(plain.slice(0, k), plain.slice(k));
    code.encode(arena.slice(0, k), arena.slice(k));
    t.ok(arena.every((s, i) => sameBytes(s, plain[i])), 'encode in place');
    // Lose two data shards and one parity, in place and copied.
    const present = arena.map((_, i) => i !== 1 && i !== 4 && i !== k + 2);
    for (const [i, p] of present.entries()) if (!p) arena[i].fill(0);
    code.reconstruct(arena, present);
    t.ok(arena.every((s, i) => sameBytes(s, plain[i])), 'reconstruct in place');
    // A view into the code's memory that is not 64-byte aligned takes the copy path.
    const shifted = new Uint8Array(second[0].buffer, second[0].byteOffset + 4, shardBytes);
    shifted.set(plain[0]);
    const parity = randomShards(m, shardBytes, 2);
    code.encode([shifted, ...plain.slice(1, k)], parity);
    t.ok(parity.every((p, i) => sameBytes(p, plain[k + i])), 'unaligned view copied');
    code.updateParity(arena.slice(k), 0, arena[0], plain[1]);
    const expected = randomShards(m, shardBytes, 3);
    code.encode([plain[1], ...plain.slice(1, k)], expected);
    t.ok(arena.slice(k).every((p, i) => sameBytes(p, expected[i])), 'updateParity in place');
  });

  t.test(`${engine}: slots switch between in-place and copied views in any order`, async (t) => {
    const k = 4;
    const m = 2;
    const code = createErasureCode({ k, m, shardBytes, engine, arenaStripes: 2 });
    const stripes = [code.allocStripe(), code.allocStripe()];
    const plain = randomShards(k + m, shardBytes, 31);
    const expected = randomShards(m, shardBytes, 0);
    createErasureCode({ k, m, shardBytes, engine: 'js', arenaStripes: 0 }).encode(plain.slice(0, k), expected);
    const sources = [stripes[0], stripes[1], plain];
    let failures = 0;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 12 }), (steps) => {
        for (const [dataFrom, parityFrom, action] of steps) {
          const data = sources[dataFrom].slice(0, k);
          const parity = sources[parityFrom].slice(k);
          data.forEach((d, i) => d.set(plain[i]));
          parity.forEach((p) => p.fill(0x5a));
          code.encode(data, parity);
          if (!parity.every((p, i) => sameBytes(p, expected[i]))) failures++;
          const stripe = [...data, ...parity];
          if (action === 1 && !code.verify(stripe)) failures++;
          if (action === 2) {
            stripe[1].fill(0);
            stripe[k].fill(0);
            code.reconstruct(stripe, stripe.map((_, i) => i !== 1 && i !== k));
            if (!sameBytes(stripe[1], plain[1]) || !sameBytes(stripe[k], expected[0])) failures++;
          }
          if (action === 3) {
            code.updateParity(parity, 2, data[2], data[2]);
            if (!parity.every((p, i) => sameBytes(p, expected[i]))) failures++;
          }
        }
        return failures === 0;
      }),
      { numRuns: 30, seed: 5 },
    );
    t.equal(failures, 0);
  });

  t.test(`${engine}: decode plans are reused and bounded`, async (t) => {
    const k = 12;
    const m = 3;
    const code = codeFor(k, m, 512, engine);
    const stripe = randomShards(k + m, 512, 5);
    code.encode(stripe.slice(0, k), stripe.slice(k));
    // More distinct patterns than the cache holds, then the first ones again.
    const patterns: boolean[][] = [];
    for (let a = 0; a < k + m && patterns.length < decodeSchedulesMax + 10; a++) {
      for (let b = a + 1; b < k + m && patterns.length < decodeSchedulesMax + 10; b++) {
        patterns.push(stripe.map((_, i) => i !== a && i !== b));
      }
    }
    let failures = 0;
    for (const present of [...patterns, ...patterns.slice(0, 5), patterns[0], patterns[0]]) {
      const work = stripe.map((s, i) => (present[i] ? s : new Uint8Array(512)));
      code.reconstruct(work, present);
      if (!work.every((s, i) => sameBytes(s, stripe[i]))) failures++;
    }
    t.equal(failures, 0);
    const plans = (code as unknown as { plans: Map<string, unknown> }).plans;
    t.ok(plans.size <= decodeSchedulesMax, `cache holds ${plans.size} <= ${decodeSchedulesMax} plans`);
  });
}

t.test('nothing missing: reconstruct leaves the stripe alone', async (t) => {
  const code = createErasureCode({ k: 3, m: 2, shardBytes: 512 });
  const stripe = randomShards(5, 512, 9);
  const copy = stripe.map((s) => Uint8Array.from(s));
  code.reconstruct(stripe, [true, true, true, true, true]);
  t.ok(stripe.every((s, i) => sameBytes(s, copy[i])));
});
