// Child-process launcher for the end-to-end tests: runs one measured disk node
// the way a platform does (attestation/launch.ts) and reports where it listens.
//   node --import tsx test/disk-node/e2e-launcher.ts <platform-dir> <bundle> <manager-key-hex> <sector-count>
// Loads the sim chip from <platform-dir>, launches <bundle> on 127.0.0.1 with
// an ephemeral port for that manager key with 4096-byte sectors, prints one
// JSON line {"port", "instanceId", "buildDigest"} and serves until killed or
// until its stdin closes (so a test runner that dies takes its nodes along).
import { launchDiskNode } from '../../attestation/launch.ts';
import { loadSimChip } from '../../attestation/sim-platform.ts';
import { simReporterFor } from '../../attestation/sim-provider.ts';

const [platformDir, bundlePath, managerKeyHex, sectorCount] = process.argv.slice(2);
const chip = await loadSimChip(platformDir);
const config = { managerPublicKey: Buffer.from(managerKeyHex, 'hex'), sectorBytes: 4096, sectorCount: Number(sectorCount) };
const launched = await launchDiskNode({ bundlePath, reporterFor: simReporterFor(chip), config, host: '127.0.0.1', port: 0 });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
process.stdout.write(`${JSON.stringify({ port: launched.node.port, instanceId: hex(launched.instanceId), buildDigest: hex(launched.buildDigest) })}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
