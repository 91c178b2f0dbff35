// Builds Nitro-shaped attestation documents signed by the synthetic chain
// of make-chain.sh, for the negatives that need a validly signed document
// with chosen fields (debug PCRs, chosen user_data, extra or repeated keys,
// another algorithm). The CBOR is written by hand here, not by cborg, so the
// tests do not check the verifier's decoder against itself, and so maps can
// hold what cborg would never write (repeated keys, non-minimal lengths).
import { createHash, createPrivateKey, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const pem = (name: string) => readFileSync(`${dir}${name}.pem`, 'utf8');

export const synthetic = {
  root: new X509Certificate(pem('root')),
  intermediate1: new X509Certificate(pem('intermediate1')),
  intermediate2: new X509Certificate(pem('intermediate2')),
  leaf: new X509Certificate(pem('leaf')),
  leafKey: createPrivateKey(readFileSync(`${dir}leaf.key`, 'utf8')),
};
export const syntheticRootFingerprint = new Uint8Array(createHash('sha256').update(synthetic.root.raw).digest());
/** A time inside every synthetic certificate's validity. */
export const syntheticTime = new Date(new Date(synthetic.leaf.validFrom).getTime() + 3600_000);

/** A CBOR item already encoded. */
export type Cbor = Uint8Array;

/** The head of a CBOR item (RFC 8949 §3), shortest form. */
export function head(major: number, value: number): Uint8Array {
  const m = major << 5;
  if (value < 24) return Uint8Array.of(m | value);
  if (value < 0x100) return Uint8Array.of(m | 24, value);
  if (value < 0x10000) return Uint8Array.of(m | 25, value >> 8, value & 0xff);
  if (value < 0x100000000) return Uint8Array.of(m | 26, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
  const hi = Math.floor(value / 0x100000000);
  const lo = value >>> 0;
  return Uint8Array.of(m | 27, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
}

export const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
export const uint = (n: number): Cbor => head(0, n);
export const negint = (n: number): Cbor => head(1, -1 - n);
export const bytes = (b: Uint8Array): Cbor => cat(head(2, b.length), b);
export const text = (s: string): Cbor => cat(head(3, Buffer.byteLength(s)), Buffer.from(s));
export const array = (items: Cbor[]): Cbor => cat(head(4, items.length), ...items);
/** A map with exactly these entries, in this order, repeats included. */
export const map = (entries: Array<[Cbor, Cbor]>): Cbor => cat(head(5, entries.length), ...entries.flat());
export const nul: Cbor = Uint8Array.of(0xf6);

export interface Fields {
  pcrs: Map<number, Uint8Array>;
  userData: Uint8Array | null;
  timestamp: number;
}

/** 16 PCRs of 48 bytes: PCR i filled with byte i + 1 (so none is zero: not debug). */
export function pcrsFilled(): Map<number, Uint8Array> {
  return new Map(Array.from({ length: 16 }, (_, i) => [i, new Uint8Array(48).fill(i + 1)]));
}

/** The payload entries of a well-formed document, in AWS's order; tests edit the list. */
export function payloadEntries(fields: Partial<Fields> = {}): Array<[Cbor, Cbor]> {
  const pcrs = fields.pcrs ?? pcrsFilled();
  const userData = fields.userData === undefined ? new Uint8Array(64).fill(0xab) : fields.userData;
  return [
    [text('module_id'), text('i-00000000000000000-enc0000000000000000')],
    [text('digest'), text('SHA384')],
    [text('timestamp'), uint(fields.timestamp ?? syntheticTime.getTime())],
    [text('pcrs'), map([...pcrs].map(([i, v]) => [uint(i), bytes(v)]))],
    [text('certificate'), bytes(synthetic.leaf.raw)],
    // Root first, as in Nitro documents.
    [text('cabundle'), array([synthetic.root, synthetic.intermediate1, synthetic.intermediate2].map((c) => bytes(c.raw)))],
    [text('public_key'), nul],
    [text('user_data'), userData === null ? nul : bytes(userData)],
    [text('nonce'), bytes(Uint8Array.of(1, 2, 3, 4))],
  ];
}

export interface SignOptions {
  /** Encoded protected header map; default {1: -35}. */
  protectedHeader?: Cbor;
  /** Encoded unprotected header; default {}. */
  unprotected?: Cbor;
  /** Sig_structure context; default "Signature1". */
  context?: string;
  externalAad?: Uint8Array;
  key?: KeyObject;
  /** Prefix tag 18. */
  tagged?: boolean;
}

/** A COSE_Sign1 over `payload` (the encoded payload map), ES384 by default. */
export function signDocument(payload: Cbor, opts: SignOptions = {}): Uint8Array {
  const protectedHeader = opts.protectedHeader ?? map([[uint(1), negint(-35)]]);
  // RFC 9052 §4.4: Sig_structure = [context, body_protected, external_aad, payload].
  const toBeSigned = array([text(opts.context ?? 'Signature1'), bytes(protectedHeader), bytes(opts.externalAad ?? new Uint8Array(0)), bytes(payload)]);
  const signature = sign('sha384', toBeSigned, { key: opts.key ?? synthetic.leafKey, dsaEncoding: 'ieee-p1363' });
  const doc = array([bytes(protectedHeader), opts.unprotected ?? map([]), bytes(payload), bytes(signature)]);
  return opts.tagged ? cat(Uint8Array.of(0xd2), doc) : doc;
}

/** A signed document from payload entries. */
export function buildDocument(entries: Array<[Cbor, Cbor]> = payloadEntries(), opts: SignOptions = {}): Uint8Array {
  return signDocument(map(entries), opts);
}

/** `der` with one bit of its last byte (inside the signature value) flipped: still DER, no longer verifies. */
export function flipLastBit(der: Buffer): Uint8Array {
  const out = new Uint8Array(der);
  out[out.length - 1] ^= 1;
  return out;
}
