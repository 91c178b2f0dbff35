// Random 96-bit IVs (ChaCha20 nonces and table-sector nonces), one per write.
//
// IVs are not secret, only unique: they are read from the OS generator in
// batches of ivBatchBytes so a batch of writes costs one system call, not one
// per sector. An all-zero IV is never returned (it is redrawn), so an entry
// whose IV is zero can only be a "never written" entry.
//
// Collision bound (docs/CRYPTO.md): after q IVs under one key the chance that
// any two are equal is at most q^2 / 2^97.
import { randomFillSync } from 'node:crypto';
import { ivBytes } from './crypto-constants.ts';

/** 1365 IVs per refill: one system call per ~5.6 MB of sealed sectors. */
const ivBatchBytes = ivBytes * 1365;

const batch = Buffer.alloc(ivBatchBytes);
let used = ivBatchBytes;

function isZeroIv(buf: Uint8Array, at: number): boolean {
  for (let i = at; i < at + ivBytes; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Writes one fresh IV to out[offset .. offset + 12). */
export function nextIv(out: Uint8Array, offset: number): void {
  do {
    if (used === ivBatchBytes) {
      randomFillSync(batch);
      used = 0;
    }
    batch.copy(out, offset, used, used + ivBytes);
    used += ivBytes;
  } while (isZeroIv(out, offset));
}
