// Reference values for SEV-SNP evidence, as the manifest's platform entry for
// "amd-sev-snp-v1" states them, and their check against verified claims:
//   - MEASUREMENT must be one of the listed launch digests  E_ATT_MEASUREMENT
//   - DEBUG refused unless allowed                           E_ATT_POLICY
//   - MIGRATE_MA refused unless allowed (a migration agent
//     could move the guest's memory to another machine)     E_ATT_POLICY
//   - VMPL, when given, must be the one stated               E_ATT_POLICY
//   - REPORTED_TCB at or above minTcb in every component     E_ATT_POLICY
// REPORTED_TCB is what the VCEK was issued for (snp-verifier.ts checks the
// VCEK says so), so a platform cannot claim a higher TCB than AMD certified.
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { AttestationError } from '../errors.ts';
import type { NativeClaims } from '../hardware/native-claims.ts';

/** Launch digest length (SHA-384). */
export const snpMeasurementBytes = 48;
/** Most measurements one reference lists. */
export const snpReferenceMeasurementsMax = 64;

export interface SnpMinTcb {
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
}

export interface SevSnpReference {
  measurements: Uint8Array[];
  minTcb?: SnpMinTcb;
  allowDebug?: boolean;
  allowMigrateMa?: boolean;
  vmpl?: number;
}

const tcbParts: (keyof SnpMinTcb)[] = ['bootloader', 'tee', 'snp', 'microcode'];
const vmplMax = 3;

function policyError(why: string): never {
  throw new AttestationError('E_ATT_POLICY', `SEV-SNP ${why}`);
}

/** A detail the SEV-SNP verifier always sets; its absence is a caller's bug (claims of another platform). */
function detail<T extends 'number' | 'boolean'>(claims: NativeClaims, key: string, type: T): T extends 'number' ? number : boolean {
  const value = claims.details[key];
  if (claims.platform !== 'amd-sev-snp-v1' || typeof value !== type) {
    throw new Error(`checkSevSnpReference needs SEV-SNP claims with details.${key} (got ${claims.platform})`);
  }
  return value as T extends 'number' ? number : boolean;
}

/** Checks verified SEV-SNP claims against a reference; throws on the first mismatch. */
export function checkSevSnpReference(claims: NativeClaims, reference: SevSnpReference): void {
  const measurement = claims.measurements.measurement;
  if (!measurement || !reference.measurements.some((m) => equalBytes(m, measurement))) {
    throw new AttestationError('E_ATT_MEASUREMENT', `SEV-SNP MEASUREMENT ${measurement ? toHex(measurement) : '(none)'} is not a reference measurement`);
  }
  if (detail(claims, 'debug', 'boolean') && !reference.allowDebug) policyError('guest policy allows debugging (POLICY.DEBUG): its memory is readable by the host');
  if (detail(claims, 'migrateMa', 'boolean') && !reference.allowMigrateMa) policyError('guest policy allows a migration agent (POLICY.MIGRATE_MA)');
  const vmpl = detail(claims, 'vmpl', 'number');
  if (reference.vmpl !== undefined && vmpl !== reference.vmpl) policyError(`report comes from VMPL ${vmpl}, the reference requires ${reference.vmpl}`);
  if (reference.minTcb) {
    for (const part of tcbParts) {
      const got = detail(claims, `reportedTcb.${part}`, 'number');
      if (got < reference.minTcb[part]) policyError(`REPORTED_TCB ${part} SPL ${got} is below the minimum ${reference.minTcb[part]}`);
    }
  }
}

// The manifest's strictness (attestation/manifest.ts): unknown fields refused,
// lowercase hex of exact length, bounded lists, no duplicates, the field named.
function manifestError(field: string, why: string): never {
  throw new AttestationError('E_ATT_MANIFEST', `${field} ${why}`);
}

function record(value: unknown, field: string, required: string[], optional: string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) manifestError(field, 'must be an object');
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) if (!required.includes(key) && !optional.includes(key)) manifestError(`${field}.${key}`, 'is not a known field');
  for (const key of required) if (!(key in obj)) manifestError(`${field}.${key}`, 'is missing');
  return obj;
}

function integer(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) manifestError(field, `must be an integer 0..${max}`);
  return value;
}

function boolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') manifestError(field, 'must be true or false');
  return value;
}

/** The reference of a manifest's "amd-sev-snp-v1" entry, from its JSON value; E_ATT_MANIFEST naming `field`. */
export function parseSevSnpReference(json: unknown, field: string): SevSnpReference {
  const obj = record(json, field, ['measurements'], ['minTcb', 'allowDebug', 'allowMigrateMa', 'vmpl']);
  const list = obj.measurements;
  if (!Array.isArray(list) || list.length < 1 || list.length > snpReferenceMeasurementsMax) {
    manifestError(`${field}.measurements`, `must be an array of 1..${snpReferenceMeasurementsMax} entries`);
  }
  const seen = new Set<string>();
  const measurements = list.map((item, i) => {
    const bytes = typeof item === 'string' ? fromHex(item, snpMeasurementBytes) : null;
    if (bytes === null) manifestError(`${field}.measurements[${i}]`, `must be ${snpMeasurementBytes * 2} lowercase hex digits`);
    if (seen.has(item as string)) manifestError(`${field}.measurements[${i}]`, 'is a duplicate');
    seen.add(item as string);
    return bytes;
  });
  const reference: SevSnpReference = { measurements };
  if (obj.minTcb !== undefined) {
    const tcb = record(obj.minTcb, `${field}.minTcb`, tcbParts, []);
    const [bootloader, tee, snp, microcode] = tcbParts.map((part) => integer(tcb[part], `${field}.minTcb.${part}`, 255));
    reference.minTcb = { bootloader, tee, snp, microcode };
  }
  if (obj.allowDebug !== undefined) reference.allowDebug = boolean(obj.allowDebug, `${field}.allowDebug`);
  if (obj.allowMigrateMa !== undefined) reference.allowMigrateMa = boolean(obj.allowMigrateMa, `${field}.allowMigrateMa`);
  if (obj.vmpl !== undefined) reference.vmpl = integer(obj.vmpl, `${field}.vmpl`, vmplMax);
  return reference;
}
