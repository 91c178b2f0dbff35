// The vault's constant-time GF(2^8) field: known products from FIPS 197,
// every product and inverse against a table-driven reference built here
// (log/exp tables of generator 3, the textbook construction), and a static
// check of the source that the field code has no branch, ternary, early
// exit or subscript, so its running time cannot depend on a secret byte.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { gfInvCt, gfMulCt } from '../../vault/gf256-ct.ts';

const vectors = JSON.parse(readFileSync(new URL('../vectors/vault-shamir.json', import.meta.url), 'utf8'));

t.test('FIPS 197 products', async (t) => {
  for (const [a, b, p] of vectors.products.cases as string[][]) t.equal(gfMulCt(parseInt(a, 16), parseInt(b, 16)), parseInt(p, 16), `{${a}}*{${b}}`);
  t.equal(gfInvCt(0x53), 0xca);
  t.equal(gfInvCt(0), 0, 'the inverse of 0 is 0 by convention (a^254)');
});

t.test('every product and inverse matches log/exp tables', async (t) => {
  const exp = new Uint8Array(510);
  const log = new Uint8Array(256);
  let x = 1;
  for (let i = 0; i < 255; i++) {
    exp[i] = exp[i + 255] = x;
    log[x] = i;
    // Multiply by the generator 3 = x + 1: x*2 reduced by 0x11b, plus x.
    x ^= (x << 1) ^ (x & 0x80 ? 0x11b : 0);
  }
  let bad = 0;
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b++) if (gfMulCt(a, b) !== (a && b ? exp[log[a] + log[b]] : 0)) bad++;
    if (a && gfMulCt(a, gfInvCt(a)) !== 1) bad++;
  }
  t.equal(bad, 0, '65,536 products and 255 inverses');
});

t.test('the field code has no secret-dependent branch or table', async (t) => {
  const source = readFileSync(new URL('../../vault/gf256-ct.ts', import.meta.url), 'utf8');
  // Only code: drop comments, then look for the constructs that could make time depend on a value.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  for (const [what, pattern] of [
    ['if', /\bif\s*\(/],
    ['ternary', /\?[^.]/],
    ['&& or ||', /&&|\|\|/],
    ['while or break', /\b(while|break|switch)\b/],
    ['subscript', /\w\s*\[/],
    ['division or modulo', /[^/]\/[^/*]|%/],
  ] as const) t.notMatch(code, pattern, `no ${what}`);
  // Loops run a fixed number of rounds: every loop header counts `round` up to a literal.
  const loops = code.match(/\bfor\s*\([^)]*\)/g) ?? [];
  t.ok(loops.length > 0 && loops.every((l) => /^for \(let round = 0; round < \d+; round\+\+\)$/.test(l)), `loops of fixed length only: ${loops.join(', ')}`);
});
