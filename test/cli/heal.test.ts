// "Kill a node and watch it heal" as README.md tells a newcomer, with the
// built CLI: `teearray local --spares 1` (a small k=2 m=1 array, a 1 s
// death window) lists its node processes; one is killed with SIGKILL; the
// manager's probe notices on the idle array, the slot is marked dead, the
// spare takes it, the rebuild finishes, and `teearray array status` shows
// the slot live on the spare's node, with the events that got it there and
// the config file rewritten. Then scrub --wait, rate and a refused replace
// through the same admin API, and a clean stop that removes the config.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, notBuilt, startCli } from './cli-process.ts';

/** How long the slot may take from the kill to live on the spare: probe (1 s) + death window (1 s) + replace + rebuild of 4 MiB. */
const healDeadlineMs = 30_000;

interface Status {
  state: string;
  health: string;
  slots: { slot: number; state: string; endpoint: string; instanceId: string }[];
  spares: { available: string[]; rejected: unknown[] };
  rebuild: { active: boolean; doneRows: number; totalRows: number; bytesPerSecond: number; bytesRebuilt: number };
  scrub: { running: boolean; rowsChecked: number; totalRows: number };
  events: { kind: string; slot?: number }[];
  processes: { endpoint: string; pid: number; role: string }[];
}

t.test('local --spares 1: a killed node is replaced by the spare and rebuilt', { skip: notBuilt }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-heal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const config = join(dataDir, 'array.json');
  const local = startCli(t, ['local', '--data-dir', dataDir, '--k', '2', '--m', '1', '--node-mib', '4', '--nbd-port', '0', '--admin-port', '0', '--spares', '1', '--death-window', '1']);

  const killLine = await local.line((l) => /^\s+kill -9 \d+$/.test(l));
  const nodeLines = await Promise.all(['slot 0', 'slot 1', 'slot 2', 'spare 0'].map((role) => local.line((l) => l.trim().startsWith(`${role} `))));
  const nodes = nodeLines.map((l) => /^\s*(slot \d|spare \d)\s+pid (\d+)\s+(ws:\/\/\S+)$/.exec(l)!).map((m) => ({ role: m[1], pid: Number(m[2]), endpoint: m[3] }));
  t.equal(Number(/kill -9 (\d+)/.exec(killLine)![1]), nodes[0].pid, 'the banner says which pid to kill');
  await local.line((l) => l.includes(`teearray array status --config ${config}`));

  const status = async (): Promise<Status> => {
    const r = await cli(['array', 'status', '--config', config, '--json']);
    if (r.code !== 0) throw new Error(`array status exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Status;
  };
  const before = await status();
  t.equal(before.state, 'optimal');
  t.same(before.spares.available, [nodes[3].endpoint], 'the spare is listed');
  t.same(before.slots.map((s) => s.endpoint), nodes.slice(0, 3).map((n) => n.endpoint));
  t.same(before.processes.map((p) => p.pid), nodes.map((n) => n.pid), '/status lists the node processes');
  t.same(JSON.parse(readFileSync(config, 'utf8')).spares, [nodes[3].endpoint], 'the local config lists the spare');

  const victim = 1;
  process.kill(nodes[victim].pid, 'SIGKILL');
  const killedAt = Date.now();
  let healed: Status | undefined;
  const seen = new Set<string>();
  while (Date.now() - killedAt < healDeadlineMs) {
    const s = await status();
    seen.add(`${s.state}/${s.slots[victim].state}`);
    // The rebuild-done event is recorded once the slot's return to live is durable, a moment after status shows it.
    const done = s.events.some((e) => e.slot === victim && e.kind === 'rebuild-done');
    if (s.state === 'optimal' && s.slots[victim].endpoint === nodes[3].endpoint && done) {
      healed = s;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!healed) return void t.fail(`not healed within ${healDeadlineMs} ms (states seen: ${[...seen].join(', ')}); stderr:\n${local.stderr().slice(-4000)}`);
  t.pass(`healed ${Date.now() - killedAt} ms after the kill (states seen: ${[...seen].join(', ')})`);
  t.same(healed.slots.map((s) => s.state), ['live', 'live', 'live']);
  t.not(healed.slots[victim].instanceId, before.slots[victim].instanceId, 'a new instance holds the slot');
  t.same(healed.spares.available, [], 'the spare is used');
  const kinds = healed.events.filter((e) => e.slot === victim).map((e) => e.kind);
  for (const kind of ['slot-dead', 'slot-replaced', 'rebuild-done']) t.ok(kinds.includes(kind), `event ${kind}`);
  t.ok(kinds.indexOf('slot-dead') < kinds.indexOf('slot-replaced') && kinds.indexOf('slot-replaced') < kinds.indexOf('rebuild-done'), 'in that order');
  t.ok(healed.rebuild.bytesRebuilt > 0, `${healed.rebuild.bytesRebuilt} bytes rebuilt`);
  const rewritten = JSON.parse(readFileSync(config, 'utf8'));
  t.equal(rewritten.nodes[victim], nodes[3].endpoint, 'the config file names the spare in the slot');
  t.same(rewritten.spares, [], 'and no spare left');
  t.match(local.stderr(), /"event":"slot-dead".*\n(.*\n)*.*"event":"slot-replaced"/, 'the manager logs the events');

  const human = await cli(['array', 'status', '--config', config]);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /^\s+state: optimal$/m, 'people read the state');
  t.match(human.stdout, new RegExp(`^\\s+${victim}\\s+live\\s+${nodes[3].endpoint.replace(/[/.]/g, '\\$&')}\\s+${nodes[3].pid}\\s`, 'm'), "the slot's row: live, the spare's node and pid");
  t.match(human.stdout, /slot-replaced slot 1: /);

  const scrub = await cli(['array', 'scrub', '--config', config, '--wait', '--json']);
  t.equal(scrub.code, 0, scrub.stderr);
  const scrubbed = JSON.parse(scrub.stdout);
  t.equal(scrubbed.rowsChecked, scrubbed.totalRows, 'scrub --wait follows the scrub to its end');
  t.equal(scrubbed.unrecoverableRows, 0);
  t.match(scrub.stderr, /scrubbing: 100%/, 'progress as plain lines when stderr is not a TTY');

  const rate = await cli(['array', 'rate', '--config', config, '--min-mbps', '2', '--max-mbps', '100', '--json']);
  t.equal(rate.code, 0, rate.stderr);
  t.same(JSON.parse(rate.stdout), { rate: { minBytesPerSecond: 2_000_000, maxBytesPerSecond: 100_000_000 } });

  const refused = await cli(['array', 'replace', '--config', config, '--slot', '0', '--endpoint', 'ws://127.0.0.1:1', '--json']);
  t.equal(refused.code, 1, 'a refused replacement exits 1');
  t.match(JSON.parse(refused.stdout), { error: 'E_REPLACE_LIVE' }, 'with the error on stdout for --json');
  t.match(refused.stderr, /^teearray: E_REPLACE_LIVE: slot 0 is live/);

  t.equal(await local.stop('SIGTERM'), 0, 'exit 0 on SIGTERM');
  t.notOk(existsSync(config), 'the local config is removed on stop');
});
