// Every way this project starts a teearray process runs it with the runtime
// flags of cli/runtime-flags.ts: the npm scripts (the local array, the
// benchmarks, the soak, the tests), the systemd units and the Docker image.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { runtimeFlags } from '../../cli/runtime-flags.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; tap: { 'node-arg': string[] } };

t.test('the npm scripts that run a process', async (t) => {
  for (const script of ['start', 'bench', 'soak']) {
    for (const flag of runtimeFlags) t.ok(pkg.scripts[script].startsWith(`node ${flag} `), `${script}: ${pkg.scripts[script]}`);
  }
  for (const flag of runtimeFlags) t.ok(pkg.tap['node-arg'].includes(flag), `tap node-arg has ${flag}`);
});

t.test('the systemd units and the Docker entrypoint', async (t) => {
  for (const unit of ['deploy/systemd/teearray-nbd.service', 'deploy/systemd/teearray-disk-node@.service']) {
    const exec = read(unit).split('\n').find((l) => l.startsWith('ExecStart='));
    t.ok(exec, `${unit} has an ExecStart`);
    t.ok(exec!.startsWith(`ExecStart=/usr/bin/node ${runtimeFlags.join(' ')} /opt/teearray/dist/teearray.mjs`), `${unit}: ${exec}`);
  }
  const entry = read('deploy/docker/Dockerfile').split('\n').find((l) => l.startsWith('ENTRYPOINT'));
  t.equal(entry, `ENTRYPOINT ${JSON.stringify(['node', ...runtimeFlags, '/app/dist/teearray.mjs']).replace(/,/g, ', ')}`);
});
