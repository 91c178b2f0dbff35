// Reference values: the policy a verifier applies. A JSON document (schema in
// docs/ATTESTATION.md) naming, per platform, the roots trusted to certify
// its evidence (a simulated platform's raw Ed25519 root keys; a hardware
// platform's pinned root certificates by SHA-256 fingerprint) and, for a
// hardware platform, the reference values of accepted images (PCRs,
// MEASUREMENT, MRTD/RTMRs) and its minimum policy; the accepted disk-node
// builds by digest, with a name and version for humans; and optionally the
// only manager keys a node may be launched for. Format v1 (simulated
// platforms only) is still read.
// parseManifest trusts nothing: it bounds the text, every list and string,
// refuses unknown keys and duplicates, and requires lowercase hex of exact
// length, so one manifest has one meaning.
import { toHex } from './bytes.ts';
import { AttestationError } from './errors.ts';
import { fieldHex, fieldHexList, fieldList, fieldRecord, manifestFail, rejectDuplicateJsonKeys } from './manifest-fields.ts';
import {
  digestBytes,
  manifestBuildsMax,
  manifestBytesMax,
  manifestLabelCharsMax,
  manifestManagerKeysMax,
  manifestPlatformsMax,
  manifestRootsMax,
  publicKeyBytes,
} from './limits.ts';
import { isPlatformName, platformNameRule } from './platform-name.ts';
import { isHardwarePlatform, rulesOf, type PlatformReference } from './platforms.ts';

export const manifestFormat = 'teearray-reference-values-v2';
const manifestFormatV1 = 'teearray-reference-values-v1';

export interface ManifestPlatform {
  name: string;
  /** Simulated platform: raw Ed25519 root public keys. Hardware: SHA-256 fingerprints of root certificates (DER). */
  roots: Uint8Array[];
  /** Hardware platforms only (required there): the accepted images and minimum policy. */
  reference?: PlatformReference;
}

export interface ManifestBuild {
  name: string;
  version: string;
  buildDigest: Uint8Array;
}

export interface ReferenceManifest {
  platforms: ManifestPlatform[];
  builds: ManifestBuild[];
  /** When present, the only manager public keys accepted in launch configs. */
  managerKeys?: Uint8Array[];
}

function label(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length < 1 || value.length > manifestLabelCharsMax || !/^[\x21-\x7e]+$/.test(value)) {
    manifestFail(field, `must be 1..${manifestLabelCharsMax} printable ASCII characters without spaces`);
  }
  return value;
}

function platform(item: unknown, field: string, v1: boolean): ManifestPlatform {
  const hardware = isHardwarePlatform((item as { name?: string } | null)?.name ?? '') && !v1;
  const obj = fieldRecord(item, field, hardware ? ['name', 'roots', 'reference'] : ['name', 'roots']);
  if (!isPlatformName(obj.name)) manifestFail(`${field}.name`, `must be ${platformNameRule}`);
  // A v1 manifest has no reference values, and a hardware platform without
  // them has no image to match: the verifier would have nothing to check its
  // measurement against. v1 names simulated platforms only.
  if (v1 && isHardwarePlatform(obj.name)) manifestFail(`${field}.name`, `is a hardware platform, which a ${manifestFormatV1} manifest cannot name (it has no reference values)`);
  // Both kinds of root are 32 bytes: an Ed25519 key, or a SHA-256 fingerprint.
  const out: ManifestPlatform = { name: obj.name, roots: fieldHexList(obj.roots, `${field}.roots`, 1, manifestRootsMax, publicKeyBytes) };
  if (hardware && isHardwarePlatform(obj.name)) out.reference = rulesOf(obj.name).parseReference(obj.reference, `${field}.reference`);
  return out;
}

export function parseManifest(text: string): ReferenceManifest {
  if (Buffer.byteLength(text, 'utf8') > manifestBytesMax) manifestFail('manifest', `is larger than ${manifestBytesMax} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AttestationError('E_ATT_MANIFEST', `manifest is not JSON: ${(error as Error).message}`, { cause: error });
  }
  rejectDuplicateJsonKeys(text, 'manifest');
  const top = fieldRecord(json, 'manifest', ['format', 'platforms', 'builds'], ['managerKeys']);
  if (top.format !== manifestFormat && top.format !== manifestFormatV1) manifestFail('manifest.format', `must be "${manifestFormat}" (or "${manifestFormatV1}")`);
  const platforms = fieldList(top.platforms, 'platforms', 1, manifestPlatformsMax).map((item, i) => platform(item, `platforms[${i}]`, top.format === manifestFormatV1));
  if (new Set(platforms.map((p) => p.name)).size !== platforms.length) manifestFail('platforms', 'name a platform twice');
  const builds = fieldList(top.builds, 'builds', 1, manifestBuildsMax).map((item, i): ManifestBuild => {
    const field = `builds[${i}]`;
    const obj = fieldRecord(item, field, ['name', 'version', 'buildDigest']);
    return {
      name: label(obj.name, `${field}.name`),
      version: label(obj.version, `${field}.version`),
      buildDigest: fieldHex(obj.buildDigest, `${field}.buildDigest`, digestBytes),
    };
  });
  if (new Set(builds.map((b) => toHex(b.buildDigest))).size !== builds.length) manifestFail('builds', 'list a build digest twice');
  const manifest: ReferenceManifest = { platforms, builds };
  if (top.managerKeys !== undefined) {
    manifest.managerKeys = fieldHexList(top.managerKeys, 'managerKeys', 1, manifestManagerKeysMax, publicKeyBytes);
  }
  return manifest;
}

/** The JSON text of a manifest; parseManifest(formatManifest(m)) equals m. */
export function formatManifest(manifest: ReferenceManifest): string {
  const json = {
    format: manifestFormat,
    platforms: manifest.platforms.map((p) => ({ name: p.name, roots: p.roots.map(toHex), ...(p.reference ? { reference: p.reference.json } : {}) })),
    builds: manifest.builds.map((b) => ({ name: b.name, version: b.version, buildDigest: toHex(b.buildDigest) })),
    ...(manifest.managerKeys ? { managerKeys: manifest.managerKeys.map(toHex) } : {}),
  };
  const text = `${JSON.stringify(json, null, 2)}\n`;
  parseManifest(text); // A manifest we write must be one we accept.
  return text;
}
