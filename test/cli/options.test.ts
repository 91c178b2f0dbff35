// Command-line value parsers: bounds and refusals.
import t from 'tap';
import { cryptoWorkersOption, slotListOption } from '../../cli/options.ts';

t.test('--accept-lost takes distinct slot numbers of the array', async (t) => {
  t.equal(slotListOption(undefined, '--accept-lost', 5), undefined, 'absent: no list');
  t.same(slotListOption('2', '--accept-lost', 5), [2]);
  t.same(slotListOption('4,0, 3', '--accept-lost', 5), [4, 0, 3]);
  t.throws(() => slotListOption('5', '--accept-lost', 5), /--accept-lost must be an integer in 0..4/, 'no such slot');
  t.throws(() => slotListOption('-1', '--accept-lost', 5), /must be an integer/);
  t.throws(() => slotListOption('1,1', '--accept-lost', 5), /lists a slot twice/);
  t.throws(() => slotListOption('', '--accept-lost', 5), /must be an integer/, 'empty');
  t.throws(() => slotListOption('0,1,2,3,4,0', '--accept-lost', 5), /more slots than/);
  t.throws(() => slotListOption('1'.repeat(2000), '--accept-lost', 5), /more slots than/, 'bounded length');
  t.throws(() => slotListOption('1.5', '--accept-lost', 5), /must be an integer/);
});

t.test('--crypto-workers takes auto or 0..16', async (t) => {
  t.equal(cryptoWorkersOption('auto', '--crypto-workers'), 'auto');
  t.equal(cryptoWorkersOption('0', '--crypto-workers'), 0);
  t.equal(cryptoWorkersOption('16', '--crypto-workers'), 16);
  for (const bad of ['-1', '1.5', '17', '', 'all', ' 2']) {
    t.throws(() => cryptoWorkersOption(bad, '--crypto-workers'), { message: `--crypto-workers must be auto or an integer in 0..16, got "${bad}"` }, `refuses "${bad}"`);
  }
});
