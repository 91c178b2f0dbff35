// A trust-quorum member's vault as the `teearray tq` commands reach it: the
// member's own array, opened from its config file by a short-lived manager
// (recovering its journal), and the vault in its first 16 sectors. Each
// member's array is a separate array with its own keys and nodes.
import { basename, dirname, resolve } from 'node:path';
import { openArray } from '../array-manager/array-open.ts';
import type { VirtualDisk } from '../array-manager/virtual-disk.ts';
import { openVault, type Vault } from '../vault/vault.ts';
import { loadArrayConfig } from './array-config.ts';
import { connect } from './cmd-array.ts';

export interface MemberVault {
  /** The config file it was opened from. */
  config: string;
  disk: VirtualDisk;
  vault: Vault;
  /** The id stored in the vault, or the one `init` would give it (the config's directory name). */
  id: string;
}

/** Opens the member array described by `configPath` and its vault. */
export async function openMember(configPath: string): Promise<MemberVault> {
  const config = await loadArrayConfig(configPath);
  const { keys, connector, health } = await connect(config);
  const disk = await openArray({ connector, dataKey: keys.dataKey, health, cryptoWorkers: config.cryptoWorkers });
  try {
    const vault = await openVault(disk);
    const id = vault.initialised ? vault.summary().memberId : defaultMemberId(configPath);
    return { config: configPath, disk, vault, id };
  } catch (err) {
    await disk.close();
    throw err;
  }
}

/** A new member's id: the name of the directory its config lives in, as `teearray local --tq-members` lays them out. */
function defaultMemberId(configPath: string): string {
  return basename(dirname(resolve(configPath))).replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 64) || 'member';
}

/** Opens still running when their deadline passed: closed when they finish, and the process need not wait for them. */
let abandoned = 0;

export function abandonedOpens(): number {
  return abandoned;
}

/**
 * openMember(), given up after `waitMs`: an array whose nodes are all gone
 * does not refuse at once (the manager waits for its nodes for its death
 * window), and a quorum command needs only t members, not the dead ones.
 */
function openMemberWithin(configPath: string, waitMs: number): Promise<MemberVault> {
  const opening = openMember(configPath);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abandoned++;
      void opening.then((m) => m.disk.close(), () => {});
      reject(new Error(`its array did not open within ${waitMs / 1000} s`));
    }, waitMs);
  });
  return Promise.race([opening, deadline]).finally(() => clearTimeout(timer));
}

/** Opens every member it can within `waitMs`; the ones whose arrays do not open are reported, not fatal. */
export async function openMembers(configs: string[], waitMs: number): Promise<{ open: MemberVault[]; failed: { config: string; error: string }[] }> {
  const results = await Promise.allSettled(configs.map((c) => openMemberWithin(c, waitMs)));
  const open: MemberVault[] = [];
  const failed: { config: string; error: string }[] = [];
  results.forEach((r, i) => (r.status === 'fulfilled' ? open.push(r.value) : failed.push({ config: configs[i], error: (r.reason as Error).message })));
  return { open, failed };
}

export async function closeMembers(members: MemberVault[]): Promise<void> {
  await Promise.all(members.map((m) => m.disk.close()));
}
