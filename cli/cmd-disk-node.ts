// `teearray disk-node`: launches one disk node the way a TEE platform would:
// the launcher measures the bundle bytes, then runs exactly those bytes with
// the launch configuration (manager key, sector count), attesting through
// the platform chosen with --platform: the simulated TEE (keys from
// `teearray keygen`), configfs-tsm (SEV-SNP or TDX guests, Linux >= 6.7) or
// the Nitro Secure Module. Prints one JSON line on stdout once listening,
// for supervisors and `teearray local`.
import { parseArgs } from 'node:util';
import { launchDiskNode, type LaunchOptions } from '../attestation/launch.ts';
import { measurement } from '../attestation/measurement.ts';
import { createConfigfsTsmReporter } from '../attestation/reporters/configfs-tsm.ts';
import { createNitroNsmReporter } from '../attestation/reporters/nitro-nsm.ts';
import { loadSimChip } from '../attestation/sim-platform.ts';
import { simReporterFor } from '../attestation/sim-provider.ts';
import { CliError } from './cli-error.ts';
import { createLogger } from './log.ts';
import { diskNodeBundlePath } from './paths.ts';
import { intOption, hexKeyOption } from './options.ts';

export const diskNodeHelp = `usage: teearray disk-node --manager-key HEX --sectors N [--platform P] [options]

Starts one disk node holding N sectors of 4096 bytes in RAM.

  --manager-key HEX   raw Ed25519 public key (64 hex digits) of the one manager allowed to command it
  --sectors N         sectors to hold (1..4294967295); memory is allocated at start
  --platform P        what attests the node (default sim):
                        sim           the simulated TEE; needs --platform-dir
                        configfs-tsm  an SEV-SNP or TDX guest through Linux's configfs-tsm (>= 6.7); needs --tee
                        nitro         an AWS Nitro enclave, through the NSM helper program
  --platform-dir DIR  sim: chip key and certificate (teearray keygen writes one under platform/)
  --tee sev-snp|tdx   configfs-tsm: which guest this is (its driver must be the one registered)
  --tsm-root DIR      configfs-tsm: the report directory (default /sys/kernel/config/tsm/report)
  --nsm-helper FILE   nitro: the helper that asks /dev/nsm for a document (default /usr/bin/teearray-nsm-attest)
  --host H            address to listen on (default 127.0.0.1)
  --port P            TCP port (default 7000; 0 picks a free one)
  --bundle FILE       measured disk-node bundle (default dist/disk-node.mjs)
  --log-json          JSON log lines even on a terminal`;

type Values = Record<string, string | boolean | undefined>;

/** The platform's reporter, created (and so checked: device present, driver registered) before the node starts. */
async function reporterForPlatform(values: Values): Promise<LaunchOptions['reporterFor']> {
  const platform = values.platform as string;
  const only = (allowed: string[]): void => {
    for (const option of ['platform-dir', 'tee', 'tsm-root', 'nsm-helper']) {
      if (values[option] !== undefined && !allowed.includes(option)) throw new CliError(`--${option} does not apply to --platform ${platform}`);
    }
  };
  if (platform === 'sim') {
    only(['platform-dir']);
    if (!values['platform-dir']) throw new CliError('--platform sim needs --platform-dir');
    return simReporterFor(await loadSimChip(values['platform-dir'] as string));
  }
  if (platform === 'configfs-tsm') {
    only(['tee', 'tsm-root']);
    const tee = values.tee;
    if (tee !== 'sev-snp' && tee !== 'tdx') throw new CliError('--platform configfs-tsm needs --tee sev-snp or --tee tdx');
    const reporter = createConfigfsTsmReporter({ expect: tee === 'tdx' ? 'intel-tdx-v1' : 'amd-sev-snp-v1', ...(values['tsm-root'] ? { root: values['tsm-root'] as string } : {}) });
    return () => reporter;
  }
  if (platform === 'nitro') {
    only(['nsm-helper']);
    const reporter = createNitroNsmReporter(values['nsm-helper'] ? { helper: values['nsm-helper'] as string } : {});
    return () => reporter;
  }
  throw new CliError(`--platform must be sim, configfs-tsm or nitro, got "${platform}"`);
}

export async function diskNodeCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'manager-key': { type: 'string' },
      sectors: { type: 'string' },
      platform: { type: 'string', default: 'sim' },
      'platform-dir': { type: 'string' },
      tee: { type: 'string' },
      'tsm-root': { type: 'string' },
      'nsm-helper': { type: 'string' },
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
  const reporterFor = await reporterForPlatform(values);
  const log = createLogger(values['log-json'] || undefined);
  const config = { managerPublicKey, sectorBytes: 4096, sectorCount };
  const launched = await launchDiskNode({ bundlePath: values.bundle!, reporterFor, config, host: values.host!, port, log: (line) => log.info(line) });
  const info = {
    event: 'listening',
    host: values.host,
    port: launched.node.port,
    platform: values.platform,
    instanceId: Buffer.from(launched.instanceId).toString('hex'),
    buildDigest: Buffer.from(launched.buildDigest).toString('hex'),
    ...(values.platform === 'sim' ? { measurement: Buffer.from(measurement(launched.buildDigest, config)).toString('hex') } : {}),
  };
  process.stdout.write(JSON.stringify(info) + '\n');
  const stop = async () => {
    await launched.node.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
