// The whole system end to end: real disk-node processes running the measured
// bundle, the manager verifying their attestations, the array exported over
// NBD, and stock clients nobody here wrote: nbdinfo, qemu-img, nbdcopy,
// qemu-io. Nodes are killed (up to m) in the middle of a copy; what was
// written still reads back with the same checksum.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArrayBlockDevice } from '../../array-manager/array-block-device.ts';
import { startNbdServer } from '../../array-manager/nbd/nbd-server.ts';
import { createLogger } from '../../cli/log.ts';
import { startLocalArray } from '../../cli/local-array.ts';
import { cliPath, notBuilt } from '../cli/cli-process.ts';
import { has, run } from '../nbd/child-process.ts';

const tools = ['nbdinfo', 'qemu-img', 'nbdcopy', 'qemu-io'];
const missing = tools.filter((x) => !has(x));
const skip = notBuilt || (missing.length ? `not installed: ${missing.join(', ')}` : false);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('stock NBD clients against a k=4 m=2 array, losing two nodes mid-copy', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A 2 s death window: each lost node costs the test 2 s, not the default 30.
  const local = await startLocalArray({ dir: join(dir, 'keys'), k: 4, m: 2, nodeMib: 32, command: [process.execPath, cliPath], log: createLogger(true), health: { deathWindowMs: 2000 } });
  t.teardown(() => local.nodes.stop());
  const { disk, nodes } = local;
  const server = await startNbdServer({ host: '127.0.0.1', port: 0, exports: new ArrayBlockDevice(disk) });
  t.teardown(async () => {
    await server.close();
    await disk.close();
  });
  const uri = `nbd://127.0.0.1:${server.address.port}`;

  const info = JSON.parse((await run('nbdinfo', ['--json', uri])).stdout).exports[0];
  t.equal(info['export-size'], disk.sizeBytes, 'nbdinfo reports the array size');
  t.equal(info.can_multi_conn, true, 'multi-conn is advertised');

  const imageBytes = 24 << 20;
  const image = randomBytes(imageBytes);
  image.fill(0, 8 << 20, 9 << 20);
  const imagePath = join(dir, 'image.raw');
  writeFileSync(imagePath, image);
  let copyDone = false;
  const copy = run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', imagePath, uri], 120_000).finally(() => (copyDone = true));
  // Lose a node once a few MiB of the copy have landed, and another one just after the copy.
  while (disk.state.counters.bytesWritten < 2 << 20 && !copyDone) await new Promise((r) => setTimeout(r, 2));
  t.notOk(copyDone, 'the node dies while the copy is under way');
  process.kill(nodes.pids[1], 'SIGKILL');
  const copied = await copy;
  t.equal(copied.code, 0, `qemu-img convert completed with a node lost mid-copy ${copied.stderr}`);
  process.kill(nodes.pids[4], 'SIGKILL');

  const outPath = join(dir, 'out.raw');
  const back = await run('nbdcopy', [uri, outPath], 120_000);
  t.equal(back.code, 0, `nbdcopy read the disk back ${back.stderr}`);
  t.equal(sha(readFileSync(outPath).subarray(0, imageBytes)), sha(image), 'the checksum matches with m nodes dead');
  // The first node died under writes: its slot is dead after the death window. The second died under reads only,
  // which other shards serve without spending a slot; the next write marks it dead (below).
  t.notOk(disk.state.isLive(1), 'the node lost under writes is marked dead');
  t.same(disk.state.liveSlots().filter((slot) => slot !== 4), [0, 2, 3, 5], 'no other slot lost');

  const io = await run('qemu-io', [
    '-f', 'raw', uri,
    '-c', 'write -f -P 0xab 0 64k',
    '-c', 'write -z 64k 64k',
    '-c', 'discard 128k 64k',
    '-c', 'read -P 0xab 0 64k',
    '-c', 'read -P 0 64k 128k',
    '-c', 'write -P 0x5c 1000 3000',
    '-c', 'read -P 0x5c 1000 3000',
  ]);
  t.equal(io.code, 0, 'qemu-io FUA, zero, discard and unaligned patterns on a degraded array');
  t.notMatch(io.stdout + io.stderr, /Pattern verification failed|error/i, 'every pattern verified');
  t.same(disk.state.liveSlots(), [0, 2, 3, 5], 'the writes marked the second lost node dead too: exactly the two');
});
