// Reference values for TDX claims: the TD images a manifest accepts, each by
// its MRTD (the initial TD memory: firmware) and optionally its RTMRs (what
// the firmware and boot chain extended: kernel, command line, initrd, ...)
// and MRCONFIGID. A claim matches an image when every value the image lists
// equals the claim's; unlisted values are free. A debug TD is never
// accepted: its memory is readable by the host (DESIGN.md, threat model).
//
// parseTdxReference follows attestation/manifest.ts: bounded lists, unknown
// fields refused, lowercase hex of exact length, errors naming the field.
// Its small helpers are private there, hence the copies here.
import { toHex } from '../bytes.ts';
import { AttestationError } from '../errors.ts';
import { fieldHex, fieldList, fieldNoDebug, fieldRecord, rejectDuplicates } from '../manifest-fields.ts';
import type { NativeClaims } from '../hardware/native-claims.ts';

/** MRTD, RTMRs and MRCONFIGID are SHA-384 sized. */
const tdxMeasurementBytes = 48;
/** Most images one reference lists. */
export const tdxReferenceImagesMax = 64;

const tdxImageFields = ['mrtd', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3', 'mrconfigid'] as const;
type ImageField = (typeof tdxImageFields)[number];

export type TdxReferenceImage = { mrtd: Uint8Array } & Partial<Record<Exclude<ImageField, 'mrtd'>, Uint8Array>>;

export interface TdxReference {
  images: TdxReferenceImage[];
  /** Only `false` is allowed: written out by manifests that want to say so. */
  allowDebug?: false;
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
  const top = fieldRecord(json, field, ['images'], ['allowDebug']);
  const images = fieldList(top.images, `${field}.images`, 1, tdxReferenceImagesMax).map((item: unknown, i: number): TdxReferenceImage => {
    const at = `${field}.images[${i}]`;
    const obj = fieldRecord(item, at, ['mrtd'], tdxImageFields.filter((f) => f !== 'mrtd'));
    const image: TdxReferenceImage = { mrtd: fieldHex(obj.mrtd, `${at}.mrtd`, tdxMeasurementBytes) };
    for (const name of tdxImageFields) {
      if (name !== 'mrtd' && obj[name] !== undefined) image[name] = fieldHex(obj[name], `${at}.${name}`, tdxMeasurementBytes);
    }
    return image;
  });
  // Same fields, same values: one image twice says nothing new and hides a mistake.
  rejectDuplicates(images.map((image) => JSON.stringify(tdxImageFields.map((name) => (image[name] ? toHex(image[name]) : null)))), `${field}.images`);
  const reference: TdxReference = { images };
  if (top.allowDebug !== undefined) reference.allowDebug = fieldNoDebug(top.allowDebug, `${field}.allowDebug`);
  return reference;
}
