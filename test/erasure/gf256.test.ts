// GF(2^8) arithmetic against the committed 256x256 multiplication table
// (test/vectors/gf256-mul-table.hex, produced by gf256-mul-table.py with a
// bitwise carry-less multiply reduced by 0x11d), and the 8x8 bit matrices
// against the same table.
import t from 'tap';
import { bitMatrixOnes, bitMatrixRows } from '../../array-manager/erasure/cauchy.ts';
import { fieldPolynomial, gfDiv, gfInv, gfMul } from '../../array-manager/erasure/gf256.ts';
import { mulTable } from './reference.ts';

t.equal(fieldPolynomial, 0x11d);

t.test('gfMul matches all 65536 entries of the committed table', async (t) => {
  let mismatches = 0;
  for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) if (gfMul(a, b) !== mulTable[256 * a + b]) mismatches++;
  t.equal(mismatches, 0);
});

t.test('known products (0x11d field, e.g. 0x80 * 2 = 0x1d)', async (t) => {
  t.equal(mulTable[256 * 0x80 + 2], 0x1d);
  t.equal(gfMul(0x80, 2), 0x1d);
  t.equal(gfMul(0x53, 0xca), mulTable[256 * 0x53 + 0xca]);
  t.equal(gfMul(1, 0xab), 0xab);
  t.equal(gfMul(0, 0xab), 0);
});

t.test('inverse and division', async (t) => {
  for (let a = 1; a < 256; a++) {
    t.equal(mulTable[256 * a + gfInv(a)], 1, `inv(${a})`);
    for (const b of [1, 2, 0x1d, 0xff]) t.equal(gfMul(gfDiv(a, b), b), a);
  }
  t.throws(() => gfInv(0), RangeError);
});

t.test('bit matrix of e maps every symbol x to e * x', async (t) => {
  let mismatches = 0;
  for (let e = 0; e < 256; e++) {
    const rows = bitMatrixRows(e);
    let ones = 0;
    for (const row of rows) for (let b = row; b; b &= b - 1) ones++;
    if (ones !== bitMatrixOnes(e)) mismatches++;
    for (let x = 0; x < 256; x++) {
      let product = 0;
      for (let r = 0; r < 8; r++) {
        let parity = 0;
        for (let bits = rows[r] & x; bits; bits &= bits - 1) parity ^= 1;
        product |= parity << r;
      }
      if (product !== mulTable[256 * e + x]) mismatches++;
    }
  }
  t.equal(mismatches, 0);
  t.equal(bitMatrixOnes(1), 8, 'identity');
  t.equal(bitMatrixOnes(0), 0);
});
