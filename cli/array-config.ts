// The configuration file of an array run across hosts (docs/CLI.md): JSON,
// parsed strictly (unknown fields refused, every value bounded), so a typo
// is an error rather than a silent default.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CliError } from './cli-error.ts';
import { parseNbdSection, type NbdAccess } from './nbd-access.ts';

export interface ArrayConfig {
  k: number;
  m: number;
  /** ws://host:port of each slot's disk node, in slot order. */
  nodes: string[];
  /** Directory with the manager's keys (teearray keygen). */
  dataDir: string;
  /** Reference-values manifest; default dataDir/manifest.json. */
  manifest: string;
  keyErasure: boolean;
  /** Who may reach the NBD export, and how (cli/nbd-access.ts). */
  nbd: NbdAccess;
  admin: { host: string; port: number };
  /** When a silent node is declared lost, and how the manager waits for nodes (docs/ADMIN.md, "Health"). */
  health: HealthConfig;
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
}

export const healthConfigDefaults: HealthConfig = { deathWindowMs: 30_000, backoffMinMs: 50, backoffMaxMs: 2_000, requestTimeoutMs: 5_000, macFailuresMax: 64 };

function healthSection(v: unknown): HealthConfig {
  if (v === undefined) return healthConfigDefaults;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('health', 'must be an object');
  const o = v as Record<string, unknown>;
  const fields = ['deathWindowSeconds', 'backoffMinMs', 'backoffMaxMs', 'requestTimeoutMs', 'macFailuresMax'];
  for (const key of Object.keys(o)) if (!fields.includes(key)) fail(`health.${key}`, 'is not a known field');
  const d = healthConfigDefaults;
  const deathWindowMs = o.deathWindowSeconds === undefined ? d.deathWindowMs : int(o.deathWindowSeconds, 'health.deathWindowSeconds', 1, 86_400) * 1000;
  const backoffMinMs = o.backoffMinMs === undefined ? d.backoffMinMs : int(o.backoffMinMs, 'health.backoffMinMs', 1, 60_000);
  const backoffMaxMs = o.backoffMaxMs === undefined ? Math.max(d.backoffMaxMs, backoffMinMs) : int(o.backoffMaxMs, 'health.backoffMaxMs', backoffMinMs, 600_000);
  const requestTimeoutMs = o.requestTimeoutMs === undefined ? d.requestTimeoutMs : int(o.requestTimeoutMs, 'health.requestTimeoutMs', 100, 600_000);
  const macFailuresMax = o.macFailuresMax === undefined ? d.macFailuresMax : int(o.macFailuresMax, 'health.macFailuresMax', 1, 1_000_000);
  return { deathWindowMs, backoffMinMs, backoffMaxMs, requestTimeoutMs, macFailuresMax };
}

const configBytesMax = 64 * 1024;
const known = ['k', 'm', 'nodes', 'dataDir', 'manifest', 'keyErasure', 'nbd', 'admin', 'health'];

function fail(field: string, why: string): never {
  throw new CliError(`config: ${field} ${why}`);
}

function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(field, `must be an integer in ${min}..${max}`);
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
  const nodes = o.nodes.map((n, i) => {
    if (typeof n !== 'string' || !/^wss?:\/\/[^\s/]+(:\d+)?\/?$/.test(n)) fail(`nodes[${i}]`, 'must be ws://host:port');
    return n;
  });
  if (typeof o.dataDir !== 'string' || !o.dataDir) fail('dataDir', 'must name the key directory');
  const dataDir = resolve(baseDir, o.dataDir);
  if (o.manifest !== undefined && (typeof o.manifest !== 'string' || !o.manifest)) fail('manifest', 'must be a path');
  if (o.keyErasure !== undefined && typeof o.keyErasure !== 'boolean') fail('keyErasure', 'must be true or false');
  return {
    k,
    m,
    nodes,
    dataDir,
    manifest: resolve(baseDir, (o.manifest as string | undefined) ?? `${dataDir}/manifest.json`),
    keyErasure: (o.keyErasure as boolean | undefined) ?? false,
    nbd: parseNbdSection(o.nbd, baseDir),
    admin: address(o.admin, 'admin', { host: '127.0.0.1', port: 10810 }),
    health: healthSection(o.health),
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
