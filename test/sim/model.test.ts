// The simulator's model must flag what breaks the guarantees and nothing
// else: a torn transaction is a violation, a sector whose bytes another
// write could equally have put there proves nothing.
import t from 'tap';
import { DiskModel } from './model.ts';

const v = (byte: number) => Buffer.alloc(4096, byte);

t.test('a torn transaction is a violation', async (t) => {
  const model = new DiskModel();
  model.addUnknown({ id: 1, values: new Map([[0, v(1)], [4, v(2)]]), atomic: true });
  t.match(model.settle(new Map([[0, v(1)], [4, v(0)]])), [/transaction 1 is torn/]);
});

t.test('all or nothing of a transaction is fine', async (t) => {
  for (const observed of [new Map([[0, v(1)], [4, v(2)]]), new Map([[0, v(0)], [4, v(0)]])]) {
    const model = new DiskModel();
    model.addUnknown({ id: 1, values: new Map([[0, v(1)], [4, v(2)]]), atomic: true });
    t.same(model.settle(observed), []);
  }
});

t.test('bytes an earlier unknown write could have put there do not show the transaction', async (t) => {
  // Found by the soak: a plain write and a later transaction wrote the same bytes to sector 0.
  const model = new DiskModel();
  model.addUnknown({ id: 1, values: new Map([[0, v(7)], [1, v(8)]]), atomic: false });
  model.addUnknown({ id: 2, values: new Map([[0, v(7)], [4, v(9)]]), atomic: true });
  t.same(model.settle(new Map([[0, v(7)], [1, v(8)], [4, v(0)]])), []);
});

t.test('a value no write put there is a violation', async (t) => {
  const model = new DiskModel();
  model.ack(new Map([[3, v(5)]]));
  t.match(model.settle(new Map([[3, v(6)]])), [/sector 3/]);
});
