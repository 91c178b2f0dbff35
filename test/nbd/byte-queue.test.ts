// ByteQueue against the plain concatenation of what was pushed, for random
// chunkings and random take/peek/skip sequences; PayloadPool reuse and bound.

import t from 'tap';
import fc from 'fast-check';
import { ByteQueue } from '../../array-manager/nbd/byte-queue.ts';
import { PayloadPool } from '../../array-manager/nbd/payload-pool.ts';

t.test('ByteQueue hands out exactly the pushed bytes, in order', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }),
      fc.array(fc.record({ kind: fc.constantFrom('take', 'peek', 'skip', 'takeInto'), n: fc.nat({ max: 60 }) }), { maxLength: 30 }),
      (chunks, ops) => {
        const q = new ByteQueue();
        for (const c of chunks) q.push(c);
        const all = Buffer.concat(chunks);
        let at = 0;
        for (const { kind, n } of ops) {
          const k = Math.min(n, all.byteLength - at);
          if (q.length !== all.byteLength - at) return false;
          const want = all.subarray(at, at + k);
          if (kind === 'skip') {
            q.skip(k);
          } else {
            const got = kind === 'peek' ? q.peek(k) : kind === 'take' ? q.take(k) : q.take(k, (m) => new Uint8Array(m));
            if (Buffer.compare(got, want) !== 0) return false;
          }
          if (kind !== 'peek') at += k;
        }
        return q.length === all.byteLength - at;
      },
    ),
  );
  const q = new ByteQueue();
  q.push(new Uint8Array([1, 2]));
  t.throws(() => q.take(3), 'cannot take more than is queued');
  t.throws(() => q.skip(3));
  q.clear();
  t.equal(q.length, 0);
});

t.test('PayloadPool reuses released buffers up to its bound', async (t) => {
  const pool = new PayloadPool(3 << 20);
  const a = pool.allocate(1 << 20);
  t.equal(a.byteLength, 1 << 20);
  pool.release(a);
  const b = pool.allocate((1 << 20) - 5);
  t.equal(b.buffer, a.buffer, 'same size class reused');
  t.equal(b.byteLength, (1 << 20) - 5);
  const c = pool.allocate(100);
  t.equal(c.buffer.byteLength, 64 * 1024, 'smallest class');
  const big = [pool.allocate(2 << 20), pool.allocate(2 << 20)];
  for (const x of big) pool.release(x);
  t.equal(pool.allocate(2 << 20).buffer, big[0].buffer, 'first fits the bound and is kept');
  t.not(pool.allocate(2 << 20).buffer, big[1].buffer, 'second exceeded the bound and was dropped');
});
