// Reference values for AWS Nitro Enclaves: the enclave images a manifest
// accepts, each as the PCRs it must show (PCR0 the enclave image file, PCR1
// the kernel and boot ramfs, PCR2 the application, PCR8 the signing
// certificate; AWS Nitro Enclaves User Guide, "Where to get an enclave's
// measurements"). A document matches an image when every PCR the image
// lists equals the document's. Debug-mode enclaves (all-zero PCR0..2) are
// never accepted: their memory is readable by the parent instance.
// parseNitroReference is as strict as attestation/manifest.ts: unknown
// fields, bad hex and duplicates are refused, and the message names the field.
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { AttestationError } from '../errors.ts';
import type { NativeClaims } from '../hardware/native-claims.ts';

/** PCR values in references are SHA-384 (the only digest Nitro documents use). */
export const nitroPcrBytes = 48;
/** Most images one reference accepts. */
export const nitroImagesMax = 64;
const pcrName = /^pcr([0-9]|[12][0-9]|3[01])$/;

/** One accepted image: PCR name ("pcr0".."pcr31") -> value; pcr0 always present. */
export type NitroImage = Record<string, Uint8Array>;

export interface NitroReference {
  images: NitroImage[];
  /** Debug-mode enclaves are refused; the field exists only to say so. */
  allowDebug?: false;
}

/** Accepts the claims of a verified document, or throws E_ATT_POLICY (debug) or E_ATT_MEASUREMENT. */
export function checkNitroReference(claims: NativeClaims, reference: NitroReference): void {
  if (claims.debug) {
    throw new AttestationError('E_ATT_POLICY', 'Nitro enclave runs in debug mode (PCR0, PCR1 and PCR2 are all zero); its memory is readable by the host');
  }
  const mismatches = reference.images.map((image) =>
    Object.keys(image).filter((name) => {
      const claimed = claims.measurements[name];
      return claimed === undefined || !equalBytes(claimed, image[name]);
    }),
  );
  if (mismatches.some((names) => names.length === 0)) return;
  const said = mismatches.map((names, i) => `image ${i}: ${names.join(', ')}`).join('; ');
  throw new AttestationError('E_ATT_MEASUREMENT', `Nitro PCRs match no accepted image (differing or missing: ${said})`);
}

function fail(field: string, why: string): never {
  throw new AttestationError('E_ATT_MANIFEST', `${field} ${why}`);
}

function plainObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be an object');
  return value as Record<string, unknown>;
}

function parseImage(value: unknown, field: string): NitroImage {
  const obj = plainObject(value, field);
  const image: NitroImage = {};
  for (const [key, hex] of Object.entries(obj)) {
    if (!pcrName.test(key)) fail(`${field}.${key}`, 'is not a known field (PCR names are pcr0..pcr31)');
    const bytes = typeof hex === 'string' ? fromHex(hex, nitroPcrBytes) : null;
    if (bytes === null) fail(`${field}.${key}`, `must be ${nitroPcrBytes * 2} lowercase hex digits`);
    image[key] = bytes;
  }
  if (!('pcr0' in image)) fail(`${field}.pcr0`, 'is missing');
  return image;
}

/** The Nitro reference at `field` of a manifest's JSON; E_ATT_MANIFEST naming the field. */
export function parseNitroReference(json: unknown, field: string): NitroReference {
  const obj = plainObject(json, field);
  for (const key of Object.keys(obj)) {
    if (key !== 'images' && key !== 'allowDebug') fail(`${field}.${key}`, 'is not a known field');
  }
  if (!('images' in obj)) fail(`${field}.images`, 'is missing');
  if ('allowDebug' in obj && obj.allowDebug !== false) fail(`${field}.allowDebug`, 'must be false: debug-mode enclaves expose their memory');
  const list = obj.images;
  if (!Array.isArray(list)) fail(`${field}.images`, 'must be an array');
  if (list.length < 1 || list.length > nitroImagesMax) fail(`${field}.images`, `must hold 1..${nitroImagesMax} entries, has ${list.length}`);
  const images = list.map((item, i) => parseImage(item, `${field}.images[${i}]`));
  const seen = new Set<string>();
  images.forEach((image, i) => {
    const key = Object.keys(image).sort().map((name) => `${name}=${toHex(image[name])}`).join(',');
    if (seen.has(key)) fail(`${field}.images[${i}]`, 'is a duplicate');
    seen.add(key);
  });
  return 'allowDebug' in obj ? { images, allowDebug: false } : { images };
}
