// The configuration file of an array run across hosts (docs/CLI.md): JSON,
// parsed strictly (unknown fields refused, every value bounded), so a typo
// is an error rather than a silent default.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CliError } from './cli-error.ts';
import { parseNbdSection, type NbdAccess } from './nbd-access.ts';
import { poolWorkersMax } from '../array-manager/crypto/crypto-pool.ts';
import type { CryptoWorkers } from '../array-manager/sector-batch.ts';

export interface ArrayConfig {
  k: number;
  m: number;
  /** ws://host:port of each slot's disk node, in slot order. */
  nodes: string[];
  /** Directory with the manager's keys (teearray keygen). */
  dataDir: string;
  /** Reference-values manifest; default dataDir/manifest.json. */
  manifest: string;
  /** Directory of operator-supplied SEV-SNP VCEKs for nodes that send none (cli/certificate-dir.ts); absent: none. */
  vcekDir?: string;
  keyErasure: boolean;
  /** Worker threads sealing and opening large requests, or 'auto' (array-manager/sector-batch.ts). */
  cryptoWorkers: CryptoWorkers;
  /** Who may reach the NBD export, and how (cli/nbd-access.ts). */
  nbd: NbdAccess;
  admin: { host: string; port: number };
  /** When a silent node is declared lost, and how the manager waits for nodes (docs/ADMIN.md, "Health"). */
  health: HealthConfig;
  /** ws://host:port of spare disk nodes, taken in order when a slot dies (docs/ADMIN.md, "Healing"). */
  spares: string[];
  rebuild: RebuildConfig;
  scrub: ScrubConfig;
}

export interface RebuildConfig {
  /** A spare takes a dead slot without an operator. */
  autoReplace: boolean;
  /** With autoReplace, a new empty node restarted at the slot's own endpoint takes it first. */
  reuseRestarted: boolean;
  /** Wait this long after a slot dies before a spare takes it. */
  replaceDelayMs: number;
  /** Background work (rebuild and scrub) runs at least this fast while the array serves I/O. */
  minBytesPerSecond: number;
  /** And at most this fast while it is idle; 0 = unlimited. */
  maxBytesPerSecond: number;
  stripesPerBatch: number;
  /** How often the rebuild cursor is persisted in the membership record. */
  checkpointMs: number;
}

export interface ScrubConfig {
  /** Time from the end of one scrub to the start of the next; 0 = only on demand. */
  intervalMs: number;
}

export interface HealthConfig {
  /** A node unreachable this long may have its slot marked dead. */
  deathWindowMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** How long the manager waits for a node's reply to one batch before it reconnects. */
  requestTimeoutMs: number;
  /** Shards of one node failing their MAC this many times mark its slot dead. */
  macFailuresMax: number;
  /** How often the serving manager asks every node for its status, so a lost node is noticed on an idle array; 0 = never. */
  probeMs: number;
}

export const healthConfigDefaults: HealthConfig = { deathWindowMs: 30_000, backoffMinMs: 50, backoffMaxMs: 2_000, requestTimeoutMs: 5_000, macFailuresMax: 64, probeMs: 5_000 };
/** One MB/s, the unit of the config's and the CLI's rates. */
export const mbpsBytes = 1_000_000;
/** Rates in MB/s: the throttle takes at most 2^40 bytes per second. */
export const mbpsMax = 1_000_000;
export const rebuildConfigDefaults: RebuildConfig = {
  autoReplace: true,
  reuseRestarted: true,
  replaceDelayMs: 0,
  // The healer's default (throttle.ts, rateDefaults): md's speed_limit_min.
  minBytesPerSecond: 1 * mbpsBytes,
  maxBytesPerSecond: 0,
  stripesPerBatch: 256,
  checkpointMs: 2_000,
};
export const scrubConfigDefaults: ScrubConfig = { intervalMs: 0 };
/** Spares a config may list. */
export const sparesMax = 64;
const endpointRe = /^wss?:\/\/[^\s/]+(:\d+)?\/?$/;

function healthSection(v: unknown): HealthConfig {
  if (v === undefined) return healthConfigDefaults;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('health', 'must be an object');
  const o = v as Record<string, unknown>;
  const fields = ['deathWindowSeconds', 'backoffMinMs', 'backoffMaxMs', 'requestTimeoutMs', 'macFailuresMax', 'probeSeconds'];
  for (const key of Object.keys(o)) if (!fields.includes(key)) fail(`health.${key}`, 'is not a known field');
  const d = healthConfigDefaults;
  const deathWindowMs = o.deathWindowSeconds === undefined ? d.deathWindowMs : int(o.deathWindowSeconds, 'health.deathWindowSeconds', 1, 86_400) * 1000;
  const backoffMinMs = o.backoffMinMs === undefined ? d.backoffMinMs : int(o.backoffMinMs, 'health.backoffMinMs', 1, 60_000);
  const backoffMaxMs = o.backoffMaxMs === undefined ? Math.max(d.backoffMaxMs, backoffMinMs) : int(o.backoffMaxMs, 'health.backoffMaxMs', backoffMinMs, 600_000);
  const requestTimeoutMs = o.requestTimeoutMs === undefined ? d.requestTimeoutMs : int(o.requestTimeoutMs, 'health.requestTimeoutMs', 100, 600_000);
  const macFailuresMax = o.macFailuresMax === undefined ? d.macFailuresMax : int(o.macFailuresMax, 'health.macFailuresMax', 1, 1_000_000);
  const probeMs = o.probeSeconds === undefined ? d.probeMs : int(o.probeSeconds, 'health.probeSeconds', 0, 3600) * 1000;
  return { deathWindowMs, backoffMinMs, backoffMaxMs, requestTimeoutMs, macFailuresMax, probeMs };
}

/** The object of a section, with every key known. */
function section(v: unknown, name: string, fields: string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(name, 'must be an object');
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!fields.includes(key)) fail(`${name}.${key}`, 'is not a known field');
  return o;
}

function rebuildSection(v: unknown): RebuildConfig {
  if (v === undefined) return rebuildConfigDefaults;
  const o = section(v, 'rebuild', ['autoReplace', 'reuseRestarted', 'replaceDelaySeconds', 'minMBps', 'maxMBps', 'stripesPerBatch', 'checkpointSeconds']);
  const d = rebuildConfigDefaults;
  if (o.autoReplace !== undefined && typeof o.autoReplace !== 'boolean') fail('rebuild.autoReplace', 'must be true or false');
  if (o.reuseRestarted !== undefined && typeof o.reuseRestarted !== 'boolean') fail('rebuild.reuseRestarted', 'must be true or false');
  const minMBps = o.minMBps === undefined ? d.minBytesPerSecond / mbpsBytes : int(o.minMBps, 'rebuild.minMBps', 1, mbpsMax);
  const maxMBps = o.maxMBps === undefined ? d.maxBytesPerSecond / mbpsBytes : int(o.maxMBps, 'rebuild.maxMBps', 0, mbpsMax);
  if (maxMBps !== 0 && maxMBps < minMBps) fail('rebuild.maxMBps', `must be 0 (unlimited) or at least minMBps (${minMBps})`);
  return {
    autoReplace: (o.autoReplace as boolean | undefined) ?? d.autoReplace,
    reuseRestarted: (o.reuseRestarted as boolean | undefined) ?? d.reuseRestarted,
    replaceDelayMs: o.replaceDelaySeconds === undefined ? d.replaceDelayMs : int(o.replaceDelaySeconds, 'rebuild.replaceDelaySeconds', 0, 86_400) * 1000,
    minBytesPerSecond: minMBps * mbpsBytes,
    maxBytesPerSecond: maxMBps * mbpsBytes,
    stripesPerBatch: o.stripesPerBatch === undefined ? d.stripesPerBatch : int(o.stripesPerBatch, 'rebuild.stripesPerBatch', 1, 4096),
    checkpointMs: o.checkpointSeconds === undefined ? d.checkpointMs : int(o.checkpointSeconds, 'rebuild.checkpointSeconds', 0, 3600) * 1000,
  };
}

function scrubSection(v: unknown): ScrubConfig {
  if (v === undefined) return scrubConfigDefaults;
  const o = section(v, 'scrub', ['intervalHours']);
  return { intervalMs: o.intervalHours === undefined ? scrubConfigDefaults.intervalMs : int(o.intervalHours, 'scrub.intervalHours', 0, 8760) * 3_600_000 };
}

function endpoint(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length > 1024 || !endpointRe.test(v)) fail(field, 'must be ws://host:port');
  return v;
}

function sparesField(v: unknown, nodes: string[]): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > sparesMax) fail('spares', `must be a list of at most ${sparesMax} endpoints`);
  const spares = v.map((s, i) => endpoint(s, `spares[${i}]`));
  spares.forEach((s, i) => {
    if (spares.indexOf(s) !== i) fail(`spares[${i}]`, `repeats ${s}`);
    if (nodes.includes(s)) fail(`spares[${i}]`, `is already slot ${nodes.indexOf(s)}'s node`);
  });
  return spares;
}

const configBytesMax = 64 * 1024;
const known = ['k', 'm', 'nodes', 'dataDir', 'manifest', 'vcekDir', 'keyErasure', 'cryptoWorkers', 'nbd', 'admin', 'health', 'spares', 'rebuild', 'scrub'];

function fail(field: string, why: string): never {
  throw new CliError(`config: ${field} ${why}`);
}

function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(field, `must be an integer in ${min}..${max}`);
  return v;
}

function cryptoWorkersField(v: unknown): CryptoWorkers {
  if (v === undefined || v === 'auto') return 'auto';
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > poolWorkersMax) fail('cryptoWorkers', `must be "auto" or an integer in 0..${poolWorkersMax}`);
  return v;
}

function address(v: unknown, field: string, fallback: { host: string; port: number }): { host: string; port: number } {
  if (v === undefined) return fallback;
  if (typeof v !== 'object' || v === null) fail(field, 'must be an object { host, port }');
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) if (key !== 'host' && key !== 'port') fail(`${field}.${key}`, 'is not a known field');
  const host = o.host ?? fallback.host;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255) fail(`${field}.host`, 'must be a host name or address');
  return { host, port: o.port === undefined ? fallback.port : int(o.port, `${field}.port`, 0, 65535) };
}

export function parseArrayConfig(text: string, baseDir: string): ArrayConfig {
  if (text.length > configBytesMax) fail('file', `is larger than ${configBytesMax} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    fail('file', `is not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('file', 'must hold a JSON object');
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!known.includes(key)) fail(key, 'is not a known field');
  const k = int(o.k, 'k', 1, 127);
  const m = int(o.m, 'm', 1, 127);
  if (k + m > 128) fail('k + m', 'must be at most 128');
  if (!Array.isArray(o.nodes) || o.nodes.length !== k + m) fail('nodes', `must list exactly k + m = ${k + m} endpoints`);
  const nodes = o.nodes.map((n, i) => endpoint(n, `nodes[${i}]`));
  nodes.forEach((n, i) => {
    if (nodes.indexOf(n) !== i) fail(`nodes[${i}]`, `repeats ${n}`);
  });
  if (typeof o.dataDir !== 'string' || !o.dataDir) fail('dataDir', 'must name the key directory');
  const dataDir = resolve(baseDir, o.dataDir);
  if (o.manifest !== undefined && (typeof o.manifest !== 'string' || !o.manifest)) fail('manifest', 'must be a path');
  if (o.vcekDir !== undefined && (typeof o.vcekDir !== 'string' || !o.vcekDir)) fail('vcekDir', 'must be a path');
  if (o.keyErasure !== undefined && typeof o.keyErasure !== 'boolean') fail('keyErasure', 'must be true or false');
  return {
    k,
    m,
    nodes,
    dataDir,
    manifest: resolve(baseDir, (o.manifest as string | undefined) ?? `${dataDir}/manifest.json`),
    ...(o.vcekDir !== undefined ? { vcekDir: resolve(baseDir, o.vcekDir as string) } : {}),
    keyErasure: (o.keyErasure as boolean | undefined) ?? false,
    cryptoWorkers: cryptoWorkersField(o.cryptoWorkers),
    nbd: parseNbdSection(o.nbd, baseDir),
    admin: address(o.admin, 'admin', { host: '127.0.0.1', port: 10810 }),
    health: healthSection(o.health),
    spares: sparesField(o.spares, nodes),
    rebuild: rebuildSection(o.rebuild),
    scrub: scrubSection(o.scrub),
  };
}

export async function loadArrayConfig(path: string | undefined): Promise<ArrayConfig> {
  if (!path) throw new CliError('--config FILE is required');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new CliError(`cannot read config ${path}`);
  }
  return parseArrayConfig(text, dirname(resolve(path)));
}
