// The payload of an AWS Nitro Enclaves attestation document: a CBOR map
// whose fields, types and bounds AWS specifies in "Nitro Enclaves
// Attestation Process" (aws-nitro-enclaves-nsm-api, docs/attestation_process.md,
// §2.2 and §3.2.2; the same rules as the user guide's "Verifying the root of
// trust"). Everything is refused that the specification does not allow:
// unknown or repeated keys, a missing mandatory field, a wrong type, a
// length out of bounds.
import { AttestationError } from '../errors.ts';
import { decodeStrictCbor } from './cose-sign1.ts';

/** A whole signed document, bytes; AWS bounds the payload to 16 KiB (§3.1). */
export const nitroDocumentBytesMax = 16 * 1024;
/** Longest module_id accepted; AWS's are "i-<17 hex>-enc<16 hex>", 39 characters. */
export const moduleIdCharsMax = 256;
/** PCR indexes are 0..31, and a document has 1..32 of them (§3.2.2.2). */
export const pcrIndexMax = 31;
/** A DER certificate in `certificate` or `cabundle` is 1..1024 bytes (§2.2 `cert`). */
export const nitroCertificateBytesMax = 1024;
/**
 * Most cabundle entries. AWS's spec does not bound it; real bundles hold 4
 * (root, regional, zonal, instance). 7 keeps leaf + bundle within the chain
 * helper's 8 certificates.
 */
export const cabundleEntriesMax = 7;
/** public_key is 1..1024 bytes; user_data and nonce 0..512 (§3.2.2.2). */
export const publicKeyBytesMax = 1024;
export const userDataBytesMax = 512;
export const nonceBytesMax = 512;
const pcrLengths = [32, 48, 64];
/** The latest time a JavaScript Date can hold, in milliseconds since the epoch. */
const maxDateMilliseconds = 8.64e15;

export interface NitroDocument {
  moduleId: string;
  digest: 'SHA384';
  /** Milliseconds since the Unix epoch, UTC. */
  timestamp: number;
  /** PCR index -> value, in the document's order. */
  pcrs: Map<number, Uint8Array>;
  /** The DER certificate whose key signed the document. */
  certificate: Uint8Array;
  /** DER certificates, root first (§3.2.3). */
  cabundle: Uint8Array[];
  /** Optional fields: null when absent or null. */
  publicKey: Uint8Array | null;
  userData: Uint8Array | null;
  nonce: Uint8Array | null;
}

const mandatory = ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle'];
const optional = ['public_key', 'user_data', 'nonce'];

function fail(field: string, why: string): never {
  throw new AttestationError('E_ATT_FORMAT', `Nitro document ${field} ${why}`);
}

function bytesIn(value: unknown, field: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(field, 'must be a byte string');
  if (value.length < min || value.length > max) fail(field, `must be ${min}..${max} bytes, is ${value.length}`);
  return value;
}

/**
 * An optional field: absent or null reads as null. AWS's §3.2.2.1 says no
 * field may be null, but the Nitro hypervisor does write null for the
 * optional fields a request left out (every public sample does), so null is
 * accepted for these three and nowhere else.
 */
function optionalBytes(map: Map<unknown, unknown>, key: string, min: number, max: number): Uint8Array | null {
  const value = map.get(key);
  return value === undefined || value === null ? null : bytesIn(value, key, min, max);
}

/** Parses and checks a document payload (the COSE_Sign1 payload bytes). */
export function parseNitroPayload(payload: Uint8Array): NitroDocument {
  const map = decodeStrictCbor(payload, 'Nitro document payload');
  if (!(map instanceof Map)) fail('payload', 'must be a CBOR map');
  for (const key of map.keys()) {
    if (typeof key !== 'string' || (!mandatory.includes(key) && !optional.includes(key))) {
      fail(`key ${JSON.stringify(typeof key === 'string' ? key : String(key))}`, 'is not a field of the specification');
    }
  }
  for (const key of mandatory) if (!map.has(key)) fail(key, 'is missing');

  const moduleId = map.get('module_id');
  // Printable ASCII only: cborg replaces invalid UTF-8 rather than refusing it,
  // and AWS's module ids are ASCII, so this also refuses malformed text.
  if (typeof moduleId !== 'string' || !/^[\x21-\x7e]+$/.test(moduleId) || moduleId.length > moduleIdCharsMax) {
    fail('module_id', `must be 1..${moduleIdCharsMax} printable ASCII characters`);
  }
  if (map.get('digest') !== 'SHA384') fail('digest', 'must be "SHA384"');
  const timestamp = map.get('timestamp');
  // Bounded by the largest time a Date holds (ECMA-262 §21.4.1.22, 8.64e15 ms):
  // a larger safe integer would make an Invalid Date, whose toISOString()
  // throws an untyped RangeError once the document has verified.
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp <= 0 || timestamp > maxDateMilliseconds) {
    fail('timestamp', `must be a positive integer up to ${maxDateMilliseconds} (milliseconds since the epoch)`);
  }

  const pcrMap = map.get('pcrs');
  if (!(pcrMap instanceof Map)) fail('pcrs', 'must be a map');
  if (pcrMap.size < 1 || pcrMap.size > pcrIndexMax + 1) fail('pcrs', `must hold 1..${pcrIndexMax + 1} entries, holds ${pcrMap.size}`);
  const pcrs = new Map<number, Uint8Array>();
  for (const [index, value] of pcrMap) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > pcrIndexMax) {
      fail('pcrs', `key ${JSON.stringify(index)} must be an integer 0..${pcrIndexMax}`);
    }
    if (!(value instanceof Uint8Array) || !pcrLengths.includes(value.length)) fail(`pcrs[${index}]`, 'must be a byte string of 32, 48 or 64 bytes');
    pcrs.set(index, value);
  }

  const certificate = bytesIn(map.get('certificate'), 'certificate', 1, nitroCertificateBytesMax);
  const bundle = map.get('cabundle');
  if (!Array.isArray(bundle) || bundle.length < 1 || bundle.length > cabundleEntriesMax) {
    fail('cabundle', `must be an array of 1..${cabundleEntriesMax} certificates`);
  }
  const cabundle = bundle.map((cert, i) => bytesIn(cert, `cabundle[${i}]`, 1, nitroCertificateBytesMax));

  return {
    moduleId,
    digest: 'SHA384',
    timestamp,
    pcrs,
    certificate,
    cabundle,
    publicKey: optionalBytes(map, 'public_key', 1, publicKeyBytesMax),
    userData: optionalBytes(map, 'user_data', 0, userDataBytesMax),
    nonce: optionalBytes(map, 'nonce', 0, nonceBytesMax),
  };
}
