// A real filesystem on the export: nbdfuse exposes it as a file, mkfs.ext4
// formats it, the kernel mounts it through a loop device, files are written,
// the filesystem is unmounted and checked with e2fsck, then mounted again and
// the files compared. nbdfuse sends whatever unaligned requests the kernel
// makes, so this also exercises the read-modify-write path under a real
// workload. Needs root, /dev/fuse and loop devices; skips with a message
// where they are missing.
//
// File I/O on the mounted filesystem must be asynchronous: the kernel serves
// it through nbdfuse from the NBD server in this very process, so a
// synchronous call would block the event loop the server needs (a deadlock).

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { ArrayBlockDevice } from '../../array-manager/array-block-device.ts';
import { createArray } from '../../array-manager/array-create.ts';
import type { BlockDevice } from '../../array-manager/nbd/block-device.ts';
import { SimCluster, dataKey } from '../sim/sim-cluster.ts';
import { MemoryDevice } from '../../array-manager/nbd/memory-device.ts';
import { startNbdServer } from '../../array-manager/nbd/nbd-server.ts';
import { has, run } from './child-process.ts';

const missing = [
  process.getuid?.() !== 0 && 'root',
  !existsSync('/dev/fuse') && '/dev/fuse',
  !existsSync('/dev/loop-control') && 'loop devices',
  ...['nbdfuse', 'fusermount3', 'mkfs.ext4', 'e2fsck', 'mount', 'umount'].filter((tool) => !has(tool)),
].filter(Boolean);
const skip = missing.length > 0 && `needs ${missing.join(', ')}`;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

t.test('mkfs.ext4 + mount + e2fsck through nbdfuse, memory device', { skip }, (t) => ext4RoundTrip(t, new MemoryDevice({ sizeBytes: 64 << 20 })));

t.test('mkfs.ext4 + mount + e2fsck through nbdfuse, a k=4 m=2 array', { skip }, async (t) => {
  const cluster = new SimCluster(6, 5000);
  const disk = await createArray({ connector: cluster.connector(), dataKey: dataKey(), k: 4, m: 2 });
  t.teardown(() => disk.close());
  await ext4RoundTrip(t, new ArrayBlockDevice(disk));
});

async function ext4RoundTrip(t: Test, device: BlockDevice): Promise<void> {
  const server = await startNbdServer({ port: 0, exports: device });
  const dir = mkdtempSync(join(tmpdir(), 'teearray-nbdfuse-'));
  const fuseDir = join(dir, 'fuse');
  const mountDir = join(dir, 'mnt');
  mkdirSync(fuseDir);
  mkdirSync(mountDir);
  const image = join(fuseDir, 'disk');
  let fuse: ChildProcess | null = null;
  let mounted = false;
  t.teardown(async () => {
    if (mounted) await run('umount', [mountDir]);
    await run('fusermount3', ['-u', fuseDir]);
    if (fuse && fuse.exitCode === null) fuse.kill('SIGKILL');
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // nbdfuse stays in the foreground; it writes the pid file once the file is ready.
  const pidFile = join(dir, 'nbdfuse.pid');
  fuse = spawn('nbdfuse', ['-P', pidFile, image, `nbd://127.0.0.1:${server.address.port}/`], { stdio: 'ignore' });
  const killer = setTimeout(() => fuse?.kill('SIGKILL'), 120_000);
  t.teardown(() => clearTimeout(killer));
  for (let i = 0; i < 200 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(existsSync(pidFile), 'nbdfuse is serving');

  const mkfs = await run('mkfs.ext4', ['-q', '-F', image]);
  t.equal(mkfs.code, 0, mkfs.stderr);
  const mount = await run('mount', ['-o', 'loop', image, mountDir]);
  t.equal(mount.code, 0, mount.stderr);
  mounted = mount.code === 0;
  const files = new Map([
    ['big.bin', randomBytes(5 << 20)],
    ['small.txt', Buffer.from('acknowledged writes stay written\n')],
    ['odd.bin', randomBytes(12345)],
  ]);
  for (const [name, bytes] of files) await writeFile(join(mountDir, name), bytes);
  t.equal((await run('umount', [mountDir])).code, 0, 'unmounted');
  mounted = false;

  const fsck = await run('e2fsck', ['-fn', image]);
  t.equal(fsck.code, 0, `e2fsck clean: ${fsck.stdout}${fsck.stderr}`);

  t.equal((await run('mount', ['-o', 'loop', image, mountDir])).code, 0, 'mounted again');
  mounted = true;
  for (const [name, bytes] of files) t.equal(sha256(await readFile(join(mountDir, name))), sha256(bytes), `${name} intact`);
}
