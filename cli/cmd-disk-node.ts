// `teearray disk-node`: launches one disk node the way a TEE platform would:
// the simulated platform measures the bundle bytes, then runs exactly those
// bytes with the launch configuration (manager key, sector count). Prints one
// JSON line on stdout once listening, for supervisors and `teearray local`.
import { parseArgs } from 'node:util';
import { loadSimChip } from '../attestation/sim-platform.ts';
import { launchDiskNode } from '../attestation/launch.ts';
import { measurement } from '../attestation/measurement.ts';
import { CliError } from './cli-error.ts';
import { createLogger } from './log.ts';
import { diskNodeBundlePath } from './paths.ts';
import { intOption, hexKeyOption } from './options.ts';

export const diskNodeHelp = `usage: teearray disk-node --manager-key HEX --sectors N --platform-dir DIR [options]

Starts one disk node holding N sectors of 4096 bytes in RAM.

  --manager-key HEX   raw Ed25519 public key (64 hex digits) of the one manager allowed to command it
  --sectors N         sectors to hold (1..4294967295); memory is allocated at start
  --platform-dir DIR  simulated-TEE chip key and certificate (teearray keygen writes one under platform/)
  --host H            address to listen on (default 127.0.0.1)
  --port P            TCP port (default 7000; 0 picks a free one)
  --bundle FILE       measured disk-node bundle (default dist/disk-node.mjs)
  --log-json          JSON log lines even on a terminal`;

export async function diskNodeCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'manager-key': { type: 'string' },
      sectors: { type: 'string' },
      'platform-dir': { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '7000' },
      bundle: { type: 'string', default: diskNodeBundlePath },
      'log-json': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const managerPublicKey = hexKeyOption(values['manager-key'], '--manager-key');
  const sectorCount = intOption(values.sectors, '--sectors', 1, 0xffffffff);
  const port = intOption(values.port, '--port', 0, 65535);
  if (!values['platform-dir']) throw new CliError('--platform-dir is required');
  const log = createLogger(values['log-json'] || undefined);
  const chip = await loadSimChip(values['platform-dir']);
  const config = { managerPublicKey, sectorBytes: 4096, sectorCount };
  const launched = await launchDiskNode({ bundlePath: values.bundle!, chip, config, host: values.host!, port, log: (line) => log.info(line) });
  const info = {
    event: 'listening',
    host: values.host,
    port: launched.node.port,
    instanceId: Buffer.from(launched.instanceId).toString('hex'),
    buildDigest: Buffer.from(launched.buildDigest).toString('hex'),
    measurement: Buffer.from(measurement(launched.buildDigest, config)).toString('hex'),
  };
  process.stdout.write(JSON.stringify(info) + '\n');
  const stop = async () => {
    await launched.node.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
