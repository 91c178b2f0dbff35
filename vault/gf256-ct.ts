// Constant-time arithmetic in GF(2^8) with the Rijndael reduction polynomial
// x^8 + x^4 + x^3 + x + 1 (0x11b), the field of Oxide's gfss and of AES.
//
// Secret bytes flow through these functions (Shamir coefficients and shares),
// so they use no tables indexed by a value and no branch or early exit that
// depends on one: every call runs the same fixed sequence of integer
// shifts, ANDs and XORs whatever its arguments. The erasure code's field
// (array-manager/erasure/gf256.ts) is table-driven and uses another
// polynomial; it only ever sees public matrix coefficients.
//
// How that is checked: test/vault/gf256-ct.test.ts compares all 256 x 256
// products and every inverse with a table-driven reference built in the
// test, and reads this file's source to check it has no branch, ternary,
// early return or subscript (docs/VAULT.md, "Constant time").

/** The reduction polynomial without its x^8 term. */
const reductionLow = 0x1b;

/** a * b: eight rounds of shift-and-add, each selecting with a mask instead of a branch. */
export function gfMulCt(a: number, b: number): number {
  let product = 0;
  for (let round = 0; round < 8; round++) {
    // -(bit) is 0 or all ones: adds a when the low bit of b is set.
    product ^= a & -(b & 1);
    b >>>= 1;
    // Multiply a by x and reduce when the bit shifted out of a was set.
    const carry = -((a >>> 7) & 1);
    a = ((a << 1) ^ (reductionLow & carry)) & 0xff;
  }
  return product;
}

/** a^254 = a^-1 for a != 0, and 0 for 0: a fixed chain of squarings and multiplications. */
export function gfInvCt(a: number): number {
  // power = a^(2^j - 1): squaring and multiplying by a gives a^(2^(j+1) - 1); six rounds reach a^127.
  let power = a;
  for (let round = 0; round < 6; round++) power = gfMulCt(gfMulCt(power, power), a);
  // (a^127)^2 = a^254.
  return gfMulCt(power, power);
}
