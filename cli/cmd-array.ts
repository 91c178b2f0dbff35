// `teearray array create|open|status` and `teearray nbd`: operating an array
// whose nodes run across hosts, described by a configuration file.
import { parseArgs } from 'node:util';
import { createArray } from '../array-manager/array-create.ts';
import { inspectArray, openArray } from '../array-manager/array-open.ts';
import { arrayStatus, inspectionStatus, type ArrayStatus, type InspectionStatus } from '../array-manager/http/array-status.ts';
import { attestedConnector } from '../array-manager/node-client/attested-connector.ts';
import { loadArrayConfig, type ArrayConfig } from './array-config.ts';
import { CliError, exitCodes } from './cli-error.ts';
import { loadKeys } from './key-store.ts';
import { createLogger, type Logger } from './log.ts';
import { loadManifest } from './manifest-file.ts';
import { nbdListenSpecs } from './nbd-access.ts';
import { progressReporter } from './progress.ts';
import { serve } from './serve.ts';

export const arrayHelp = `usage: teearray array create|open|status --config FILE [--json]

  create   writes a new array across the configured nodes (all must answer)
  open     reports what a manager opening it now would adopt (membership
           quorum) and which slots answer; observes only: changes nothing,
           fences no serving manager
  status   asks the running manager (teearray nbd) through its admin API

The config file is JSON: {"k":4,"m":2,"nodes":["ws://10.0.0.1:7000",...],
"dataDir":"/etc/teearray","nbd":{"unixSocket":"/run/teearray/nbd.sock"},
"admin":{"host":"127.0.0.1","port":10810}}; see docs/CLI.md.`;

export const nbdHelp = `usage: teearray nbd --config FILE [--log-json]

Opens the array (recovering the journal) and exports it over NBD, with the
admin API, until SIGINT or SIGTERM. Who may connect is the config's "nbd"
section: a Unix socket (0600, or 0660 with unixSocketGroup), TLS with a
pre-shared key or X.509 certificates, or, only if asked with insecureTcp,
plaintext TCP (docs/NBD.md, "Access control").`;

async function connect(config: ArrayConfig, observe = false) {
  const keys = await loadKeys(config.dataDir);
  const manifest = await loadManifest(config.manifest);
  const connector = attestedConnector({
    endpoints: config.nodes,
    manifest,
    managerPrivateKey: keys.managerPrivateKey,
    managerPublicKey: keys.managerPublicKey,
    timeoutMs: config.health.requestTimeoutMs,
    observe,
  });
  const { deathWindowMs, backoffMinMs, backoffMaxMs, macFailuresMax } = config.health;
  return { keys, connector, health: { deathWindowMs, backoffMinMs, backoffMaxMs, macFailuresMax } };
}

function report(status: ArrayStatus | InspectionStatus, json: boolean): void {
  if (json) return void process.stdout.write(JSON.stringify(status, null, 2) + '\n');
  const g = status.geometry;
  process.stdout.write(
    `array ${status.arrayId}: k=${g.k} m=${g.m}, ${(status.sizeBytes / 2 ** 30).toFixed(2)} GiB, ${status.health}` +
      ` (membership v${status.membershipVersion}${'journalVersion' in status ? `, journal v${status.journalVersion}` : ''})\n` +
      status.slots
        .map((s) => `  slot ${s.slot}  ${s.state.padEnd(4)}  ${s.instanceId}  ${s.endpoint}${'answering' in s && s.state === 'live' && !s.answering ? '  (not answering)' : ''}`)
        .join('\n') +
      '\n',
  );
}

async function adminStatus(config: ArrayConfig, json: boolean): Promise<void> {
  const keys = await loadKeys(config.dataDir);
  const url = `http://${config.admin.host}:${config.admin.port}/status`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${keys.adminToken}` }, signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new CliError(`no manager answers at ${url}: ${(err as Error).message}`, exitCodes.unavailable);
  }
  if (!res.ok) throw new CliError(`${url} answered ${res.status}`, exitCodes.failure);
  const body = (await res.json()) as { health: string };
  process.stdout.write(json ? JSON.stringify(body, null, 2) + '\n' : `health: ${body.health}\n${JSON.stringify(body, null, 2)}\n`);
}

export async function arrayCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  const config = await loadArrayConfig(values.config);
  if (action === 'status') {
    await adminStatus(config, values.json!);
    return exitCodes.ok;
  }
  if (action !== 'create' && action !== 'open') throw new CliError(`unknown action "${action ?? ''}"\n\n${arrayHelp}`);
  if (action === 'open') {
    // Observe only: what a manager would adopt now, through sessions that fence nothing, changing nothing.
    const { keys, connector, health } = await connect(config, true);
    const inspection = inspectionStatus(await inspectArray({ connector, health, dataKey: keys.dataKey }), config.nodes);
    report(inspection, values.json!);
    return exitCodes.ok;
  }
  const { keys, connector, health } = await connect(config);
  const onProgress = progressReporter('creating array');
  const disk = await createArray({ connector, health, dataKey: keys.dataKey, k: config.k, m: config.m, keyErasure: config.keyErasure, onProgress });
  report(arrayStatus(disk, config.nodes), values.json!);
  await disk.close();
  return exitCodes.ok;
}

export async function nbdCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, 'log-json': { type: 'boolean', default: false } }, strict: true });
  const config = await loadArrayConfig(values.config);
  const log: Logger = createLogger(values['log-json'] || undefined);
  // Credentials first: a bad key file is a usage error, before any node is contacted.
  const nbdListen = await nbdListenSpecs(config.nbd, log);
  const { keys, connector, health } = await connect(config);
  const disk = await openArray({ connector, health, dataKey: keys.dataKey });
  log.info('array open', { health: arrayStatus(disk).health, journalVersion: disk.state.journalVersion.toString() });
  await serve({
    disk,
    nbdListen,
    nbdLimits: { idleTimeoutMs: config.nbd.idleTimeoutSeconds * 1000 },
    adminHost: config.admin.host,
    adminPort: config.admin.port,
    adminToken: keys.adminToken,
    endpoints: config.nodes,
    log,
  });
}
