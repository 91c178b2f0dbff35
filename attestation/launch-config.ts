// The canonical encoding of a disk node's launch configuration: the bytes
// the measurement covers and the evidence carries. Fixed layout, big-endian:
//   0..32  manager public key (raw Ed25519)
//   32..36 sector bytes (u32)
//   36..40 sector count (u32)
// Trusts nothing. Checks only what the encoding can hold (both integers in
// 1..2^32-1); whether a size is sensible is the disk node's decision, which
// it makes at launch, and the measurement then vouches for it.
import { AttestationError } from './errors.ts';
import type { LaunchConfig } from './provider.ts';
import { publicKeyBytes } from './limits.ts';

export const launchConfigBytes = publicKeyBytes + 4 + 4;
const u32Max = 0xffffffff;

/** Throws E_ATT_CONFIG naming the field unless `config` is encodable. */
export function checkLaunchConfig(config: LaunchConfig): void {
  if (!(config.managerPublicKey instanceof Uint8Array) || config.managerPublicKey.length !== publicKeyBytes) {
    throw new AttestationError('E_ATT_CONFIG', `managerPublicKey must be ${publicKeyBytes} bytes`);
  }
  for (const field of ['sectorBytes', 'sectorCount'] as const) {
    const value = config[field];
    if (!Number.isInteger(value) || value < 1 || value > u32Max) {
      throw new AttestationError('E_ATT_CONFIG', `${field} must be an integer in 1..${u32Max}, got ${value}`);
    }
  }
}

export function encodeLaunchConfig(config: LaunchConfig): Uint8Array {
  checkLaunchConfig(config);
  const out = new Uint8Array(launchConfigBytes);
  const view = new DataView(out.buffer);
  out.set(config.managerPublicKey, 0);
  view.setUint32(publicKeyBytes, config.sectorBytes);
  view.setUint32(publicKeyBytes + 4, config.sectorCount);
  return out;
}

export function decodeLaunchConfig(bytes: Uint8Array): LaunchConfig {
  if (bytes.length !== launchConfigBytes) {
    throw new AttestationError('E_ATT_FORMAT', `launch config must be ${launchConfigBytes} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const config: LaunchConfig = {
    managerPublicKey: bytes.slice(0, publicKeyBytes),
    sectorBytes: view.getUint32(publicKeyBytes),
    sectorCount: view.getUint32(publicKeyBytes + 4),
  };
  checkLaunchConfig(config);
  return config;
}
