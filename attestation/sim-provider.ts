// The simulated TEE: the default AttestationProvider. It plays the platform
// at boot: given the chip (key + certificate from its root), the digest of
// the bundle it is about to load and the launch configuration, it draws the
// instance id and a fresh attestation key pair, computes the measurement and
// signs the evidence with the chip key. The attestation private key lives
// only in this closure: the returned object exposes `sign`, never the key.
// What it does not give: any protection from the host. The process that runs
// it can read its memory; a real TEE provider is what makes that claim
// (docs/ATTESTATION.md, "Real TEE mapping").
import { randomBytes } from 'node:crypto';
import { generateKeyPair, signMessage } from './ed25519.ts';
import { signEvidence } from './evidence.ts';
import { instanceIdBytes } from './limits.ts';
import { measurement } from './measurement.ts';
import type { AttestationProvider, LaunchConfig } from './provider.ts';
import { reportMessage } from './report.ts';
import type { SimChip } from './sim-platform.ts';

export interface SimProviderOptions {
  chip: SimChip;
  /** SHA-256 of the exact bundle bytes that will run. */
  buildDigest: Uint8Array;
  config: LaunchConfig;
}

export function createSimProvider({ chip, buildDigest, config }: SimProviderOptions): AttestationProvider {
  const instanceId = new Uint8Array(randomBytes(instanceIdBytes));
  const attestation = generateKeyPair();
  const evidence = signEvidence(
    {
      platform: chip.cert.platform,
      buildDigest,
      config,
      measurement: measurement(buildDigest, config),
      instanceId,
      attestationPublicKey: attestation.publicKey,
      chipCert: chip.cert,
    },
    chip.privateKey,
  );
  const attestationKey = attestation.privateKey;
  // The signing path keeps its own copy: bytes handed out can be mutated.
  const signedInstanceId = instanceId.slice();
  return Object.freeze({
    platform: chip.cert.platform,
    evidence,
    instanceId,
    sign(reportData: Uint8Array): Uint8Array {
      return signMessage(attestationKey, reportMessage(signedInstanceId, reportData));
    },
  });
}
