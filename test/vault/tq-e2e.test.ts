// `teearray tq` end to end over real disk-node processes: `teearray local
// --tq-members 6` starts six member arrays (three node processes each);
// a trusted dealer deals to the first five with t = 3; two members' arrays
// are killed (every node, SIGKILL); the other three unlock; a rotation
// reaches those three; unlock again gives the new epoch, and the volume that
// stayed on epoch 1 still has its epoch-1 key; the sixth, empty array
// becomes the new home of a lost member, whose share of the new epoch is
// rebuilt from three others. Bad usage gets exit code 2, too few members 3,
// and no secret is printed without --reveal.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, notBuilt, startCli } from '../cli/cli-process.ts';

t.test('deal to five, lose two, unlock from three, rotate, unlock again', { skip: notBuilt }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-tq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const local = startCli(t, ['local', '--tq-members', '6', '--data-dir', dir]);
  await local.line((l) => l.startsWith('Ctrl-C stops every member'), 'stdout', 120_000);
  const all = (JSON.parse(readFileSync(join(dir, 'tq', 'members.json'), 'utf8')) as { members: { id: string; config: string; pids: number[] }[] }).members;
  const members = all.slice(0, 5);
  const configs = members.map((m) => m.config);
  const spareArray = all[5].config;
  const tq = async (args: string[]) => {
    const r = await cli(['tq', ...args], 120_000);
    return { ...r, json: r.code === 0 && args.includes('--json') ? JSON.parse(r.stdout) : undefined };
  };

  const dealt = await tq(['deal', '--threshold', '3', '--members', ...configs, '--volume', 'vol-a', '--volume', 'vol-b', '--json']);
  t.equal(dealt.code, 0, dealt.stderr);
  t.equal(dealt.json.dealt.epoch, 1);
  t.same(dealt.json.dealt.members.map((m: { id: string }) => m.id), members.map((m) => m.id));
  const again = await tq(['deal', '--threshold', '3', '--members', ...configs]);
  t.equal(again.code, 2, 'a second deal is refused: rotate instead');

  const shown = await tq(['show', '--config', configs[1], '--json']);
  t.equal(shown.json.configuration.epoch, 1);
  t.notOk('share' in shown.json, 'no share without --reveal');
  const revealed = await tq(['show', '--config', configs[1], '--json', '--reveal']);
  t.match(revealed.json.share, /^[0-9a-f]{64}02$/, 'the share (y, then x = 2) with --reveal');

  const first = await tq(['unlock', '--members', ...configs, '--volume', 'vol-a', '--json']);
  t.equal(first.code, 0, first.stderr);
  t.notOk('key' in first.json.volume, 'no key without --reveal');

  // Two members lose their arrays: every node of each is killed.
  for (const m of members.slice(3)) for (const pid of m.pids) process.kill(pid, 'SIGKILL');
  const wait = ['--wait-seconds', '3'];
  const unlocked = await tq(['unlock', '--members', ...configs, '--volume', 'vol-a', '--reveal', '--json', ...wait]);
  t.equal(unlocked.code, 0, unlocked.stderr);
  t.same(unlocked.json.sharesFrom, ['member-1', 'member-2', 'member-3']);
  t.equal(unlocked.json.unreachable.length, 2);
  t.equal(unlocked.json.volume.keyCheck, first.json.volume.keyCheck, 'the same key from three members');
  t.equal(unlocked.json.volume.matchesMap, true);

  const tooFew = await tq(['unlock', '--members', configs[0], configs[3], configs[4], ...wait]);
  t.equal(tooFew.code, 3, 'one member answering: unavailable');

  const rotated = await tq(['rotate', '--members', ...configs, '--volume', 'vol-a', '--json', ...wait]);
  t.equal(rotated.code, 0, rotated.stderr);
  t.equal(rotated.json.rotated.epoch, 2);
  t.same(rotated.json.missed, ['member-4', 'member-5'], 'the lost members missed the rotation');

  const second = await tq(['unlock', '--members', ...configs, '--volume', 'vol-a', '--reveal', '--json', ...wait]);
  t.equal(second.json.epoch, 2);
  t.equal(second.json.volume.epoch, 2);
  t.not(second.json.volume.key, unlocked.json.volume.key, 'vol-a has a new key');
  const old = await tq(['unlock', '--members', ...configs, '--volume', 'vol-b', '--json', ...wait]);
  t.equal(old.json.volume.epoch, 1, 'vol-b stays on epoch 1');
  t.equal(old.json.volume.matchesMap, true, "its epoch-1 key, reached from epoch 2's secret");
  const epoch1 = await tq(['unlock', '--members', ...configs, '--volume', 'vol-a', '--epoch', '1', '--reveal', '--json', ...wait]);
  t.equal(epoch1.json.volume.key, unlocked.json.volume.key, "vol-a's epoch-1 key is still reachable");

  // member-4 lost its array: the spare array becomes its home, with its share of epoch 2 rebuilt from three others.
  const recovered = await tq(['recover-share', '--member', 'member-4', '--config', spareArray, '--members', configs[0], configs[1], configs[2], '--json', ...wait]);
  t.equal(recovered.code, 0, recovered.stderr);
  t.equal(recovered.json.epoch, 2);
  const rehomed = await tq(['show', '--config', spareArray, '--json']);
  t.equal(rehomed.json.member, 'member-4');
  t.equal(rehomed.json.configuration.epoch, 2);
  const withNew = await tq(['unlock', '--members', configs[0], spareArray, configs[2], '--volume', 'vol-a', '--reveal', '--json']);
  t.equal(withNew.json.volume.key, second.json.volume.key, "the rebuilt share unlocks with two others");
  const wrongHome = await tq(['recover-share', '--member', 'member-5', '--config', spareArray, '--members', configs[0], configs[1], configs[2]]);
  t.equal(wrongHome.code, 2, "an array that holds another member's vault is refused");

  for (const [args, why] of [
    [['deal', '--members', configs[0]], 'no --threshold'],
    [['deal', '--threshold', '1', '--members', configs[0], configs[1]], 'threshold below 2'],
    [['frobnicate'], 'unknown action'],
    [['show'], 'no --config'],
    [['unlock', '--members', configs[0], configs[0]], 'a config twice'],
    [['unlock', '--members', configs[0], '--epoch', '1'], '--epoch without --volume'],
    [['unlock', '--members', configs[0], '--wait-seconds', '0'], 'wait out of bounds'],
  ] as [string[], string][]) {
    t.equal((await tq(args)).code, 2, why);
  }
  t.equal((await cli(['local', '--tq-members', '17', '--data-dir', dir])).code, 2, '--tq-members above its bound');
  t.equal(await local.stop('SIGTERM'), 0, 'the demo stops on SIGTERM');
});
