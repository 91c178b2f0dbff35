// The simulated TEE: the default AttestationProvider. It plays the platform
// at boot: given the chip (key + certificate from its root), the digest of
// the bundle it is about to load and the launch configuration, it takes the
// measurement; then, once per session, its chip key signs a sim report over
// the envelope's binding (evidence.ts), exactly where a hardware platform's
// report goes. The chip key lives only in the reporter's closure.
// What it does not give: any protection from the host. The process that runs
// it can read its memory; a real TEE is what makes that claim
// (docs/ATTESTATION.md, "Platforms").
import { createEnvelopeProvider } from './evidence.ts';
import { measurement } from './measurement.ts';
import type { AttestationProvider, LaunchConfig } from './provider.ts';
import { createSimReporter } from './sim-report.ts';
import type { SimChip } from './sim-platform.ts';
import type { NativeReporter } from './reporters/native-reporter.ts';

export interface SimProviderOptions {
  chip: SimChip;
  /** SHA-256 of the exact bundle bytes that will run. */
  buildDigest: Uint8Array;
  config: LaunchConfig;
}

/** The simulated platform at launch: it measures the build and launch config itself. */
export function simReporterFor(chip: SimChip): (buildDigest: Uint8Array, config: LaunchConfig) => NativeReporter {
  return (buildDigest, config) => createSimReporter(chip, measurement(buildDigest, config));
}

export function createSimProvider({ chip, buildDigest, config }: SimProviderOptions): AttestationProvider {
  return createEnvelopeProvider(simReporterFor(chip)(buildDigest, config), buildDigest, config);
}
