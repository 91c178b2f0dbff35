// The server against NBD clients written elsewhere: nbdinfo (libnbd) for the
// negotiated size, block sizes and flags; qemu-img and nbdcopy to write an
// image in and copy it back out (checksums compared); qemu-io for patterns
// with FUA, zeroing, discard, asynchronous and unaligned requests, checked
// both through the client and directly on the device; fio with checksum
// verification at queue depth 32, including unaligned block sizes.
// Each tool missing from the machine skips its test with a message.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { MemoryDevice } from '../../array-manager/nbd/memory-device.ts';
import { startNbdServer } from '../../array-manager/nbd/nbd-server.ts';
import { has, run } from './child-process.ts';

const sizeBytes = 16 << 20;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function serve(t: Test, opts: { strictAlignment?: boolean } = {}) {
  const device = new MemoryDevice({ sizeBytes });
  const readOnly = new MemoryDevice({ sizeBytes: 1 << 20, readOnly: true });
  const server = await startNbdServer({
    port: 0,
    exports: new Map([
      ['', device],
      ['ro', readOnly],
    ]),
    ...opts,
  });
  t.teardown(() => server.close());
  const uri = (name = '') => `nbd://127.0.0.1:${server.address.port}/${name}`;
  return { device, uri };
}


function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-nbd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('nbdinfo sees the size, block sizes and flags', { skip: !has('nbdinfo') && 'nbdinfo not installed' }, async (t) => {
  for (const strictAlignment of [false, true]) {
    const { uri } = await serve(t, { strictAlignment });
    const result = await run('nbdinfo', ['--json', uri()]);
    t.equal(result.code, 0, result.stderr);
    const info = JSON.parse(result.stdout);
    t.equal(info.protocol, 'newstyle-fixed');
    t.equal(info.TLS, false);
    t.equal(info.structured, true);
    const e = info.exports[0];
    t.equal(e['export-size'], sizeBytes);
    t.equal(e.block_size_minimum, strictAlignment ? 4096 : 1);
    t.equal(e.block_size_preferred, 4096);
    t.equal(e.block_size_maximum, 32 << 20);
    for (const flag of ['can_flush', 'can_fua', 'can_trim', 'can_zero', 'can_fast_zero', 'can_multi_conn', 'can_df']) {
      t.equal(e[flag], true, flag);
    }
    t.equal(e.is_read_only, false);
    t.equal(e.can_cache, false);
    const ro = JSON.parse((await run('nbdinfo', ['--json', uri('ro')])).stdout).exports[0];
    t.equal(ro.is_read_only, true);
    t.equal(ro['export-size'], 1 << 20);
    const list = await run('nbdinfo', ['--list', '--json', uri()]);
    t.equal(list.code, 0, list.stderr);
    t.same(JSON.parse(list.stdout).exports.map((x: { 'export-name': string }) => x['export-name']).sort(), ['', 'ro']);
    const missing = await run('nbdinfo', [uri('missing')]);
    t.not(missing.code, 0, 'unknown export refused');
  }
});

t.test('qemu-img writes an image in and copies it back out', { skip: !has('qemu-img') && 'qemu-img not installed' }, async (t) => {
  const { device, uri } = await serve(t);
  const dir = scratch(t);
  const image = randomBytes(sizeBytes);
  image.fill(0, 4 << 20, 6 << 20); // a zero run, which qemu-img may send as WRITE_ZEROES
  writeFileSync(join(dir, 'in.raw'), image);
  const put = await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', join(dir, 'in.raw'), uri()]);
  t.equal(put.code, 0, put.stderr);
  t.equal(sha256(await device.read(0, sizeBytes)), sha256(image), 'device holds the image');
  const get = await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', uri(), join(dir, 'out.raw')]);
  t.equal(get.code, 0, get.stderr);
  t.equal(sha256(readFileSync(join(dir, 'out.raw'))), sha256(image), 'copied back out');
  const compare = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', join(dir, 'in.raw'), uri()]);
  t.equal(compare.code, 0, compare.stdout + compare.stderr);
});

t.test('nbdcopy (several connections) in and out', { skip: !has('nbdcopy') && 'nbdcopy not installed' }, async (t) => {
  const { device, uri } = await serve(t);
  const dir = scratch(t);
  const image = randomBytes(sizeBytes);
  writeFileSync(join(dir, 'in.raw'), image);
  const put = await run('nbdcopy', ['--flush', join(dir, 'in.raw'), uri()]);
  t.equal(put.code, 0, put.stderr);
  t.equal(sha256(await device.read(0, sizeBytes)), sha256(image));
  const get = await run('nbdcopy', [uri(), join(dir, 'out.raw')]);
  t.equal(get.code, 0, get.stderr);
  t.equal(sha256(readFileSync(join(dir, 'out.raw'))), sha256(image));
});

t.test('qemu-io patterns: FUA, zeroes, discard, async, unaligned', { skip: !has('qemu-io') && 'qemu-io not installed' }, async (t) => {
  for (const strictAlignment of [false, true]) {
    const { device, uri } = await serve(t, { strictAlignment });
    const commands = [
      'write -P 0xab 0 64k',
      'read -P 0xab 0 64k',
      'write -f -P 0xcd 64k 64k', // FUA
      'read -P 0xcd 64k 64k',
      'write -z 16k 16k', // WRITE_ZEROES
      'read -P 0 16k 16k',
      'write -z -u 128k 64k', // WRITE_ZEROES that may unmap
      'read -P 0 128k 64k',
      'write -P 0x77 1M 1M',
      'discard 1M 4k', // TRIM: contents unspecified afterwards
      'aio_write -P 0x31 2M 4k',
      'aio_write -P 0x32 3M 4k',
      'aio_flush',
      'read -P 0x31 2M 4k',
      'read -P 0x32 3M 4k',
      'write -P 0x44 5000 100', // unaligned: qemu's RMW (strict) or ours (default)
      'read -P 0x44 5000 100',
      'flush',
    ];
    const result = await run('qemu-io', ['-f', 'raw', uri(), ...commands.flatMap((c) => ['-c', c])]);
    t.equal(result.code, 0, result.stderr);
    t.notMatch(result.stdout + result.stderr, /fail|error/i, 'every pattern verified');
    const bytes = await device.read(0, 4 << 20);
    t.equal(bytes[0], 0xab);
    t.equal(bytes[16 << 10], 0, 'zeroed');
    t.equal(bytes[64 << 10], 0xcd);
    t.equal(bytes[4999], 0xab, 'byte before the unaligned write kept');
    t.equal(bytes[5000], 0x44);
    t.equal(bytes[5100], 0xab, 'byte after the unaligned write kept');
    t.equal(bytes[(1 << 20) + 4096], 0x77, 'outside the discarded block kept');
    const ro = await run('qemu-io', ['-f', 'raw', uri('ro'), '-c', 'write -P 1 0 4k']);
    t.match(ro.stdout + ro.stderr, /read-only|Permission|not permitted/i, 'read-only export refuses writes');
  }
});

t.test('fio writes with checksums at queue depth 32, then verifies them', { skip: !has('fio') && 'fio not installed' }, async (t) => {
  const { uri } = await serve(t);
  const dir = scratch(t);
  for (const blocks of [['--bs=4k'], ['--bsrange=512-64k', '--blockalign=512']]) {
    const result = await run('fio', [
      '--name=verify',
      '--ioengine=nbd',
      `--uri=${uri()}`,
      '--rw=randwrite',
      ...blocks,
      '--iodepth=32',
      '--size=8M',
      '--verify=crc32c',
      '--do_verify=1',
      '--verify_fatal=1',
      '--verify_state_save=0', // fio would otherwise leave a state file in the working directory
      '--output-format=json',
      `--output=${join(dir, 'fio.json')}`,
    ]);
    t.equal(result.code, 0, result.stderr);
    const job = JSON.parse(readFileSync(join(dir, 'fio.json'), 'utf8')).jobs[0];
    t.equal(job.error, 0, `no errors with ${blocks.join(' ')}`);
    t.ok(job.write.total_ios > 0 && job.read.total_ios > 0, 'wrote, then read back to verify');
  }
});
