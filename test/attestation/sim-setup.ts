// Shared setup for the attestation tests: a simulated platform, a manager
// key, a launch config, a build digest and a manifest that accepts them.
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '../../attestation/ed25519.ts';
import type { ReferenceManifest } from '../../attestation/manifest.ts';
import { simPlatformName } from '../../attestation/platform-name.ts';
import type { LaunchConfig } from '../../attestation/provider.ts';
import { createSimChip, createSimRoot } from '../../attestation/sim-platform.ts';
import type { SimChip, SimRoot } from '../../attestation/sim-platform.ts';

export interface SimSetup {
  root: SimRoot;
  chip: SimChip;
  managerPublicKey: Uint8Array;
  config: LaunchConfig;
  buildDigest: Uint8Array;
  manifest: ReferenceManifest;
}

export function simSetup(buildDigest: Uint8Array = new Uint8Array(randomBytes(32))): SimSetup {
  const root = createSimRoot();
  const chip = createSimChip(root);
  const managerPublicKey = generateKeyPair().publicKey;
  const config = { managerPublicKey, sectorBytes: 4096, sectorCount: 1024 };
  const manifest: ReferenceManifest = {
    platforms: [{ name: simPlatformName, roots: [root.publicKey] }],
    builds: [{ name: 'disk-node', version: 'test', buildDigest }],
  };
  return { root, chip, managerPublicKey, config, buildDigest, manifest };
}
