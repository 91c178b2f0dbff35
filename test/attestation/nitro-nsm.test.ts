// The Nitro reporter against fake helpers (small node scripts in a temp dir)
// and a fake device path: the 64 bytes reach the helper's stdin, its stdout
// comes back untouched, and every way a helper can misbehave is refused.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNitroNsmReporter } from '../../attestation/reporters/nitro-nsm.ts';

const dir = await mkdtemp(join(tmpdir(), 'teearray-nsm-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const device = join(dir, 'nsm');
await writeFile(device, '');

/** A canned "document": a CBOR-array byte, then the user_data it was given. */
const COSE_PREFIX = Buffer.from([0x84, 0x44, 0xa1, 0x01]);

async function helper(name: string, body: string, mode = 0o755): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!${process.execPath}\n${body}\n`);
  await chmod(path, mode);
  return path;
}

const readStdin = `const chunks = []; process.stdin.on('data', (c) => chunks.push(c)).on('end', () => answer(Buffer.concat(chunks)));`;
const helpers = {
  good: await helper(
    'good',
    `${readStdin}
     function answer(input) {
       // (the test harness injects its own _TAPJS_ variables into every child; the node's must not pass)
       if (input.length !== 64 || 'PATH' in process.env || 'TEEARRAY_PARENT_ONLY' in process.env) { process.stderr.write('bad call'); process.exit(2); }
       process.stdout.write(Buffer.concat([Buffer.from([${[...COSE_PREFIX].join(',')}]), input]));
     }`,
  ),
  fails: await helper('fails', `process.stderr.write('nsm: ioctl failed\\u0007'); process.exit(1);`),
  killed: await helper('killed', `process.kill(process.pid, 'SIGKILL');`),
  slow: await helper('slow', `setTimeout(() => {}, 60000);`),
  empty: await helper('empty', ``),
  exactly: await helper('exactly', `process.stdout.write(Buffer.alloc(16384, 7));`),
  loud: await helper('loud', `process.stdout.write(Buffer.alloc(16385, 7));`),
  notExecutable: await helper('not-executable', ``, 0o644),
};

const reportData = () => new Uint8Array(randomBytes(64));
const platformError = (message: RegExp) => ({ name: 'AttestationError', code: 'E_ATT_PLATFORM', message });

t.test('the helper gets the 64 bytes on stdin and none of the node environment; its stdout is the evidence', async (t) => {
  process.env.TEEARRAY_PARENT_ONLY = '1';
  t.teardown(() => delete process.env.TEEARRAY_PARENT_ONLY);
  const nitro = createNitroNsmReporter({ device, helper: helpers.good });
  t.equal(nitro.platform, 'aws-nitro-v1');
  const data = reportData();
  const got = nitro.report(data);
  t.equal(got.provider, 'nitro_nsm');
  t.same(got.evidence, new Uint8Array(Buffer.concat([COSE_PREFIX, data])));
  t.same(got.aux, new Uint8Array(0));
});

t.test('outside an enclave: no device, no helper, a helper that cannot run', async (t) => {
  t.throws(() => createNitroNsmReporter({ device: join(dir, 'no-nsm'), helper: helpers.good }), platformError(/no-nsm not found: not inside a Nitro enclave/));
  t.throws(() => createNitroNsmReporter({ helper: helpers.good }), platformError(/\/dev\/nsm not found/), 'the default device, absent here');
  t.throws(() => createNitroNsmReporter({ device, helper: join(dir, 'absent') }), platformError(/absent is missing or not executable/));
  t.throws(() => createNitroNsmReporter({ device, helper: helpers.notExecutable }), platformError(/not-executable is missing or not executable/));
});

t.test('report data must be exactly 64 bytes', async (t) => {
  const nitro = createNitroNsmReporter({ device, helper: helpers.good });
  for (const length of [0, 32, 63, 65, 512]) {
    t.throws(() => nitro.report(new Uint8Array(length)), { code: 'E_ATT_REPORT_DATA' }, `${length} bytes`);
  }
});

t.test('a helper that fails, is killed or returns nothing is refused', async (t) => {
  const run = (helper: string) => createNitroNsmReporter({ device, helper }).report(reportData());
  t.throws(() => run(helpers.fails), platformError(/exited with 1: nsm: ioctl failed\?$/), 'its stderr, printable, in the message');
  t.throws(() => run(helpers.killed), platformError(/exited with SIGKILL/));
  t.throws(() => run(helpers.empty), platformError(/returned no document/));
});

t.test('a helper that hangs is killed at the timeout', async (t) => {
  const started = Date.now();
  t.throws(() => createNitroNsmReporter({ device, helper: helpers.slow, timeoutMs: 500 }).report(reportData()), platformError(/ETIMEDOUT/));
  t.ok(Date.now() - started < 5000, 'did not wait for the helper');
});

t.test('output: 16 KiB accepted, more refused', async (t) => {
  t.equal(createNitroNsmReporter({ device, helper: helpers.exactly }).report(reportData()).evidence.length, 16384);
  t.throws(() => createNitroNsmReporter({ device, helper: helpers.loud }).report(reportData()), platformError(/ENOBUFS/));
});
