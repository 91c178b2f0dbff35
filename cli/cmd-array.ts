// `teearray array create|open|status` and `teearray nbd`: operating an array
// whose nodes run across hosts, described by a configuration file.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createArray } from '../array-manager/array-create.ts';
import { inspectArray, openArray } from '../array-manager/array-open.ts';
import { arrayStatus, inspectionStatus, type ArrayStatus, type InspectionStatus } from '../array-manager/http/array-status.ts';
import { attestedConnector } from '../array-manager/node-client/attested-connector.ts';
import { loadCertificateDir } from './certificate-dir.ts';
import type { RateLimit } from '../array-manager/healing/throttle.ts';
import { adminClient, AdminError, type AdminClient } from './admin-client.ts';
import { loadArrayConfig, mbpsBytes, mbpsMax, type ArrayConfig } from './array-config.ts';
import { CliError, exitCodes } from './cli-error.ts';
import { createHealing } from './healing-service.ts';
import { localConfigFile } from './local-config.ts';
import { intOption, slotListOption } from './options.ts';
import { formatBytesPerSecond, formatDuration, formatLimit, formatStatus, type ServedStatus } from './status-report.ts';
import { loadKeys } from './key-store.ts';
import { createLogger, type Logger } from './log.ts';
import { loadManifest } from './manifest-file.ts';
import { nbdListenSpecs } from './nbd-access.ts';
import { progressReporter } from './progress.ts';
import { serve } from './serve.ts';

export const arrayHelp = `usage: teearray array ACTION [--config FILE] [options] [--json]

  create   writes a new array across the configured nodes (all must answer)
  open [--accept-lost SLOTS]
           reports what a manager opening it now would adopt (membership
           quorum) and which slots answer; observes only: changes nothing,
           fences no serving manager (--accept-lost: as teearray nbd would
           with it)
  status   the running manager's view: state (optimal, degraded, rebuilding,
           failed), each slot, rebuild and scrub progress, spares, events
  replace --slot I --endpoint ws://HOST:PORT [--force] [--wait]
           puts a new, empty disk node into slot I (a dead one; --force marks
           a live one dead first); the manager rebuilds it in the background
           and rewrites the config file; --wait follows the rebuild
  scrub [--wait]
           starts a scrub (every stripe read and checked, wrong shards
           repaired); --wait follows it and exits 1 if a stripe is lost
  rate [--min-mbps N] [--max-mbps N]
           shows or changes the rebuild and scrub rate now (MB/s, max 0 =
           unlimited); the config's rebuild section sets it at start

status, replace, scrub and rate ask the running manager (teearray nbd or
teearray local) through its admin API; without --config they use
~/.teearray/local/array.json, which teearray local writes.

The config file is JSON: {"k":4,"m":2,"nodes":["ws://10.0.0.1:7000",...],
"dataDir":"/etc/teearray","nbd":{"unixSocket":"/run/teearray/nbd.sock"},
"admin":{"host":"127.0.0.1","port":10810},"spares":["ws://10.0.0.9:7000"]};
see docs/CLI.md.`;

export const nbdHelp = `usage: teearray nbd --config FILE [--accept-lost SLOTS] [--log-json]

Opens the array (recovering the journal) and exports it over NBD, with the
admin API and the background healing (rebuild, hot spares, scrub), until
SIGINT or SIGTERM. Who may connect is the config's "nbd" section: a Unix
socket (0600, or 0660 with unixSocketGroup), TLS with a pre-shared key or
X.509 certificates, or, only if asked with insecureTcp, plaintext TCP
(docs/NBD.md, "Access control").

--accept-lost 2,3: for k <= m, an open that fewer than m+1 nodes can answer
waits for the silent members (E_QUORUM, exit 3). An operator who knows those
slots are gone for good names them here: the open goes on and marks them
dead, accepting that a newer update stored only on them is lost
(docs/JOURNAL.md).`;

export async function connect(config: ArrayConfig, observe = false) {
  const keys = await loadKeys(config.dataDir);
  const manifest = await loadManifest(config.manifest);
  const certificates = config.vcekDir ? await loadCertificateDir(config.vcekDir) : undefined;
  const connector = attestedConnector({
    endpoints: config.nodes,
    manifest,
    certificates,
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

/** The config of the running manager to ask: --config, or the one `teearray local` writes. */
async function managerConfig(path: string | undefined): Promise<{ config: ArrayConfig; path: string }> {
  if (path) return { config: await loadArrayConfig(path), path };
  const local = join(homedir(), '.teearray', 'local', localConfigFile);
  if (!existsSync(local)) throw new CliError(`--config FILE is required (without it: ${local}, which teearray local writes, does not exist)`);
  return { config: await loadArrayConfig(local), path: local };
}

function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Runs `fn`; with --json, an API error is also printed on stdout as {error, message}, for scripts. */
async function reporting<T>(json: boolean, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (json && err instanceof AdminError) printJson({ error: err.code, message: err.message.slice(err.code.length + 2) });
    throw err;
  }
}

const pollMs = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls /status until `done` says so, reporting progress; tolerates a few failed polls (the manager busy). */
async function follow(client: AdminClient, label: string, progress: (s: ServedStatus) => { done: number; total: number; detail?: string }, done: (s: ServedStatus) => boolean): Promise<ServedStatus> {
  const report = progressReporter(label);
  let failures = 0;
  for (;;) {
    let s: ServedStatus;
    try {
      s = await client.request<ServedStatus>('GET', '/status');
      failures = 0;
    } catch (err) {
      if (++failures >= 10) throw err;
      await sleep(pollMs);
      continue;
    }
    const p = progress(s);
    if (done(s)) {
      report(p.total, p.total, p.detail);
      return s;
    }
    report(p.done, p.total, p.detail);
    await sleep(pollMs);
  }
}

function rateDetail(bytesPerSecond: number, secondsLeft?: number): string {
  return `${formatBytesPerSecond(bytesPerSecond)}${secondsLeft !== undefined ? `, ${formatDuration(secondsLeft)} left` : ''}`;
}

async function statusAction(config: ArrayConfig, json: boolean): Promise<number> {
  const client = await adminClient(config);
  const s = await reporting(json, () => client.request<ServedStatus>('GET', '/status'));
  if (json) printJson(s);
  else process.stdout.write(formatStatus(s));
  return exitCodes.ok;
}

async function replaceAction(config: ArrayConfig, values: ArrayValues): Promise<number> {
  const slot = intOption(values.slot, '--slot', 0, 127);
  if (values.endpoint === undefined) throw new CliError('--endpoint ws://HOST:PORT is required');
  const client = await adminClient(config);
  // Attesting the new node and writing the membership take a few round trips; a slow node gets a minute.
  const result = await reporting(values.json!, () =>
    client.request<{ slot: number; endpoint: string; instanceId: string }>('POST', `/slots/${slot}/replace`, { endpoint: values.endpoint, force: values.force }, 60_000),
  );
  if (!values.wait) {
    if (values.json) printJson(result);
    else process.stdout.write(`slot ${result.slot}: ${result.endpoint} (instance ${result.instanceId}) is rebuilding it; follow with teearray array status\n`);
    return exitCodes.ok;
  }
  const final = await follow(
    client,
    `rebuilding slot ${slot}`,
    (s) => {
      const x = s.slots[slot];
      return { done: x.cursor ?? 0, total: x.stripes ?? 1, detail: s.rebuild ? rateDetail(s.rebuild.bytesPerSecond, s.rebuild.secondsLeft) : undefined };
    },
    (s) => s.slots[slot].state !== 'rebuilding' || s.slots[slot].instanceId !== result.instanceId,
  );
  const now = final.slots[slot];
  const ok = now.state === 'live' && now.instanceId === result.instanceId;
  if (values.json) printJson({ ...result, state: now.state });
  else process.stdout.write(ok ? `slot ${slot} rebuilt: live on ${result.endpoint}\n` : `slot ${slot} is ${now.state}: the rebuild did not finish${now.deadReason ? ` (${now.deadReason})` : ''}\n`);
  return ok ? exitCodes.ok : exitCodes.failure;
}

async function scrubAction(config: ArrayConfig, values: ArrayValues): Promise<number> {
  const client = await adminClient(config);
  const started = await reporting(values.json!, () => client.request<{ started: boolean; scrub: ServedStatus['scrub'] & {} }>('POST', '/scrub'));
  if (!values.wait) {
    if (values.json) printJson(started);
    else process.stdout.write(`${started.started ? 'scrub started' : 'a scrub is already running'} (${started.scrub.startedAt}); follow with teearray array status\n`);
    return exitCodes.ok;
  }
  const startedAt = started.scrub.startedAt;
  const final = await follow(
    client,
    'scrubbing',
    (s) => ({ done: s.scrub?.rowsChecked ?? 0, total: s.scrub?.totalRows ?? 1, detail: s.scrub?.bytesPerSecond ? formatBytesPerSecond(s.scrub.bytesPerSecond) : undefined }),
    (s) => !s.scrub || s.scrub.startedAt !== startedAt || !s.scrub.running,
  );
  const scrub = final.scrub!;
  if (values.json) printJson(scrub);
  else process.stdout.write(`scrub ${scrub.finishedAt ? 'finished' : 'stopped'}: ${scrub.rowsChecked}/${scrub.totalRows} stripes checked, ${scrub.repaired} shards repaired, ${scrub.unrecoverableRows} stripes unrecoverable\n`);
  return scrub.unrecoverableRows > 0 || !scrub.finishedAt ? exitCodes.failure : exitCodes.ok;
}

async function rateAction(config: ArrayConfig, values: ArrayValues): Promise<number> {
  const client = await adminClient(config);
  const min = values['min-mbps'] === undefined ? undefined : intOption(values['min-mbps'], '--min-mbps', 1, mbpsMax) * mbpsBytes;
  const max = values['max-mbps'] === undefined ? undefined : intOption(values['max-mbps'], '--max-mbps', 0, mbpsMax) * mbpsBytes;
  const rate =
    min === undefined && max === undefined
      ? (await reporting(values.json!, () => client.request<ServedStatus>('GET', '/status'))).rebuild?.rate
      : (await reporting(values.json!, () => client.request<{ rate: RateLimit }>('POST', '/rate', { ...(min !== undefined && { minBytesPerSecond: min }), ...(max !== undefined && { maxBytesPerSecond: max }) }))).rate;
  if (!rate) throw new CliError('the manager runs no healer, so it has no rate', exitCodes.failure);
  if (values.json) printJson({ rate });
  else process.stdout.write(`rebuild and scrub rate: min ${formatLimit(rate.minBytesPerSecond)} while serving I/O, max ${formatLimit(rate.maxBytesPerSecond)} while idle\n`);
  return exitCodes.ok;
}

const arrayOptions = {
  config: { type: 'string' },
  json: { type: 'boolean', default: false },
  slot: { type: 'string' },
  endpoint: { type: 'string' },
  force: { type: 'boolean', default: false },
  wait: { type: 'boolean', default: false },
  'min-mbps': { type: 'string' },
  'max-mbps': { type: 'string' },
  'accept-lost': { type: 'string' },
} as const;

type ArrayValues = ReturnType<typeof parseArgs<{ options: typeof arrayOptions; strict: true }>>['values'];

/** Options each action takes besides --config and --json. */
const actionOptions: Record<string, string[]> = {
  create: [],
  open: ['accept-lost'],
  status: [],
  replace: ['slot', 'endpoint', 'force', 'wait'],
  scrub: ['wait'],
  rate: ['min-mbps', 'max-mbps'],
};

export async function arrayCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === undefined || !(action in actionOptions)) throw new CliError(`unknown action "${action ?? ''}"\n\n${arrayHelp}`);
  const { values } = parseArgs({ args: rest, options: arrayOptions, strict: true });
  const given = rest.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]);
  const misplaced = given.find((o) => !['config', 'json', ...actionOptions[action]].includes(o));
  if (misplaced) throw new CliError(`array ${action} takes no --${misplaced}\n\n${arrayHelp}`);
  if (action === 'status' || action === 'replace' || action === 'scrub' || action === 'rate') {
    const { config } = await managerConfig(values.config);
    if (action === 'status') return statusAction(config, values.json!);
    if (action === 'replace') return replaceAction(config, values);
    if (action === 'scrub') return scrubAction(config, values);
    return rateAction(config, values);
  }
  const config = await loadArrayConfig(values.config);
  if (action === 'open') {
    // Observe only: what a manager would adopt now, through sessions that fence nothing, changing nothing.
    const { keys, connector, health } = await connect(config, true);
    const acceptLost = slotListOption(values['accept-lost'], '--accept-lost', config.k + config.m);
    const inspection = inspectionStatus(await inspectArray({ connector, health, dataKey: keys.dataKey, acceptLost }), config.nodes);
    report(inspection, values.json!);
    return exitCodes.ok;
  }
  const { keys, connector, health } = await connect(config);
  const onProgress = progressReporter('creating array');
  const disk = await createArray({ connector, health, dataKey: keys.dataKey, k: config.k, m: config.m, keyErasure: config.keyErasure, cryptoWorkers: config.cryptoWorkers, onProgress });
  report(arrayStatus(disk, config.nodes), values.json!);
  await disk.close();
  return exitCodes.ok;
}

export async function nbdCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, 'log-json': { type: 'boolean', default: false }, 'accept-lost': { type: 'string' } }, strict: true });
  const configPath = values.config;
  const config = await loadArrayConfig(configPath);
  // docs/JOURNAL.md, k <= m: slots the operator knows are gone, so an open that would otherwise wait for them goes on.
  const acceptLost = slotListOption(values['accept-lost'], '--accept-lost', config.k + config.m);
  const log: Logger = createLogger(values['log-json'] || undefined);
  // Credentials first: a bad key file is a usage error, before any node is contacted.
  const nbdListen = await nbdListenSpecs(config.nbd, log);
  const { keys, connector, health } = await connect(config);
  const disk = await openArray({ connector, health, dataKey: keys.dataKey, acceptLost, cryptoWorkers: config.cryptoWorkers });
  const opened = arrayStatus(disk);
  log.info('array open', { health: opened.health, state: opened.state, journalVersion: disk.state.journalVersion.toString() });
  const healing = await createHealing(disk, {
    spares: config.spares,
    rebuild: config.rebuild,
    scrub: config.scrub,
    probeMs: config.health.probeMs,
    configPath: resolve(configPath!),
    dataDir: config.dataDir,
    log,
  });
  await serve({
    healing,
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
