// The simulated TEE: the default AttestationProvider. It plays the platform
// at boot: given the chip (key + certificate from its root), the digest of
// the bundle it is about to load and the launch configuration, it computes
// the measurement; then, once per session, it signs evidence over the report
// data the node asks for with the chip key. The chip key lives only in this
// closure: the returned object exposes `report`, never the key.
// What it does not give: any protection from the host. The process that runs
// it can read its memory; a real TEE provider is what makes that claim
// (docs/ATTESTATION.md, "Real TEE mapping").
import { signEvidence } from './evidence.ts';
import { measurement } from './measurement.ts';
import type { AttestationProvider, LaunchConfig } from './provider.ts';
import type { SimChip } from './sim-platform.ts';

export interface SimProviderOptions {
  chip: SimChip;
  /** SHA-256 of the exact bundle bytes that will run. */
  buildDigest: Uint8Array;
  config: LaunchConfig;
}

export function createSimProvider({ chip, buildDigest, config }: SimProviderOptions): AttestationProvider {
  const body = { platform: chip.cert.platform, buildDigest, config, measurement: measurement(buildDigest, config), chipCert: chip.cert };
  return Object.freeze({
    platform: chip.cert.platform,
    report: (reportData: Uint8Array): Uint8Array => signEvidence({ ...body, reportData: Uint8Array.from(reportData) }, chip.privateKey),
  });
}
