// Arithmetic in GF(2^8) with the reduction polynomial x^8 + x^4 + x^3 + x^2 + 1
// (0x11d, the polynomial of most Reed-Solomon storage codes) and the primitive
// element 2. Tables are built once at module load. Used only to build and
// invert small matrices; the data path never multiplies bytes (it XORs packets).

export const fieldPolynomial = 0x11d;

const expTable = new Uint8Array(512); // doubled so exp[log a + log b] needs no modulo
const logTable = new Uint8Array(256);

{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    expTable[i] = x;
    logTable[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= fieldPolynomial;
  }
  for (let i = 255; i < 512; i++) expTable[i] = expTable[i - 255];
}

export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return expTable[logTable[a] + logTable[b]];
}

/** Multiplicative inverse; 0 has none. */
export function gfInv(a: number): number {
  if (a === 0) throw new RangeError('gfInv: 0 has no inverse');
  return expTable[255 - logTable[a]];
}

export function gfDiv(a: number, b: number): number {
  return gfMul(a, gfInv(b));
}
