// Offline inspection of one piece of native evidence, for auditors and
// operators (`teearray attest verify`): runs the platform's verifier (chain
// to a pinned root, signatures, validity as of a time), then, when a
// manifest is given, its reference values, and, when given, compares the
// report data. Never throws on bad evidence: the result says what was
// checked, what was found and the first refusal.
import { equalBytes, toHex } from './bytes.ts';
import { AttestationError } from './errors.ts';
import type { CheckRecord, HardwarePlatform, NativeClaims } from './hardware/native-claims.ts';
import type { ReferenceManifest } from './manifest.ts';
import { rulesOf } from './platforms.ts';

export interface InspectOptions {
  platform: HardwarePlatform;
  evidence: Uint8Array;
  /** Certificates next to the evidence (SEV-SNP: the VCEK, or the certificate table); empty otherwise. */
  certs: Uint8Array;
  /** Pinned roots and reference values; without it, the platform's known roots and no reference check. */
  manifest?: ReferenceManifest;
  /** Certificates are checked as of this time; the platform's default (Nitro: the document's timestamp; others: now). */
  at?: Date;
  /** The 64 bytes the evidence must report, when known. */
  reportData?: Uint8Array;
}

export interface Inspection {
  platform: HardwarePlatform;
  verified: boolean;
  /** The first refusal, when not verified. */
  error?: { code: string; message: string };
  checks: CheckRecord[];
  /** What was not checked, said plainly: the verifier's own list, and reference values or report data when not given. */
  notChecked: string[];
  /** The claims, when the evidence passed its signature and chain checks (even if a later check refused it). */
  claims?: NativeClaims;
  /** When verified: the manifest platform entry that pins this root and accepts exactly this image. */
  manifestEntry?: { name: string; roots: string[]; reference: unknown };
}

function refusal(error: unknown): { code: string; message: string } {
  if (error instanceof AttestationError) return { code: error.code, message: error.message };
  throw error; // Anything else is our bug, not a verdict on the evidence.
}

export function inspectEvidence(opts: InspectOptions): Inspection {
  const rules = rulesOf(opts.platform);
  const entry = opts.manifest?.platforms.find((p) => p.name === opts.platform);
  const notChecked: string[] = [];
  const result: Inspection = { platform: opts.platform, verified: false, checks: [], notChecked };
  if (opts.manifest && !entry) {
    result.error = { code: 'E_ATT_CHAIN', message: `E_ATT_CHAIN: platform "${opts.platform}" is not in the manifest` };
    return result;
  }
  const rootFingerprints = entry ? entry.roots : rules.knownRoots.map((r) => r.fingerprint);
  try {
    result.claims = rules.verify(opts.evidence, opts.certs, { rootFingerprints, ...(opts.at ? { at: opts.at } : {}) });
  } catch (error) {
    result.error = refusal(error);
    return result;
  }
  const claims = result.claims;
  result.checks.push(...claims.checks);
  notChecked.push(...claims.notChecked);
  try {
    // Whatever a manifest says: a debuggable guest's memory is readable by its host.
    if (claims.debug) throw new AttestationError('E_ATT_POLICY', `the ${opts.platform} guest is debuggable: its memory is readable by the host`);
    result.checks.push({ check: 'debug', detail: 'off' });
    if (entry?.reference) {
      entry.reference.check(claims);
      result.checks.push({ check: 'reference values', detail: `measurements among the manifest's accepted images; policy accepted` });
    } else {
      notChecked.push(entry ? 'reference values (the manifest has none for this platform)' : 'reference values (no manifest given): measurements and policy are shown, not judged');
    }
    if (opts.reportData) {
      if (!equalBytes(opts.reportData, claims.reportData)) {
        throw new AttestationError('E_ATT_REPORT_DATA', `the evidence reports ${claims.reportData.length ? toHex(claims.reportData) : 'no 64-byte report data'}, not the expected ${toHex(opts.reportData)}`);
      }
      result.checks.push({ check: 'report data', detail: 'equals the expected' });
    } else {
      notChecked.push('report data (none expected): freshness and binding are the session\'s to check');
    }
  } catch (error) {
    result.error = refusal(error);
    return result;
  }
  result.verified = true;
  const reference = rules.referenceOf(claims);
  rules.parseReference(reference, 'reference'); // An entry we print must be one the manifest accepts.
  result.manifestEntry = { name: opts.platform, roots: [toHex(claims.rootFingerprint)], reference };
  return result;
}
