// `teearray local --tq-members N`: N small trust-quorum member arrays on this
// machine for a demo of `teearray tq`. Each member is a separate array (its
// own keys, three disk-node processes, k=2 m=1, key-erasure mode) under
// DATA_DIR/tq/member-I/, described by DATA_DIR/tq/member-I/array.json.
// No manager stays open: each `teearray tq` command opens the arrays it
// needs and closes them. DATA_DIR/tq/members.json lists each member's
// config and node pids (kill a member's nodes to lose its array).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArrayConfig } from './array-config.ts';
import { writeFileAtomic } from './config-file.ts';
import type { Logger } from './log.ts';
import { startLocalArray, type LocalArray } from './local-array.ts';

/** Member arrays `teearray local --tq-members` may start (three node processes each). */
export const tqMembersMax = 16;
/** RAM per member node: the vault needs 16 sectors; 4 MiB is the smallest --node-mib. */
const memberNodeMib = 4;

export async function startTqMembers(dir: string, count: number, log: Logger): Promise<void> {
  const root = join(dir, 'tq');
  await mkdir(root, { recursive: true, mode: 0o700 });
  const started: LocalArray[] = [];
  const members: { id: string; config: string; pids: number[] }[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const memberDir = join(root, `member-${i}`);
      await mkdir(memberDir, { recursive: true, mode: 0o700 });
      const local = await startLocalArray({ dir: memberDir, k: 2, m: 1, nodeMib: memberNodeMib, keyErasure: true, log });
      started.push(local);
      // The creating manager lets go: `teearray tq` opens the array from its config when needed.
      await local.disk.close();
      // The nbd section every config needs: `teearray nbd --config` on it would export the member's disk there.
      const text = JSON.stringify({ k: 2, m: 1, nodes: local.endpoints, dataDir: '.', keyErasure: true, nbd: { unixSocket: join(memberDir, 'nbd.sock') } }, null, 2) + '\n';
      parseArrayConfig(text, memberDir);
      const config = join(memberDir, 'array.json');
      await writeFileAtomic(config, text, 0o600);
      members.push({ id: `member-${i}`, config, pids: local.nodes.pids });
    }
    await writeFileAtomic(join(root, 'members.json'), JSON.stringify({ members }, null, 2) + '\n', 0o600);
    process.stdout.write(banner(root, members));
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  } finally {
    for (const local of started) await local.nodes.stop();
    await rm(join(root, 'members.json'), { force: true });
    for (const m of members) await rm(m.config, { force: true });
  }
}

function banner(root: string, members: { id: string; config: string; pids: number[] }[]): string {
  const all = members.map((m) => m.config).join(' ');
  const t = Math.floor(members.length / 2) + 1;
  return `
teearray local: ${members.length} trust-quorum member arrays (k=2 m=1, key erasure), each its own array
${members.map((m) => `  ${m.id.padEnd(10)} ${m.config}  nodes pid ${m.pids.join(' ')}`).join('\n')}
(also listed in ${join(root, 'members.json')})

Try:
  teearray tq deal --threshold ${t} --members ${all} --volume vol0
  teearray tq show --config ${members[0].config}
  kill -9 ${members[members.length - 1].pids.join(' ')}     # lose a member's array
  teearray tq unlock --members ${all} --volume vol0
  teearray tq rotate --members ${all} --volume vol0

Ctrl-C stops every member's nodes: their RAM, and the shares, are gone.
`;
}
