// Reference values for SEV-SNP evidence, as the manifest's platform entry for
// "amd-sev-snp-v1" states them, and their check against verified claims:
//   - MEASUREMENT must be one of the listed launch digests  E_ATT_MEASUREMENT
//   - DEBUG refused, always (the host can read a debuggable guest) E_ATT_POLICY
//   - MIGRATE_MA refused unless allowed (a migration agent
//     could move the guest's memory to another machine)     E_ATT_POLICY
//   - VMPL must be the one stated (default 0)                E_ATT_POLICY
//   - REPORTED_TCB at or above minTcb in every component     E_ATT_POLICY
// REPORTED_TCB is what the VCEK was issued for (snp-verifier.ts checks the
// VCEK says so), so a platform cannot claim a higher TCB than AMD certified.
import { equalBytes, toHex } from '../bytes.ts';
import { AttestationError } from '../errors.ts';
import { fieldHexList, fieldInteger, fieldNoDebug, fieldRecord, manifestFail } from '../manifest-fields.ts';
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
  /** Debuggable guests are never accepted; the field exists only to say so. */
  allowDebug?: false;
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
  if (claims.debug) policyError('guest policy allows debugging (POLICY.DEBUG): its memory is readable by the host');
  if (detail(claims, 'migrateMa', 'boolean') && !reference.allowMigrateMa) policyError('guest policy allows a migration agent (POLICY.MIGRATE_MA)');
  // VMPL 0 unless the reference names another: a report requested from a less privileged level
  // speaks for software that a more privileged one (an SVSM) could control.
  const vmpl = detail(claims, 'vmpl', 'number');
  const wanted = reference.vmpl ?? 0;
  if (vmpl !== wanted) policyError(`report comes from VMPL ${vmpl}, the reference requires ${wanted}`);
  if (reference.minTcb) {
    for (const part of tcbParts) {
      const got = detail(claims, `reportedTcb.${part}`, 'number');
      if (got < reference.minTcb[part]) policyError(`REPORTED_TCB ${part} SPL ${got} is below the minimum ${reference.minTcb[part]}`);
    }
  }
}

/** The reference of a manifest's "amd-sev-snp-v1" entry, from its JSON value; E_ATT_MANIFEST naming `field`. */
export function parseSevSnpReference(json: unknown, field: string): SevSnpReference {
  const obj = fieldRecord(json, field, ['measurements'], ['minTcb', 'allowDebug', 'allowMigrateMa', 'vmpl']);
  const measurements = fieldHexList(obj.measurements, `${field}.measurements`, 1, snpReferenceMeasurementsMax, snpMeasurementBytes);
  const reference: SevSnpReference = { measurements };
  if (obj.minTcb !== undefined) {
    const tcb = fieldRecord(obj.minTcb, `${field}.minTcb`, tcbParts, []);
    const [bootloader, tee, snp, microcode] = tcbParts.map((part) => fieldInteger(tcb[part], `${field}.minTcb.${part}`, 255));
    reference.minTcb = { bootloader, tee, snp, microcode };
  }
  if (obj.allowDebug !== undefined) reference.allowDebug = fieldNoDebug(obj.allowDebug, `${field}.allowDebug`);
  if (obj.allowMigrateMa !== undefined) {
    if (typeof obj.allowMigrateMa !== 'boolean') manifestFail(`${field}.allowMigrateMa`, 'must be true or false');
    reference.allowMigrateMa = obj.allowMigrateMa;
  }
  if (obj.vmpl !== undefined) reference.vmpl = fieldInteger(obj.vmpl, `${field}.vmpl`, vmplMax);
  return reference;
}
