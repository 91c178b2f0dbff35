// Certificate chains of the hardware platforms (AWS Nitro, AMD SEV-SNP,
// Intel TDX), checked as RFC 5280 §6 asks for the parts that matter here.
// node:crypto's X509Certificate.verify checks one signature and nothing
// else, so this module checks the rest itself, as of a given time:
//   - every certificate is valid at that time            E_ATT_EXPIRED
//   - each is signed by the next and names it as issuer  E_ATT_CHAIN
//   - every issuer is a CA (basic constraints), may sign certificates
//     (key usage keyCertSign) and its path length allows the chain
//   - the leaf is not a CA; if it has key usage, digitalSignature is set
//   - the last is self-signed and its SHA-256 fingerprint is pinned
// Chains are short (3 or 4 certificates) and bounded.
import { createHash, X509Certificate } from 'node:crypto';
import { equalBytes, toHex } from '../bytes.ts';
import { AttestationError } from '../errors.ts';
import type { CheckRecord } from '../hardware/native-claims.ts';
import { certificateExtensions, derChildren, derNode, derUnsigned, type Extension } from './der.ts';

/** Largest certificate accepted, DER or PEM. */
export const certificateBytesMax = 8 * 1024;
/** Longest chain accepted, leaf and root included. */
export const chainCertificatesMax = 8;

const oidKeyUsage = '2.5.29.15';
const oidBasicConstraints = '2.5.29.19';
// Key usage bits, RFC 5280 §4.2.1.3: bit 0 is the first byte's top bit.
const keyUsageDigitalSignature = 0;
const keyUsageKeyCertSign = 5;

/** A certificate from DER or PEM bytes, bounded; E_ATT_FORMAT when it is not one. */
export function parseCertificate(bytes: Uint8Array | string, what: string): X509Certificate {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
  if (size === 0 || size > certificateBytesMax) {
    throw new AttestationError('E_ATT_FORMAT', `${what} must be 1..${certificateBytesMax} bytes, got ${size}`);
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(typeof bytes === 'string' ? bytes : Buffer.from(bytes));
  } catch (error) {
    throw new AttestationError('E_ATT_FORMAT', `${what} is not an X.509 certificate: ${(error as Error).message}`, { cause: error });
  }
  certificateExtensions(new Uint8Array(cert.raw), what); // The extensions must parse: checks below read them.
  return cert;
}

/** The certificates of a PEM bundle, in order; at most `max`, nothing but PEM blocks and whitespace. */
export function splitPemCertificates(text: string, what: string, max: number = chainCertificatesMax): X509Certificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g) ?? [];
  const rest = blocks.reduce((left, block) => left.replace(block, ''), text);
  if (rest.replace(/[\s\0]/g, '') !== '') throw new AttestationError('E_ATT_FORMAT', `${what} holds something other than PEM certificates`);
  if (blocks.length === 0 || blocks.length > max) {
    throw new AttestationError('E_ATT_FORMAT', `${what} must hold 1..${max} certificates, holds ${blocks.length}`);
  }
  return blocks.map((block, i) => parseCertificate(block, `${what} certificate ${i}`));
}

export function certificateFingerprint(cert: X509Certificate): Uint8Array {
  return new Uint8Array(createHash('sha256').update(cert.raw).digest());
}

function subjectOf(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

/** Key usage bits as a predicate, or null when the extension is absent. */
function keyUsage(extensions: Map<string, Extension>, what: string): ((bit: number) => boolean) | null {
  const ext = extensions.get(oidKeyUsage);
  if (!ext) return null;
  const bits = derNode(ext.value, `${what} key usage`);
  if (bits.tag !== 0x03 || bits.value.length < 1) throw new AttestationError('E_ATT_FORMAT', `${what} key usage is not a BIT STRING`);
  return (bit) => {
    const byte = 1 + (bit >> 3);
    return byte < bits.value.length && (bits.value[byte] & (0x80 >> (bit & 7))) !== 0;
  };
}

/** Basic constraints (RFC 5280 §4.2.1.9): whether a CA, and its path length limit. */
function basicConstraints(extensions: Map<string, Extension>, what: string): { ca: boolean; pathLength: number | null } {
  const ext = extensions.get(oidBasicConstraints);
  if (!ext) return { ca: false, pathLength: null };
  const fields = derChildren(derNode(ext.value, `${what} basic constraints`).value, `${what} basic constraints`);
  let at = 0;
  const ca = fields[at]?.tag === 0x01 ? fields[at++].value[0] !== 0 : false;
  const pathLength = fields[at] ? derUnsigned(fields[at], `${what} path length`) : null;
  return { ca, pathLength };
}

/** Whether `issuer`'s key signed `cert`; a key OpenSSL cannot use (not on its curve) signed nothing. */
function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function chainError(what: string, why: string): never {
  throw new AttestationError('E_ATT_CHAIN', `${what}: ${why}`);
}

/** The leaf must be an end entity that may sign; certificate i > 0 issues certificates. */
function checkRole(cert: X509Certificate, i: number, name: string, what: string): void {
  const extensions = certificateExtensions(new Uint8Array(cert.raw), name);
  const usage = keyUsage(extensions, name);
  const constraints = basicConstraints(extensions, name);
  if (i === 0) {
    if (constraints.ca) chainError(what, `${name} is a CA, not an end entity`);
    if (usage && !usage(keyUsageDigitalSignature)) chainError(what, `${name} may not sign (no digitalSignature key usage)`);
    return;
  }
  if (!constraints.ca) chainError(what, `${name} issues certificates but is not a CA (basic constraints)`);
  if (!usage || !usage(keyUsageKeyCertSign)) chainError(what, `${name} issues certificates but lacks keyCertSign key usage`);
  // §4.2.1.9: pathLen counts the intermediate CAs that may follow this one, not the leaf.
  if (constraints.pathLength !== null && i - 1 > constraints.pathLength) {
    chainError(what, `${name} allows ${constraints.pathLength} intermediate CAs below it, the chain has ${i - 1}`);
  }
}


export interface ChainOptions {
  /** The time every certificate must be valid at. */
  at: Date;
  /** SHA-256 fingerprints of the DER of the trusted roots. */
  rootFingerprints: Uint8Array[];
  /** Names the chain in messages, e.g. "Nitro document chain". */
  what: string;
}

/**
 * Checks `chain` (leaf first, self-signed root last) as of `opts.at`.
 * Returns the root's fingerprint and a record of what was checked.
 */
export function verifyCertificateChain(chain: X509Certificate[], opts: ChainOptions): { rootFingerprint: Uint8Array; checks: CheckRecord[] } {
  const { what, at } = opts;
  // An Invalid Date compares false with everything, and its toISOString()
  // throws a RangeError: refuse it typed, as no certificate is valid at it.
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new AttestationError('E_ATT_EXPIRED', `${what} cannot be checked as of an invalid time`);
  if (chain.length < 2 || chain.length > chainCertificatesMax) chainError(what, `must hold 2..${chainCertificatesMax} certificates, holds ${chain.length}`);
  const root = chain[chain.length - 1];
  const rootFingerprint = certificateFingerprint(root);
  if (!opts.rootFingerprints.some((pinned) => equalBytes(pinned, rootFingerprint))) {
    chainError(what, `root ${subjectOf(root)} (sha256 ${toHex(rootFingerprint)}) is not a pinned root`);
  }
  const names = chain.map((cert, i) => `${what} certificate ${i} (${subjectOf(cert)})`);
  chain.forEach((cert, i) => {
    const from = new Date(cert.validFrom);
    const to = new Date(cert.validTo);
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw new AttestationError('E_ATT_FORMAT', `${names[i]} has an unreadable validity period`);
    if (!(at >= from && at <= to)) {
      throw new AttestationError('E_ATT_EXPIRED', `${names[i]} is valid from ${from.toISOString()} to ${to.toISOString()}, not at ${at.toISOString()}`);
    }
  });
  chain.forEach((cert, i) => checkRole(cert, i, names[i], what));
  chain.forEach((cert, i) => {
    const issuer = chain[Math.min(i + 1, chain.length - 1)];
    if (!signedBy(cert, issuer)) chainError(what, `${names[i]}: the signature by ${subjectOf(issuer)} does not verify`);
    // OpenSSL's issuer check: names, key identifiers and the issuer's key usage agree.
    if (!cert.checkIssued(issuer)) chainError(what, `${names[i]} is not issued by ${subjectOf(issuer)} (names or key identifiers differ)`);
  });
  return {
    rootFingerprint,
    checks: [
      { check: 'chain', detail: `${chain.length} certificates, each signed by the next, CA constraints and key usage as required` },
      { check: 'root', detail: `${subjectOf(root)}, sha256 ${toHex(rootFingerprint)}, pinned` },
      { check: 'validity', detail: `every certificate valid at ${at.toISOString()}` },
    ],
  };
}
