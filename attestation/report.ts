// Per-reply report signatures. For every reply batch the disk node asks its
// provider to sign 32 bytes of report data (a digest binding the request
// nonce and every byte returned; the wire protocol defines it). The
// attestation key signs
//   "teearray report v1" 0x00 || instance id 16 || report data 32
// so a signature from one boot of a node never verifies for another boot,
// even on a platform that kept its attestation key across the restart.
import { concatBytes, domainLabel } from './bytes.ts';
import { AttestationError } from './errors.ts';
import { instanceIdBytes, reportDataBytes } from './limits.ts';

const reportLabel = domainLabel('teearray report v1');

export function reportMessage(instanceId: Uint8Array, reportData: Uint8Array): Uint8Array {
  if (instanceId.length !== instanceIdBytes) {
    throw new AttestationError('E_ATT_FORMAT', `instance id must be ${instanceIdBytes} bytes, got ${instanceId.length}`);
  }
  if (reportData.length !== reportDataBytes) {
    throw new AttestationError('E_ATT_FORMAT', `report data must be ${reportDataBytes} bytes, got ${reportData.length}`);
  }
  return concatBytes(reportLabel, instanceId, reportData);
}
