// `teearray attest verify` as auditors run it (the built CLI): real evidence
// of each platform verifies as of its time and prints what was checked; a
// manifest's reference values and a report data are checked when given; a
// refusal exits 1 with its code; bad usage exits 2 and names the option.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, notBuilt } from './cli-process.ts';

const vectors = join(import.meta.dirname, '..', 'vectors');
const nitro = join(vectors, 'nitro', 'evervault-beta-2022-10-13.cbor');
const nitroDebug = join(vectors, 'nitro', 'evervault-debug-2022-10-12.cbor');
const snp = join(vectors, 'sev-snp', 'teekit-gcp-milan-v5-report.bin');
const snpVcek = join(vectors, 'sev-snp', 'teekit-gcp-milan-vcek.pem');
const tdx = join(vectors, 'tdx', 'go-tdx-guest.cos-113-tdx-quote.dat');
const dir = mkdtempSync(join(tmpdir(), 'teearray-attest-'));

async function verify(args: string[]) {
  const result = await cli(['attest', 'verify', ...args, '--json']);
  return { code: result.code, json: result.stdout ? JSON.parse(result.stdout) : undefined, stderr: result.stderr };
}

function manifestFile(name: string, platform: object): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ format: 'teearray-reference-values-v2', platforms: [platform], builds: [{ name: 'disk-node', version: 't', buildDigest: '00'.repeat(32) }] }));
  return path;
}

t.test('real evidence of each platform verifies, exit 0, and the result says what was checked', { skip: notBuilt }, async (t) => {
  const n = await verify(['--platform', 'nitro', '--evidence', nitro]);
  t.equal(n.code, 0, n.stderr);
  t.equal(n.json.verified, true);
  t.equal(n.json.checkedAt, '2022-10-13T08:58:02.136Z', 'a Nitro document is checked as of its own timestamp');
  t.same(n.json.checks.map((c: { check: string }) => c.check), ['format', 'signature', 'chain', 'root', 'validity', 'debug']);
  t.match(n.json.notChecked.join('\n'), /reference values \(no manifest given\)/);
  t.equal(n.json.measurements.pcr0.length, 96);
  const s = await verify(['--platform', 'sev-snp', '--evidence', snp, '--certs', snpVcek, '--at', '2026-06-01T00:00:00Z']);
  t.equal(s.code, 0, JSON.stringify(s.json?.error));
  t.equal(s.json.measurements.measurement.length, 96);
  const padded = await verify(['--platform', 'tdx', '--evidence', tdx, '--at', '2026-01-01T00:00:00Z']);
  t.equal(padded.json.error.code, 'E_ATT_FORMAT', 'the published file is padded: refused as it is');
  const x = await verify(['--platform', 'tdx', '--evidence', tdx, '--at', '2026-01-01T00:00:00Z', '--ignore-trailing']);
  t.equal(x.code, 0, JSON.stringify(x.json?.error));
  t.match(x.json.checks[0].detail, /^\d+ bytes after the quote's declared end ignored/);
  t.match(x.json.notChecked.join('\n'), /TCB status/);
  const text = await cli(['attest', 'verify', '--platform', 'nitro', '--evidence', nitro]);
  t.match(text.stdout, /result +VERIFIED/);
  t.match(text.stdout, /pcr0 +[0-9a-f]{96}/);
});

t.test('refusals exit 1 with their code', { skip: notBuilt }, async (t) => {
  const expired = await verify(['--platform', 'nitro', '--evidence', nitro, '--at', '2026-01-01T00:00:00Z']);
  t.equal(expired.code, 1);
  t.equal(expired.json.error.code, 'E_ATT_EXPIRED');
  const debug = await verify(['--platform', 'nitro', '--evidence', nitroDebug]);
  t.equal(debug.code, 1);
  t.equal(debug.json.error.code, 'E_ATT_POLICY', 'a debug enclave is refused even without a manifest');
  const noVcek = await verify(['--platform', 'sev-snp', '--evidence', snp, '--at', '2026-06-01T00:00:00Z']);
  t.equal(noVcek.code, 1);
  t.match(noVcek.json.error.code, /^E_ATT_/);
  const wrongData = await verify(['--platform', 'tdx', '--evidence', tdx, '--ignore-trailing', '--at', '2026-01-01T00:00:00Z', '--report-data', 'ab'.repeat(64)]);
  t.equal(wrongData.code, 1);
  t.equal(wrongData.json.error.code, 'E_ATT_REPORT_DATA');
});

t.test('a manifest pins the roots and judges the measurements', { skip: notBuilt }, async (t) => {
  const accepted = await verify(['--platform', 'nitro', '--evidence', nitro]);
  const { pcr0, pcr1, pcr2 } = accepted.json.measurements;
  const root = accepted.json.rootFingerprint;
  const good = manifestFile('good.json', { name: 'aws-nitro-v1', roots: [root], reference: { images: [{ pcr0, pcr1, pcr2 }] } });
  const ok = await verify(['--platform', 'nitro', '--evidence', nitro, '--manifest', good]);
  t.equal(ok.code, 0);
  t.ok(ok.json.checks.some((c: { check: string }) => c.check === 'reference values'));
  // The entry the CLI prints for verified evidence is one the manifest takes, and it accepts that evidence.
  for (const [platform, args] of [
    ['nitro', ['--evidence', nitro]],
    ['sev-snp', ['--evidence', snp, '--certs', snpVcek, '--at', '2026-06-01T00:00:00Z']],
    ['tdx', ['--evidence', tdx, '--ignore-trailing', '--at', '2026-01-01T00:00:00Z']],
  ] as const) {
    const first = await verify(['--platform', platform, ...args]);
    const entry = manifestFile(`${platform}-entry.json`, first.json.manifestEntry);
    const again = await verify(['--platform', platform, ...args, '--manifest', entry]);
    t.equal(again.code, 0, `${platform}: ${JSON.stringify(again.json?.error)}`);
    t.ok(again.json.checks.some((c: { check: string }) => c.check === 'reference values'), `${platform}: reference values checked`);
  }
  const otherImage = manifestFile('other.json', { name: 'aws-nitro-v1', roots: [root], reference: { images: [{ pcr0: 'ab'.repeat(48) }] } });
  const refused = await verify(['--platform', 'nitro', '--evidence', nitro, '--manifest', otherImage]);
  t.equal(refused.code, 1);
  t.equal(refused.json.error.code, 'E_ATT_MEASUREMENT');
  const otherRoot = manifestFile('root.json', { name: 'aws-nitro-v1', roots: ['cd'.repeat(32)], reference: { images: [{ pcr0 }] } });
  t.equal((await verify(['--platform', 'nitro', '--evidence', nitro, '--manifest', otherRoot])).json.error.code, 'E_ATT_CHAIN');
  const noPlatform = manifestFile('sim.json', { name: 'sim-tee-v1', roots: ['cd'.repeat(32)] });
  t.equal((await verify(['--platform', 'nitro', '--evidence', nitro, '--manifest', noPlatform])).json.error.code, 'E_ATT_CHAIN');
});

t.test('usage errors exit 2 and name the option', { skip: notBuilt }, async (t) => {
  const big = join(dir, 'big.bin');
  writeFileSync(big, Buffer.alloc(256 * 1024 + 1));
  const cases: [string[], RegExp][] = [
    [['--platform', 'sgx', '--evidence', nitro], /--platform must be nitro, sev-snp or tdx, got "sgx"/],
    [['--platform', 'nitro'], /--evidence is required/],
    [['--platform', 'nitro', '--evidence', nitro, '--at', 'yesterday'], /--at must be an ISO 8601 time/],
    [['--platform', 'nitro', '--evidence', nitro, '--certs', snpVcek], /--certs applies to --platform sev-snp only/],
    [['--platform', 'tdx', '--evidence', tdx, '--report-data', 'ab'], /--report-data must be 128 lowercase hex digits/],
    [['--platform', 'nitro', '--evidence', nitro, '--ignore-trailing'], /--ignore-trailing applies to --platform tdx only/],
    [['--platform', 'tdx', '--evidence', join(dir, 'missing')], /--evidence .* cannot be read: ENOENT/],
    [['--platform', 'tdx', '--evidence', big], /larger than 262144 bytes/],
    [['--platform', 'nitro', '--evidence', nitro, '--manifest', join(dir, 'missing.json')], /missing\.json/],
    [['--platform', 'nitro', '--evidence', nitro, '--bogus'], /bogus/],
  ];
  for (const [args, message] of cases) {
    const result = await cli(['attest', 'verify', ...args]);
    t.equal(result.code, 2, `${args.join(' ')}: exit 2`);
    t.match(result.stderr, message);
  }
  const sub = await cli(['attest', 'check']);
  t.equal(sub.code, 2);
  t.match(sub.stderr, /unknown attest command "check"/);
});
