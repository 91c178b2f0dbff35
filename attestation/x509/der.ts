// A minimal DER walker (ITU-T X.690 §8.1, definite lengths only), enough to
// read the certificate fields node:crypto's X509Certificate does not expose:
// the key-usage bits, the basic-constraints path length, and vendor
// extensions (AMD's TCB values in a VCEK). Every length is checked against
// its parent; anything malformed is E_ATT_FORMAT. Reads, never allocates
// beyond subarrays.
import { AttestationError } from '../errors.ts';

export interface DerNode {
  /** The identifier octet (single-byte tags only: every tag X.509 uses here). */
  tag: number;
  /** The contents octets. */
  value: Uint8Array;
}

/** Longest length field accepted, in octets: lengths below 4 GiB. */
const lengthOctetsMax = 4;

function fail(what: string, why: string): never {
  throw new AttestationError('E_ATT_FORMAT', `${what}: DER ${why}`);
}

/** The TLV at `offset` and the offset after it. */
function readNode(bytes: Uint8Array, offset: number, what: string): { node: DerNode; next: number } {
  if (offset + 2 > bytes.length) fail(what, 'truncated header');
  const tag = bytes[offset];
  if ((tag & 0x1f) === 0x1f) fail(what, 'multi-byte tags are not used in certificates');
  let length = bytes[offset + 1];
  let at = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0) fail(what, 'indefinite length');
    if (octets > lengthOctetsMax) fail(what, 'length too long');
    if (at + octets > bytes.length) fail(what, 'truncated length');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + bytes[at + i];
    at += octets;
  }
  if (at + length > bytes.length) fail(what, 'length past the end');
  return { node: { tag, value: bytes.subarray(at, at + length) }, next: at + length };
}

/** The one TLV that makes up `bytes` exactly. */
export function derNode(bytes: Uint8Array, what: string): DerNode {
  const { node, next } = readNode(bytes, 0, what);
  if (next !== bytes.length) fail(what, 'trailing bytes');
  return node;
}

/** The TLVs that make up a constructed value's contents, in order. */
export function derChildren(value: Uint8Array, what: string): DerNode[] {
  const out: DerNode[] = [];
  for (let at = 0; at < value.length; ) {
    const { node, next } = readNode(value, at, what);
    out.push(node);
    at = next;
  }
  return out;
}

/** A non-negative INTEGER's value (at most 6 bytes, so it is exact in a number). */
export function derUnsigned(node: DerNode, what: string): number {
  if (node.tag !== 0x02 || node.value.length === 0 || node.value.length > 7 || (node.value[0] & 0x80) !== 0) fail(what, 'not a small non-negative INTEGER');
  let n = 0;
  for (const b of node.value) n = n * 256 + b;
  if (!Number.isSafeInteger(n)) fail(what, 'INTEGER too large');
  return n;
}

/** Dotted-decimal text of an OBJECT IDENTIFIER's contents. */
export function derOid(node: DerNode, what: string): string {
  if (node.tag !== 0x06 || node.value.length === 0) fail(what, 'not an OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let arc = 0;
  for (const b of node.value) {
    arc = arc * 128 + (b & 0x7f);
    if (arc > Number.MAX_SAFE_INTEGER / 128) fail(what, 'OID arc too large');
    if ((b & 0x80) === 0) (arcs.push(arc), (arc = 0));
  }
  if (node.value[node.value.length - 1] & 0x80) fail(what, 'truncated OID');
  const first = arcs.shift()!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

export interface Extension {
  critical: boolean;
  /** The extnValue OCTET STRING's contents (itself DER for every standard extension). */
  value: Uint8Array;
}

/** A certificate's extensions by OID (RFC 5280 §4.1); duplicates are refused (§4.2). */
export function certificateExtensions(der: Uint8Array, what: string): Map<string, Extension> {
  const certificate = derNode(der, what);
  const [tbs] = derChildren(certificate.value, what);
  if (!tbs || tbs.tag !== 0x30) fail(what, 'no tbsCertificate');
  const out = new Map<string, Extension>();
  const wrapper = derChildren(tbs.value, what).find((n) => n.tag === 0xa3); // [3] EXPLICIT Extensions
  if (!wrapper) return out;
  const [list] = derChildren(wrapper.value, what);
  if (!list || list.tag !== 0x30) fail(what, 'extensions are not a SEQUENCE');
  for (const ext of derChildren(list.value, what)) {
    const parts = derChildren(ext.value, what);
    const oid = derOid(parts[0] ?? fail(what, 'empty extension'), what);
    const critical = parts.length === 3 && parts[1].tag === 0x01 && parts[1].value[0] !== 0;
    const octets = parts[parts.length - 1];
    if (octets.tag !== 0x04 || parts.length < 2 || parts.length > 3) fail(what, `extension ${oid} is malformed`);
    if (out.has(oid)) fail(what, `extension ${oid} appears twice`);
    out.set(oid, { critical, value: octets.value });
  }
  return out;
}
