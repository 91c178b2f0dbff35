// Codes of one (k, m) share their coding matrix, encode program and decode
// plans (erasure-code.ts, `shapeOf`). Two codes of a shape with different
// shard sizes and engines, used in turn on the same loss patterns (so each
// meets plans the other built, and its own last plan in between), must each
// encode and rebuild exactly as the reference does.
import t from 'tap';
import { referenceEncode } from './reference.ts';
import { codeFor, engines, lossPatterns, randomShards, sameBytes } from './helpers.ts';

const [k, m] = [4, 2];
const codes = [codeFor(k, m, 512, engines[0]), codeFor(k, m, 4096, engines[engines.length - 1])];

t.test('two codes of one shape, used in turn, both encode and rebuild every pattern', async (t) => {
  const stripes = codes.map((code, c) => {
    const data = randomShards(k, code.shardBytes, 31 + c);
    const parity = randomShards(m, code.shardBytes, 77);
    code.encode(data, parity);
    t.ok(parity.every((p, i) => sameBytes(p, referenceEncode(code.matrix, data)[i])), `code ${c} (${code.shardBytes} B, ${code.engine}): encode matches the reference`);
    return [...data, ...parity];
  });
  let failures = 0;
  let runs = 0;
  for (const present of lossPatterns(k + m, m)) {
    for (let c = 0; c < codes.length; c++) {
      const work = stripes[c].map((s, i) => (present[i] ? Uint8Array.from(s) : new Uint8Array(s.length).fill(0xa5)));
      codes[c].reconstruct(work, present);
      failures += work.filter((w, i) => !sameBytes(w, stripes[c][i])).length;
      runs++;
    }
  }
  t.equal(failures, 0, `${runs} reconstructions, alternating between the codes, all exact`);
});
