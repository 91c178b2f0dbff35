// The configfs-tsm reporter against an in-memory kernel (test/support/fake-configfs-tsm.ts):
// the report data we write is what the report carries, the entry is removed on
// every path, a concurrent writer is detected through `generation`, and every
// read is bounded.
import t from 'tap';
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConfigfsTsmReporter, type ConfigfsTsmOptions } from '../../attestation/reporters/configfs-tsm.ts';
import {
  createFakeConfigfsTsm,
  OTHER_WRITER_DATA,
  SNP_REPORT_BYTES,
  SNP_REPORT_DATA_OFFSET,
  TDX_QUOTE_REPORT_DATA_OFFSET,
  type FakeTsm,
  type FakeTsmOptions,
} from '../support/fake-configfs-tsm.ts';

const reportData = () => new Uint8Array(randomBytes(64));

/** A test whose fake kernels must have no entry and no file left open when it ends, whatever path it took. */
function tsmTest(name: string, fn: (t: Test, kernel: (options?: FakeTsmOptions) => FakeTsm) => Promise<void>) {
  t.test(name, async (t) => {
    const fakes: FakeTsm[] = [];
    await fn(t, (options) => {
      const fake = createFakeConfigfsTsm(options);
      fakes.push(fake);
      return fake;
    });
    for (const fake of fakes) {
      t.same(fake.entries(), [], 'no entry left behind');
      t.equal(fake.openFiles(), 0, 'no file left open');
    }
  });
}

function reporter(fake: FakeTsm, options: Partial<ConfigfsTsmOptions> = {}) {
  return createConfigfsTsmReporter({ root: fake.root, fs: fake.fs, expect: 'amd-sev-snp-v1', ...options });
}

const platformError = (message?: RegExp) => ({ name: 'AttestationError', code: 'E_ATT_PLATFORM', ...(message ? { message } : {}) });

tsmTest('SEV-SNP: the report carries our report data at REPORT_DATA, with the certificate table', async (t, kernel) => {
  const fake = kernel();
  const snp = reporter(fake);
  t.equal(snp.platform, 'amd-sev-snp-v1');
  const data = reportData();
  const got = snp.report(data);
  t.equal(got.provider, 'sev_guest');
  t.equal(got.evidence.length, SNP_REPORT_BYTES);
  t.same(got.evidence.subarray(SNP_REPORT_DATA_OFFSET, SNP_REPORT_DATA_OFFSET + 64), data);
  t.same(got.aux, Uint8Array.of(1, 2, 3, 4));
  t.same(fake.inblobWrites, [data], 'exactly the 64 bytes, written once');
  t.same(fake.modes, [0o755, 0o755], 'one entry at creation (provider check), one per report, mode as configfs makes it');
  t.equal(fake.reportsMade, 1);
});

tsmTest('TDX: the quote carries our report data at REPORTDATA; no auxblob is an empty aux', async (t, kernel) => {
  const fake = kernel({ provider: 'tdx_guest' });
  const tdx = reporter(fake, { expect: 'intel-tdx-v1' });
  t.equal(tdx.platform, 'intel-tdx-v1');
  const data = reportData();
  const got = tdx.report(data);
  t.equal(got.provider, 'tdx_guest');
  t.same(got.evidence.subarray(TDX_QUOTE_REPORT_DATA_OFFSET, TDX_QUOTE_REPORT_DATA_OFFSET + 64), data);
  t.same(got.aux, new Uint8Array(0));
});

tsmTest('an empty auxblob is an empty aux', async (t, kernel) => {
  const got = reporter(kernel({ auxblob: new Uint8Array(0) })).report(reportData());
  t.same(got.aux, new Uint8Array(0));
});

tsmTest('each report is made in its own entry', async (t, kernel) => {
  const fake = kernel();
  const snp = reporter(fake);
  const [a, b] = [reportData(), reportData()];
  t.same(snp.report(a).evidence.subarray(SNP_REPORT_DATA_OFFSET, SNP_REPORT_DATA_OFFSET + 64), a);
  t.same(snp.report(b).evidence.subarray(SNP_REPORT_DATA_OFFSET, SNP_REPORT_DATA_OFFSET + 64), b);
  t.equal(fake.modes.length, 3);
});

tsmTest('a concurrent writer once: the generation check sees it and the retry returns our report', async (t, kernel) => {
  const fake = kernel({ race: 'once' });
  const data = reportData();
  const got = reporter(fake).report(data);
  t.same(got.evidence.subarray(SNP_REPORT_DATA_OFFSET, SNP_REPORT_DATA_OFFSET + 64), data, 'ours, not the other writer\'s');
  t.same(fake.inblobWrites, [data, OTHER_WRITER_DATA, data]);
  t.equal(fake.modes.length, 3, 'creation, the raced attempt, the retry');
});

tsmTest('a concurrent writer always: refused after 3 attempts', async (t, kernel) => {
  const fake = kernel({ race: 'always' });
  const snp = reporter(fake);
  t.throws(() => snp.report(reportData()), platformError(/moved under us 3 times/));
  t.equal(fake.inblobWrites.length, 6);
});

tsmTest('the provider must be the expected platform\'s, at creation and at each report', async (t, kernel) => {
  t.throws(() => reporter(kernel({ provider: 'tdx_guest' })), platformError(/provider is "tdx_guest", expected sev_guest/));
  t.throws(() => reporter(kernel(), { expect: 'intel-tdx-v1' }), platformError(/expected tdx_guest/));
  t.throws(() => reporter(kernel(), { expect: 'aws-nitro-v1' as 'intel-tdx-v1' }), platformError(/not aws-nitro-v1/));
  const fake = kernel();
  const snp = reporter(fake);
  fake.provider = 'arm_cca_guest';
  t.throws(() => snp.report(reportData()), platformError(/provider is "arm_cca_guest"/));
  t.equal(fake.inblobWrites.length, 0, 'nothing written for the wrong platform');
});

tsmTest('no TSM driver registered: mkdir fails with ENXIO, refused at creation', async (t, kernel) => {
  t.throws(() => reporter(kernel({ provider: null })), platformError(/has no usable report provider.*ENXIO/));
});

tsmTest('no configfs-tsm: a missing root, or one that is not a directory, refused at creation', async (t, kernel) => {
  const fake = kernel();
  const expected = platformError(/configfs-tsm not found at .*Linux ≥ 6\.7.*mount configfs/);
  t.throws(() => reporter(fake, { root: '/fake/elsewhere' }), expected);
  // node:fs, the default
  const dir = await mkdtemp(join(tmpdir(), 'teearray-tsm-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'file'), '');
  t.throws(() => createConfigfsTsmReporter({ root: join(dir, 'missing'), expect: 'amd-sev-snp-v1' }), expected);
  t.throws(() => createConfigfsTsmReporter({ root: join(dir, 'file'), expect: 'intel-tdx-v1' }), expected);
});

tsmTest('report data must be exactly 64 bytes; nothing is made otherwise', async (t, kernel) => {
  const fake = kernel();
  const snp = reporter(fake);
  for (const length of [0, 32, 63, 65]) {
    t.throws(() => snp.report(new Uint8Array(length)), { code: 'E_ATT_REPORT_DATA' }, `${length} bytes`);
  }
  t.equal(fake.modes.length, 1, 'only the creation check');
});

tsmTest('outblob and auxblob: at most 32 KiB (ours and the kernel\'s bound), outblob not empty', async (t, kernel) => {
  const sized = (n: number) => () => new Uint8Array(n);
  t.equal(reporter(kernel({ makeReport: sized(32768) })).report(reportData()).evidence.length, 32768);
  t.equal(reporter(kernel({ auxblob: new Uint8Array(32768) })).report(reportData()).aux.length, 32768);
  const ours = { kernelBlobMax: Infinity };
  t.throws(() => reporter(kernel({ ...ours, makeReport: sized(32769) })).report(reportData()), platformError(/outblob is larger than 32768 bytes/));
  t.throws(() => reporter(kernel({ ...ours, auxblob: new Uint8Array(32769) })).report(reportData()), platformError(/auxblob is larger than 32768 bytes/));
  t.throws(() => reporter(kernel({ makeReport: sized(32769) })).report(reportData()), platformError(/EFBIG/), 'the kernel refuses first');
  t.throws(() => reporter(kernel({ makeReport: sized(0) })).report(reportData()), platformError(/outblob is empty/));
});

tsmTest('provider and generation: bounded and well-formed', async (t, kernel) => {
  t.throws(() => reporter(kernel({ provider: 'x'.repeat(64) })), platformError(/provider is larger than 64 bytes/));
  t.throws(() => reporter(kernel({ provider: 'sev_guest_with_a_long_name_' })), platformError(/provider is/));
  const generation = (text: string) => reporter(kernel({ generationText: () => text })).report(reportData());
  t.throws(() => generation('7'.repeat(32) + '\n'), platformError(/generation is larger than 32 bytes/));
  for (const text of ['', '1', '-1\n', '01\n', '1 \n', 'one\n', '1234567890123456\n']) {
    t.throws(() => generation(text), platformError(/generation is not a count/), JSON.stringify(text));
  }
});

tsmTest('a failing file operation becomes E_ATT_PLATFORM with its errno, and the entry is still removed', async (t, kernel) => {
  const fake = kernel();
  const snp = reporter(fake);
  const { writeFileSync } = fake.fs;
  fake.fs.writeFileSync = (path, data) => {
    if (path.endsWith('/inblob')) throw Object.assign(new Error('EBUSY: write'), { code: 'EBUSY' });
    writeFileSync(path, data);
  };
  t.throws(() => snp.report(reportData()), platformError(/failed: EBUSY/));
});

tsmTest('rmdir failing: after a report it is the error; after another error, that first error is reported', async (t, kernel) => {
  const fake = kernel();
  const snp = reporter(fake);
  const { rmdirSync } = fake.fs;
  const left: string[] = [];
  fake.fs.rmdirSync = (path) => {
    left.push(path);
    throw Object.assign(new Error('EBUSY: rmdir'), { code: 'EBUSY' });
  };
  t.throws(() => snp.report(reportData()), platformError(/failed: EBUSY: rmdir/));
  fake.provider = 'tdx_guest';
  t.throws(() => snp.report(reportData()), platformError(/provider is "tdx_guest"/));
  fake.fs.rmdirSync = rmdirSync;
  for (const path of left) rmdirSync(path);
});
