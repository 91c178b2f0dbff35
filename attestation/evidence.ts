// Session evidence, format version 3 (byte table in docs/ATTESTATION.md):
// the envelope every platform's evidence travels in. The node states what it
// is (platform, build digest, launch config) and which session it answers
// (the 32 bytes of report data of docs/PROTOCOL.md, ATTEST); the platform's
// native evidence then vouches for all of it, because the 64 bytes of report
// data the node asked the platform to sign are a hash of the envelope's head:
//   native report data = SHA-512("teearray evidence v3" 0x00 || head)
//   head = "TEEV" | version 3 | platform (length byte + name) |
//          build digest 32 | launch config 40 | report data 32
// then follow the native evidence (u32 length, 1..) and what the platform
// handed out with it (u32 length, 0..), e.g. the SEV-SNP certificate table.
// The decoder trusts nothing and checks only the format; verifier.ts decides.
import { createHash } from 'node:crypto';
import { ByteReader } from './byte-reader.ts';
import { concatBytes, domainLabel } from './bytes.ts';
import { AttestationError } from './errors.ts';
import { decodeLaunchConfig, encodeLaunchConfig, launchConfigBytes } from './launch-config.ts';
import { digestBytes, evidenceBytesMax, reportDataBytes } from './limits.ts';
import { encodePlatformName, readPlatformName } from './platform-name.ts';
import type { AttestationProvider, LaunchConfig } from './provider.ts';
import type { NativeReporter } from './reporters/native-reporter.ts';

const evidenceMagic = Uint8Array.from([0x54, 0x45, 0x45, 0x56]); // "TEEV"
export const evidenceVersion = 3;
const bindingLabel = domainLabel('teearray evidence v3');

/** What the node states about itself and its session. */
export interface EvidenceHead {
  platform: string;
  buildDigest: Uint8Array;
  config: LaunchConfig;
  /** Binds the session (docs/PROTOCOL.md, ATTEST). */
  reportData: Uint8Array;
}

export interface Evidence extends EvidenceHead {
  /** The platform's own evidence over nativeReportData(head). */
  native: Uint8Array;
  /** Certificates the platform handed out with it, or empty. */
  aux: Uint8Array;
  /** The 64 bytes the native evidence must report: the hash of the encoded head. */
  binding: Uint8Array;
}

function encodeHead(head: EvidenceHead): Uint8Array {
  if (head.buildDigest.length !== digestBytes || head.reportData.length !== reportDataBytes) throw new RangeError('evidence head field lengths');
  return concatBytes(evidenceMagic, Uint8Array.of(evidenceVersion), encodePlatformName(head.platform), head.buildDigest, encodeLaunchConfig(head.config), head.reportData);
}

function bindingOf(encodedHead: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha512').update(bindingLabel).update(encodedHead).digest());
}

/** The 64 bytes of report data the platform must sign for this head. */
export function nativeReportData(head: EvidenceHead): Uint8Array {
  return bindingOf(encodeHead(head));
}

function u32(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

export function encodeEvidence(head: EvidenceHead, native: Uint8Array, aux: Uint8Array): Uint8Array {
  return concatBytes(encodeHead(head), u32(native.length), native, u32(aux.length), aux);
}

export function decodeEvidence(bytes: Uint8Array): Evidence {
  if (bytes.length > evidenceBytesMax) throw new AttestationError('E_ATT_FORMAT', `evidence is ${bytes.length} bytes, more than ${evidenceBytesMax}`);
  const reader = new ByteReader(bytes, 'evidence');
  reader.header(evidenceMagic, evidenceVersion);
  const platform = readPlatformName(reader);
  const buildDigest = reader.take(digestBytes, 'build digest');
  const config = decodeLaunchConfig(reader.take(launchConfigBytes, 'launch config'));
  const reportData = reader.take(reportDataBytes, 'report data');
  const head = bytes.subarray(0, 4 + 1 + 1 + platform.length + digestBytes + launchConfigBytes + reportDataBytes);
  const nativeLength = reader.u32('native evidence length');
  if (nativeLength === 0) throw new AttestationError('E_ATT_FORMAT', 'evidence has no native evidence');
  const native = reader.take(nativeLength, 'native evidence');
  const aux = reader.take(reader.u32('certificates length'), 'certificates');
  reader.end();
  return { platform, buildDigest, config, reportData, native, aux, binding: bindingOf(head) };
}

/**
 * The disk node's provider on any platform: wraps the platform's native
 * evidence over the envelope's binding. `buildDigest` and `config` are what
 * the launcher measured and started the node with.
 */
export function createEnvelopeProvider(reporter: NativeReporter, buildDigest: Uint8Array, config: LaunchConfig): AttestationProvider {
  const fixed = { platform: reporter.platform, buildDigest: Uint8Array.from(buildDigest), config };
  encodeHead({ ...fixed, reportData: new Uint8Array(reportDataBytes) }); // Refuse a bad launch config at launch, not at the first session.
  return Object.freeze({
    platform: reporter.platform,
    report(reportData: Uint8Array): Uint8Array {
      const head = { ...fixed, reportData: Uint8Array.from(reportData) };
      const { evidence, aux } = reporter.report(nativeReportData(head));
      return encodeEvidence(head, evidence, aux);
    },
  });
}
