// Platform names ("sim-tee-v1", "aws-nitro-v1", ...): 1..32 bytes of
// lowercase ASCII letters, digits, '.' and '-', so they compare byte for byte
// and print safely. On the wire: one length byte, then the name.
import type { ByteReader } from './byte-reader.ts';
import { AttestationError } from './errors.ts';
import { platformNameBytesMax } from './limits.ts';

const platformNamePattern = /^[a-z0-9.-]+$/;

/** The simulated TEE's platform name. */
export const simPlatformName = 'sim-tee-v1';

export const platformNameRule = `1..${platformNameBytesMax} characters of [a-z0-9.-]`;

export function isPlatformName(name: unknown): name is string {
  return typeof name === 'string' && name.length >= 1 && name.length <= platformNameBytesMax && platformNamePattern.test(name);
}

function checkPlatformName(name: string): void {
  if (!isPlatformName(name)) {
    throw new AttestationError('E_ATT_FORMAT', `platform must be ${platformNameRule}, got ${JSON.stringify(String(name).slice(0, 40))}`);
  }
}

export function encodePlatformName(name: string): Uint8Array {
  checkPlatformName(name);
  const out = new Uint8Array(1 + name.length);
  out[0] = name.length;
  for (let i = 0; i < name.length; i++) out[1 + i] = name.charCodeAt(i);
  return out;
}

export function readPlatformName(reader: ByteReader): string {
  const length = reader.u8('platform length');
  if (length < 1 || length > platformNameBytesMax) {
    throw new AttestationError('E_ATT_FORMAT', `platform length must be 1..${platformNameBytesMax}, got ${length}`);
  }
  const name = String.fromCharCode(...reader.take(length, 'platform'));
  checkPlatformName(name);
  return name;
}
