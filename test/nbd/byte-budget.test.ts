// The server-wide payload budget (array-manager/nbd/byte-budget.ts): never
// more than its bound held, all-or-nothing reservations, first come first
// served (a large request is not starved by small ones), cancellation.
import t from 'tap';
import { ByteBudget } from '../../array-manager/nbd/byte-budget.ts';

t.test('reserve, wait in order, release', async (t) => {
  const budget = new ByteBudget(100);
  t.ok(budget.tryReserve(60));
  t.notOk(budget.tryReserve(50), 'does not fit');
  t.equal(budget.bytesHeld, 60, 'a refused reservation holds nothing');
  const granted: string[] = [];
  budget.wait(50, () => granted.push('big'));
  t.notOk(budget.tryReserve(10), 'fits, but someone waits first');
  budget.wait(10, () => granted.push('small'));
  budget.release(60);
  t.same(granted, ['big', 'small'], 'granted in arrival order');
  t.equal(budget.bytesHeld, 60);
  budget.release(60);
  t.equal(budget.bytesHeld, 0);
});

t.test('a cancelled waiter lets the next one through', async (t) => {
  const budget = new ByteBudget(100);
  t.ok(budget.tryReserve(90));
  const granted: number[] = [];
  const cancel = budget.wait(100, () => granted.push(100));
  budget.wait(5, () => granted.push(5));
  t.same(granted, [], 'the small one waits behind the large one');
  cancel();
  t.same(granted, [5], 'cancelling the head grants the next');
  budget.release(95);
  t.same(granted, [5]);
  t.equal(budget.bytesHeld, 0);
});

t.test('bounds are asserted', async (t) => {
  const budget = new ByteBudget(10);
  t.throws(() => budget.tryReserve(11));
  t.throws(() => budget.wait(11, () => {}));
  t.throws(() => budget.release(1), 'releasing more than held is our bug');
  t.throws(() => new ByteBudget(0));
});
