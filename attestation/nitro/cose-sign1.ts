// COSE_Sign1 (RFC 9052 §4.2) as AWS Nitro Enclaves uses it: a CBOR array
// [protected bstr, unprotected map, payload bstr, signature bstr], untagged
// or under tag 18, signed with ES384. Only what a Nitro attestation document
// needs is accepted: the protected header is exactly {1 (alg): -35 (ES384)}
// and the unprotected header is empty (it is not signed, so nothing in it
// could be trusted anyway). The input comes from the network: it is decoded
// with cborg's strictest options (docs/DEPENDENCIES.md, "cborg").
import { verify, type KeyObject } from 'node:crypto';
import { decode, encode, Tokenizer, Type, type Token } from 'cborg';
import { AttestationError } from '../errors.ts';

/** COSE algorithm ES384: ECDSA with SHA-384 (RFC 9053 §2.1, IANA COSE Algorithms). */
export const coseAlgEs384 = -35;
/** COSE header parameter "alg" (RFC 9052 §3.1). */
const coseHeaderAlg = 1;
/** CBOR tag of a tagged COSE_Sign1 (RFC 9052 §2), as its one-byte head (major type 6, value 18). */
const coseSign1TagByte = 0xd2;
/** ES384 signatures are r || s, 48 bytes each (RFC 9053 §2.1). */
export const es384SignatureBytes = 96;

/**
 * Decoding options that refuse every CBOR form a Nitro document does not use,
 * so one document has one reading: non-minimal integer and length encodings
 * (`strict`), indefinite lengths, undefined, NaN and infinities, integers
 * beyond 2^53 (`allowBigInt: false`), repeated map keys, and every tag (no
 * tag decoders are given; tag 18 is taken off the front before decoding).
 * `useMaps` keeps integer keys (PCR indexes, header labels) as numbers.
 * cborg's decode also refuses bytes after the first item. Floating-point
 * values are refused by FloatlessTokenizer below.
 */
export const strictCbor = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: false,
  rejectDuplicateMapKeys: true,
  useMaps: true,
} as const;

/**
 * cborg would read 1.0 (a float) as the number 1, so a PCR index or a
 * timestamp could be written two ways; no Nitro field is a float, so floats
 * are refused outright.
 */
class FloatlessTokenizer extends Tokenizer {
  override next(): Token {
    const token = super.next();
    if (token.type === Type.float) throw new Error('floating-point values are not allowed');
    return token;
  }
}

/** Decodes untrusted CBOR strictly; any failure is E_ATT_FORMAT naming `what`. */
export function decodeStrictCbor(bytes: Uint8Array, what: string): unknown {
  const data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  try {
    return decode(data, { ...strictCbor, tokenizer: new FloatlessTokenizer(data, strictCbor) });
  } catch (error) {
    throw new AttestationError('E_ATT_FORMAT', `${what} is not strict CBOR: ${(error as Error).message}`, { cause: error });
  }
}

export interface CoseSign1 {
  /** The protected header exactly as it was received: the signature covers these bytes. */
  protectedHeader: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
}

function formatError(why: string): never {
  throw new AttestationError('E_ATT_FORMAT', `COSE_Sign1 ${why}`);
}

/** Parses an ES384 COSE_Sign1 (tagged or not); E_ATT_FORMAT on anything else. */
export function decodeCoseSign1(bytes: Uint8Array): CoseSign1 {
  const untagged = bytes.length > 0 && bytes[0] === coseSign1TagByte ? bytes.subarray(1) : bytes;
  const top = decodeStrictCbor(untagged, 'COSE_Sign1');
  if (!Array.isArray(top) || top.length !== 4) formatError('must be an array of 4 items');
  const [protectedHeader, unprotected, payload, signature] = top as unknown[];
  if (!(protectedHeader instanceof Uint8Array)) formatError('protected header must be a byte string');
  if (!(unprotected instanceof Map)) formatError('unprotected header must be a map');
  if (unprotected.size !== 0) formatError('unprotected header must be empty (Nitro documents carry nothing there)');
  if (!(payload instanceof Uint8Array) || payload.length === 0) formatError('payload must be a non-empty byte string');
  if (!(signature instanceof Uint8Array)) formatError('signature must be a byte string');
  const header = decodeStrictCbor(protectedHeader, 'COSE_Sign1 protected header');
  if (!(header instanceof Map) || header.size !== 1 || !header.has(coseHeaderAlg)) {
    formatError('protected header must be exactly {1 (alg): -35 (ES384)}');
  }
  const alg = header.get(coseHeaderAlg);
  if (alg !== coseAlgEs384) formatError(`algorithm must be ES384 (-35), is ${String(alg)}`);
  if (signature.length !== es384SignatureBytes) formatError(`ES384 signature must be ${es384SignatureBytes} bytes, is ${signature.length}`);
  return { protectedHeader, payload, signature };
}

/**
 * The bytes an ES384 COSE_Sign1 signs (RFC 9052 §4.4):
 * Sig_structure = ["Signature1", body_protected, external_aad, payload]
 * with an empty external_aad. Definite-length arrays, strings and byte
 * strings have one shortest encoding, which cborg writes.
 */
export function sigStructure(protectedHeader: Uint8Array, payload: Uint8Array): Uint8Array {
  return encode(['Signature1', protectedHeader, new Uint8Array(0), payload]);
}

/** Whether `cose` carries a valid ES384 signature by `key` (a P-384 public key). */
export function verifyCoseSign1(cose: CoseSign1, key: KeyObject): boolean {
  // COSE signatures are raw r || s (RFC 9053 §2.1), not DER: hence ieee-p1363.
  return verify('sha384', sigStructure(cose.protectedHeader, cose.payload), { key, dsaEncoding: 'ieee-p1363' }, cose.signature);
}
