// Randomised (fast-check) checks on large shapes: any loss pattern of up to m
// shards is rebuilt exactly, encode matches the byte-form reference, and the
// WASM and TypeScript engines produce identical parity. Shards are kept at
// the 512-byte minimum so the reference stays fast.
import t from 'tap';
import fc from 'fast-check';
import { createErasureCode } from '../../array-manager/erasure/erasure-code.ts';
import { referenceEncode } from './reference.ts';
import { engines, randomShards, sameBytes } from './helpers.ts';

const shardBytes = 512;
const shapes: [number, number, number][] = [
  // k, m, runs
  [10, 4, 12],
  [16, 8, 8],
  [64, 64, 3],
  [128, 128, 2],
];

for (const [k, m, runs] of shapes) {
  t.test(`k=${k} m=${m}`, async (t) => {
    const codes = engines.map((engine) => createErasureCode({ k, m, shardBytes, engine }));
    const data = randomShards(k, shardBytes, k * 1000 + m);
    const parities = codes.map((code) => {
      const parity = randomShards(m, shardBytes, 5);
      code.encode(data, parity);
      return parity;
    });
    const expected = referenceEncode(codes[0].matrix, data);
    for (const parity of parities) t.ok(parity.every((p, i) => sameBytes(p, expected[i])), 'encode matches reference');
    const stripe = [...data, ...parities[0]];
    const lossArb = fc.uniqueArray(fc.integer({ min: 0, max: k + m - 1 }), { minLength: 1, maxLength: m });
    for (const code of codes) {
      fc.assert(
        fc.property(lossArb, (lost) => {
          const present = stripe.map((_, i) => !lost.includes(i));
          const work = stripe.map((s, i) => (present[i] ? Uint8Array.from(s) : new Uint8Array(shardBytes)));
          code.reconstruct(work, present);
          return work.every((s, i) => sameBytes(s, stripe[i]));
        }),
        { numRuns: runs, seed: k * 31 + m },
      );
      t.pass(`${code.engine}: ${runs} random loss patterns rebuilt`);
      t.ok(code.verify(stripe), `${code.engine}: verify accepts the stripe`);
    }
  });
}

t.test('larger shards, random geometry and data: engines agree with the reference', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer(),
      (k, m, granules, seed) => {
        const shardBytes = 512 * granules;
        const data = randomShards(k, shardBytes, seed);
        const expected = referenceEncode(createErasureCode({ k, m, shardBytes: 512 }).matrix, data);
        return engines.every((engine) => {
          const code = createErasureCode({ k, m, shardBytes, engine });
          const parity = randomShards(m, shardBytes, 1);
          code.encode(data, parity);
          return parity.every((p, i) => sameBytes(p, expected[i]));
        });
      },
    ),
    { numRuns: 25, seed: 42 },
  );
  t.pass('25 random geometries');
});
