// The soak runner's command line: bad arguments exit 2 with a message and
// run nothing; a short run with two jobs sums both jobs into one summary
// line; an interrupted soak still reports what it covered; the exhaustive
// mode takes only known shapes and a bounded stride, and splits its points
// between jobs.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const soak = fileURLToPath(new URL('./soak.ts', import.meta.url));

/** Runs the soak; with `interruptAfterMs`, sends it SIGINT then. */
function run(args: string[], interruptAfterMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', soak, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (interruptAfterMs !== undefined) setTimeout(() => child.kill('SIGINT'), interruptAfterMs);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('bad arguments are refused', async (t) => {
  for (const [args, message] of [
    [['--jobs', '0'], /--jobs must be an integer from 1 to 64/],
    [['--jobs', '65'], /--jobs must be an integer from 1 to 64/],
    [['--jobs', '1.5'], /--jobs must be an integer/],
    [['--seconds', '-1'], /--seconds must be in/],
    [['--bogus'], /unknown argument --bogus; usage: npm run soak/],
    [['--exhaustive', '9+9'], /--exhaustive takes all or a comma list of 2\+1, 3\+2, 2\+3/],
    [['--exhaustive'], /--exhaustive takes all or a comma list/],
    [['--stride', '3'], /--stride goes with --exhaustive/],
    [['--exhaustive', 'all', '--stride', '0'], /--stride must be an integer from 1 to 100000/],
    [['--exhaustive', 'all', '--stride', '100001'], /--stride must be an integer from 1 to 100000/],
    [['--exhaustive', '2+1', '--stride', '2', '--offset', '2'], /--offset must be an integer from 0 to stride - 1/],
  ] as const) {
    const r = await run([...args]);
    t.equal(r.code, 2, `${args.join(' ')} exits 2`);
    t.match(r.stderr, message, `${args.join(' ')}: says why`);
    t.equal(r.stdout, '', `${args.join(' ')}: ran nothing`);
  }
});

t.test('two jobs: one summary line with both jobs counted', async (t) => {
  const r = await run(['--seconds', '1', '--jobs', '2']);
  // Until the issue #9 fix, random scenarios can meet a known hole: then exit 1 and a replay line.
  t.equal(r.code, 0, 'no violation');
  const lines = r.stdout.trim().split('\n').filter((l) => !l.startsWith('replay: '));
  t.equal(lines.length, 1, 'one line');
  const scenarios = Number(/scenarios=(\d+)/.exec(lines[0])?.[1]);
  // Each job checks scenarios in runs of 50 and finishes the run it started, so two jobs count at least 100.
  // A job that met a violation stops early.
  t.ok(scenarios >= 100 || /violations=[1-9]/.test(lines[0]), `both jobs counted (${scenarios} scenarios)`);
  t.match(lines[0], /violations=0$/, 'no violation');
});

t.test('interrupted, it reports what it covered', async (t) => {
  const started = Date.now();
  const r = await run(['--seconds', '600'], 4000);
  t.ok(Date.now() - started < 120_000, 'it stopped long before its time was up');
  t.equal(r.code, 0, 'exit 0: no violation');
  t.match(r.stdout, /^soak: scenarios=[1-9]\d* .*violations=\d+\n/, 'a summary line with the scenarios it ran');
  t.match(r.stdout, /violations=0\n$/, 'no violation');
});

t.test('exhaustive, two jobs: one summary line with the points of both', async (t) => {
  const r = await run(['--exhaustive', '2+1', '--stride', '500', '--jobs', '2']);
  const line = r.stdout.trim();
  t.match(line, /^soak: exhaustive shapes=2\+1 stride=500 points=(\d+) complete=true failures=\d+$/, 'one summary line');
  // The k=2 m=1 sweep has about 4,900 points: every 500th is 10, split between the jobs.
  t.ok(Number(/points=(\d+)/.exec(line)?.[1]) >= 8, 'both jobs counted');
  t.equal(r.code, /failures=0$/.test(line) ? 0 : 1, 'exit 1 exactly when a point fails');
});
