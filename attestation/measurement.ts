// What the platform measures: the build digest (SHA-256 of the exact
// disk-node bundle bytes it loads) and the measurement, which binds that
// digest to the launch configuration:
//   measurement = SHA-256("teearray measurement v1" 0x00 || buildDigest || launchConfig(40))
// An auditor recomputes both from a rebuilt bundle and the config they expect.
import { createHash } from 'node:crypto';
import { concatBytes, domainLabel } from './bytes.ts';
import { encodeLaunchConfig } from './launch-config.ts';
import { digestBytes } from './limits.ts';
import type { LaunchConfig } from './provider.ts';
import { AttestationError } from './errors.ts';

const measurementLabel = domainLabel('teearray measurement v1');

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** SHA-256 of the disk-node bundle bytes. */
export function buildDigest(bundle: Uint8Array): Uint8Array {
  return sha256(bundle);
}

export function measurement(build: Uint8Array, config: LaunchConfig): Uint8Array {
  if (build.length !== digestBytes) {
    throw new AttestationError('E_ATT_FORMAT', `build digest must be ${digestBytes} bytes, got ${build.length}`);
  }
  return sha256(concatBytes(measurementLabel, build, encodeLaunchConfig(config)));
}
