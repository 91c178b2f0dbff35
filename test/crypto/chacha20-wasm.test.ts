// The WebAssembly ChaCha20 kernel (array-manager/crypto/chacha20-wasm.ts)
// against RFC 8439 known answers, placed at their block offset inside a
// sector, and against node:crypto and @noble for random keys, nonces and
// sectors (fast-check). Also: in-place use and the length checks.
import { chacha20 } from '@noble/ciphers/chacha.js';
import fc from 'fast-check';
import { createCipheriv } from 'node:crypto';
import tap from 'tap';
import { chacha20Sector } from '../../array-manager/crypto/chacha20-wasm.ts';
import { fromHex, loadVectors } from './helpers.ts';

const sectorBytes = 4096;

interface RfcVectors {
  chacha20: { source: string; key: string; nonce: string; counter: number; plaintext: string; ciphertext: string }[];
}

/** node:crypto's ChaCha20 of a sector: IV = little-endian block counter 0, then the nonce. */
function reference(key: Uint8Array, nonce: Uint8Array, input: Uint8Array): Buffer {
  return createCipheriv('chacha20', key, Buffer.concat([Buffer.alloc(4), nonce])).update(input);
}

tap.test('RFC 8439 vectors at their block offset in a sector', async (t) => {
  const vectors = loadVectors<RfcVectors>('sector-crypto-rfc.json').chacha20;
  t.ok(vectors.length > 0, 'vectors loaded');
  for (const v of vectors) {
    const plaintext = fromHex(v.plaintext);
    const at = v.counter * 64;
    const sector = Buffer.alloc(sectorBytes);
    plaintext.copy(sector, at);
    const out = Buffer.alloc(sectorBytes);
    chacha20Sector(fromHex(v.key), fromHex(v.nonce), sector, out);
    t.equal(out.subarray(at, at + plaintext.length).toString('hex'), v.ciphertext, v.source);
  }
});

tap.test('RFC 8439 §2.3.2 block function: keystream block 1', async (t) => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
  const nonce = fromHex('000000090000004a00000000');
  const out = Buffer.alloc(sectorBytes);
  chacha20Sector(key, nonce, Buffer.alloc(sectorBytes), out);
  t.equal(
    out.subarray(64, 128).toString('hex'),
    '10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e' +
      'd2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e',
  );
});

tap.test('equals node:crypto and @noble on random sectors', async (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      fc.uint8Array({ minLength: sectorBytes, maxLength: sectorBytes }),
      (key, nonce, input) => {
        const out = new Uint8Array(sectorBytes);
        chacha20Sector(key, nonce, input, out);
        const node = reference(key, nonce, input);
        const noble = chacha20(key, nonce, input);
        return node.equals(out) && Buffer.from(noble).equals(out);
      },
    ),
    { numRuns: 200 },
  );
  t.pass('200 random sectors agree with both references');
});

tap.test('in place, and decrypting undoes encrypting', async (t) => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => i * 7);
  const original = Buffer.from(Array.from({ length: sectorBytes }, (_, i) => (i * 31) & 0xff));
  const data = Buffer.from(original);
  chacha20Sector(key, nonce, data, data);
  t.ok(data.equals(reference(key, nonce, original)), 'in-place result equals the reference');
  chacha20Sector(key, nonce, data, data);
  t.ok(data.equals(original), 'a second pass restores the plaintext');
});

tap.test('rejects wrong lengths without writing', async (t) => {
  const key = new Uint8Array(32);
  const nonce = new Uint8Array(12);
  const sector = new Uint8Array(sectorBytes);
  const out = new Uint8Array(sectorBytes).fill(7);
  t.throws(() => chacha20Sector(new Uint8Array(31), nonce, sector, out), RangeError, 'short key');
  t.throws(() => chacha20Sector(key, new Uint8Array(16), sector, out), RangeError, 'long nonce');
  t.throws(() => chacha20Sector(key, nonce, sector.subarray(1), out), RangeError, 'short input');
  t.throws(() => chacha20Sector(key, nonce, sector, new Uint8Array(sectorBytes + 1)), RangeError, 'long output');
  t.ok(out.every((b) => b === 7), 'output untouched');
});
