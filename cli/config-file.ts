// Rewriting the configuration file when the array's nodes change (a slot
// replaced by the operator or by a spare): the healer calls this before the
// membership changes (array-manager/healing/replace.ts), so a manager that
// crashes in between still finds the slot's node in its config. The file is
// rewritten whole and atomically: a temporary file beside it, written and
// synced, then renamed over it and the directory synced; a crash leaves the
// old file or the new one, never a mix. Only `nodes[slot]` and `spares`
// change; every other field is kept as the operator wrote it.
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseArrayConfig } from './array-config.ts';
import { CliError, exitCodes } from './cli-error.ts';

export interface EndpointChange {
  /** The slot whose node changes, or -1 when only the spares change (a spare was refused). */
  slot: number;
  endpoint: string;
  /** The spares left, in order. */
  spares: string[];
}

/** Writes `text` to `path` atomically: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const file = await open(temp, 'wx', mode);
  try {
    await file.chmod(mode);
    await file.writeFile(text);
    await file.sync();
  } catch (err) {
    await file.close();
    await rm(temp, { force: true });
    throw err;
  }
  await file.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * Applies `change` to the config file at `path`. Refuses (and writes
 * nothing) if the file no longer parses or no longer has that slot: the
 * replacement then fails before the membership changes.
 */
export async function persistEndpointChange(path: string, change: EndpointChange): Promise<void> {
  const text = await readFile(path, 'utf8');
  const base = dirname(path);
  parseArrayConfig(text, base);
  const raw = JSON.parse(text) as { nodes: string[]; spares?: string[] };
  if (change.slot >= 0) {
    if (change.slot >= raw.nodes.length) throw new CliError(`config ${path} has no slot ${change.slot}`, exitCodes.failure);
    raw.nodes[change.slot] = change.endpoint;
  }
  raw.spares = change.spares.filter((s) => !raw.nodes.includes(s));
  const next = JSON.stringify(raw, null, 2) + '\n';
  // What is written must load: a file the next start would refuse is worse than a failed replacement.
  parseArrayConfig(next, base);
  try {
    await writeFileAtomic(path, next, (await stat(path)).mode & 0o777);
  } catch (err) {
    throw new ConfigWriteError(`cannot rewrite the config file ${path}: ${(err as Error).message}; the manager must be able to write it and its directory to replace a slot (docs/ADMIN.md, "Healing")`);
  }
}

/** The config file could not be rewritten: the replacement stops before the membership changes. */
export class ConfigWriteError extends Error {
  readonly code = 'E_CONFIG_WRITE';
  constructor(message: string) {
    super(`E_CONFIG_WRITE: ${message}`);
  }
}
