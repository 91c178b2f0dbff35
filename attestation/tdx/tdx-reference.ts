// Reference values for TDX claims: the TD images a manifest accepts, each by
// its MRTD (the initial TD memory: firmware), RTMR1 and RTMR2 (the kernel,
// initrd and command line the firmware loaded), which every image must list:
// MRTD alone would accept any operating system booted on genuine firmware,
// and with it any claimed build. RTMR0 (firmware configuration, including
// host-provided ACPI tables), RTMR3 and MRCONFIGID may be listed too. A claim
// matches an image when every value the image lists equals the claim's. A
// debug TD is never accepted: its memory is readable by the host (DESIGN.md,
// threat model); a migratable TD (TDATTRIBUTES.MIGRATABLE, whose state a
// migration TD may move to another machine) only when the reference allows it.
//
// parseTdxReference follows attestation/manifest.ts (manifest-fields.ts):
// bounded lists, unknown fields refused, lowercase hex of exact length,
// errors naming the field.
import { toHex } from '../bytes.ts';
import { AttestationError } from '../errors.ts';
import { fieldHex, fieldList, fieldNoDebug, fieldRecord, manifestFail, rejectDuplicates } from '../manifest-fields.ts';
import type { NativeClaims } from '../hardware/native-claims.ts';

/** MRTD, RTMRs and MRCONFIGID are SHA-384 sized. */
const tdxMeasurementBytes = 48;
/** Most images one reference lists. */
export const tdxReferenceImagesMax = 64;

const tdxImageFields = ['mrtd', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3', 'mrconfigid'] as const;
type ImageField = (typeof tdxImageFields)[number];

const requiredImageFields = ['mrtd', 'rtmr1', 'rtmr2'] as const;
type RequiredField = (typeof requiredImageFields)[number];

export type TdxReferenceImage = Record<RequiredField, Uint8Array> & Partial<Record<Exclude<ImageField, RequiredField>, Uint8Array>>;

export interface TdxReference {
  images: TdxReferenceImage[];
  /** Only `false` is allowed: written out by manifests that want to say so. */
  allowDebug?: false;
  /** Accept TDs with TDATTRIBUTES.MIGRATABLE set (default: refused). */
  allowMigratable?: boolean;
}

/** TDATTRIBUTES bit 29 (Intel TDX module ABI, TD attributes): the TD may be migrated. */
function migratable(claims: NativeClaims): boolean {
  const attributes = claims.details.tdAttributes;
  if (typeof attributes !== 'string' || attributes.length !== 16) throw new Error('checkTdxReference needs TDX claims with details.tdAttributes');
  // Little-endian 64-bit field: bit 29 is bit 5 of byte 3.
  return (parseInt(attributes.slice(6, 8), 16) & 0x20) !== 0;
}

/** The fields of `image` that differ from the claims' values (missing claims count as different). */
function mismatches(claims: NativeClaims, image: TdxReferenceImage): ImageField[] {
  return tdxImageFields.filter((field) => {
    const want = image[field];
    const got = claims.measurements[field];
    return want !== undefined && (got === undefined || toHex(got) !== toHex(want));
  });
}

export function checkTdxReference(claims: NativeClaims, reference: TdxReference): void {
  if (claims.debug) throw new AttestationError('E_ATT_POLICY', 'TDX TD is in debug mode (TDATTRIBUTES.DEBUG): its memory is readable by the host');
  if (migratable(claims) && !reference.allowMigratable) {
    throw new AttestationError('E_ATT_POLICY', 'TDX TD is migratable (TDATTRIBUTES.MIGRATABLE) and the reference does not allow it');
  }
  const differences = reference.images.map((image) => mismatches(claims, image));
  if (differences.some((fields) => fields.length === 0)) return;
  const why = differences.map((fields, i) => `image ${i} differs in ${fields.join(', ')}`).join('; ');
  const claimed = ['mrtd', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3']
    .map((field) => `${field}=${claims.measurements[field] ? toHex(claims.measurements[field]) : 'absent'}`)
    .join(' ');
  throw new AttestationError('E_ATT_MEASUREMENT', `TDX measurements match no reference image (${why}); the TD has ${claimed}`);
}

/** The TDX reference of a manifest, from its parsed JSON value at `field`. */
export function parseTdxReference(json: unknown, field: string): TdxReference {
  const top = fieldRecord(json, field, ['images'], ['allowDebug', 'allowMigratable']);
  const images = fieldList(top.images, `${field}.images`, 1, tdxReferenceImagesMax).map((item: unknown, i: number): TdxReferenceImage => {
    const at = `${field}.images[${i}]`;
    const obj = fieldRecord(item, at, requiredImageFields, tdxImageFields.filter((f) => !(requiredImageFields as readonly string[]).includes(f)));
    const image = {} as TdxReferenceImage;
    for (const name of tdxImageFields) {
      if (obj[name] !== undefined) image[name] = fieldHex(obj[name], `${at}.${name}`, tdxMeasurementBytes);
    }
    return image;
  });
  // Same fields, same values: one image twice says nothing new and hides a mistake.
  rejectDuplicates(images.map((image) => JSON.stringify(tdxImageFields.map((name) => (image[name] ? toHex(image[name]) : null)))), `${field}.images`);
  const reference: TdxReference = { images };
  if (top.allowDebug !== undefined) reference.allowDebug = fieldNoDebug(top.allowDebug, `${field}.allowDebug`);
  if (top.allowMigratable !== undefined) {
    if (typeof top.allowMigratable !== 'boolean') manifestFail(`${field}.allowMigratable`, 'must be true or false');
    reference.allowMigratable = top.allowMigratable;
  }
  return reference;
}
