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

function fail(field: string, why: string): never {
  throw new AttestationError('E_ATT_MANIFEST', `${field} ${why}`);
}

function record(value: unknown, field: string, required: readonly string[], optional: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be an object');
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!required.includes(key) && !optional.includes(key)) fail(`${field}.${key}`, 'is not a known field');
  }
  for (const key of required) if (!(key in obj)) fail(`${field}.${key}`, 'is missing');
  return obj;
}

function measurement(value: unknown, field: string): Uint8Array {
  if (typeof value !== 'string' || value.length !== tdxMeasurementBytes * 2 || !/^[0-9a-f]*$/.test(value)) {
    fail(field, `must be ${tdxMeasurementBytes * 2} lowercase hex digits`);
  }
  return new Uint8Array(Buffer.from(value, 'hex'));
}

/** The TDX reference of a manifest, from its parsed JSON value at `field`. */
export function parseTdxReference(json: unknown, field: string): TdxReference {
  const top = record(json, field, ['images'], ['allowDebug']);
  if (!Array.isArray(top.images)) fail(`${field}.images`, 'must be an array');
  if (top.images.length < 1 || top.images.length > tdxReferenceImagesMax) {
    fail(`${field}.images`, `must hold 1..${tdxReferenceImagesMax} entries, has ${top.images.length}`);
  }
  const seen = new Set<string>();
  const images = top.images.map((item: unknown, i: number): TdxReferenceImage => {
    const at = `${field}.images[${i}]`;
    const obj = record(item, at, ['mrtd'], tdxImageFields.filter((f) => f !== 'mrtd'));
    const image: TdxReferenceImage = { mrtd: measurement(obj.mrtd, `${at}.mrtd`) };
    for (const name of tdxImageFields) {
      if (name !== 'mrtd' && obj[name] !== undefined) image[name] = measurement(obj[name], `${at}.${name}`);
    }
    // Same fields, same values: one image twice says nothing new and hides a mistake.
    const key = JSON.stringify(tdxImageFields.map((name) => (image[name] ? toHex(image[name]) : null)));
    if (seen.has(key)) fail(at, 'is a duplicate');
    seen.add(key);
    return image;
  });
  const reference: TdxReference = { images };
  if (top.allowDebug !== undefined) {
    if (top.allowDebug !== false) fail(`${field}.allowDebug`, 'must be false: a debug TD is never accepted');
    reference.allowDebug = false;
  }
  return reference;
}
