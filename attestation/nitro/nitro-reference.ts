// Reference values for AWS Nitro Enclaves: the enclave images a manifest
// accepts, each as the PCRs it must show (PCR0 the enclave image file, PCR1
// the kernel and boot ramfs, PCR2 the application, PCR8 the signing
// certificate; AWS Nitro Enclaves User Guide, "Where to get an enclave's
// measurements"). A document matches an image when every PCR the image
// lists equals the document's. Debug-mode enclaves (all-zero PCR0..2) are
// never accepted: their memory is readable by the parent instance.
// parseNitroReference is as strict as attestation/manifest.ts: unknown
// fields, bad hex and duplicates are refused, and the message names the field.
import { equalBytes, toHex } from '../bytes.ts';
import { AttestationError } from '../errors.ts';
import { fieldHex, fieldList, fieldNoDebug, fieldRecord, rejectDuplicates } from '../manifest-fields.ts';
import type { NativeClaims } from '../hardware/native-claims.ts';

/** PCR values in references are SHA-384 (the only digest Nitro documents use). */
export const nitroPcrBytes = 48;
/** Most images one reference accepts. */
export const nitroImagesMax = 64;
/** PCR names an image may list besides pcr0, which it must (PCR indices are 0..31). */
const optionalPcrs = Array.from({ length: 31 }, (_, i) => `pcr${i + 1}`);

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

function parseImage(value: unknown, field: string): NitroImage {
  const obj = fieldRecord(value, field, ['pcr0'], optionalPcrs);
  const image: NitroImage = {};
  for (const [key, hex] of Object.entries(obj)) {
    image[key] = fieldHex(hex, `${field}.${key}`, nitroPcrBytes);
  }
  return image;
}

/** The Nitro reference at `field` of a manifest's JSON; E_ATT_MANIFEST naming the field. */
export function parseNitroReference(json: unknown, field: string): NitroReference {
  const obj = fieldRecord(json, field, ['images'], ['allowDebug']);
  const images = fieldList(obj.images, `${field}.images`, 1, nitroImagesMax).map((item, i) => parseImage(item, `${field}.images[${i}]`));
  rejectDuplicates(images.map((image) => Object.keys(image).sort().map((name) => `${name}=${toHex(image[name])}`).join(',')), `${field}.images`);
  return 'allowDebug' in obj ? { images, allowDebug: fieldNoDebug(obj.allowDebug, `${field}.allowDebug`) } : { images };
}
