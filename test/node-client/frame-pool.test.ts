// The frame pool hands out exactly-sized frames, reuses only buffers given
// back (a frame no reply has answered is never reused), keeps small frames out
// of it, and bounds what it keeps.
import t from 'tap';
import { FramePool, pooledFrameBytesMin } from '../../array-manager/node-client/frame-pool.ts';

const big = pooledFrameBytesMin * 4;

t.test('a given-back buffer is reused for a frame it fits; one not given back never is', async (t) => {
  const pool = new FramePool(1 << 24);
  const a = pool.take(big);
  const b = pool.take(big);
  t.equal(a.length, big);
  t.not(a.buffer, b.buffer, 'two frames in flight have their own buffers');
  pool.give(a);
  const c = pool.take(big - 100);
  t.equal(c.length, big - 100, 'the view has the size asked for');
  t.equal(c.buffer, a.buffer, 'the answered frame is reused');
  const d = pool.take(big);
  t.not(d.buffer, b.buffer, 'the unanswered frame is not');
  t.not(d.buffer, a.buffer);
});

t.test('a spare more than twice the size asked for is left for a larger frame', async (t) => {
  const pool = new FramePool(1 << 24);
  const a = pool.take(big);
  pool.give(a);
  t.not(pool.take(pooledFrameBytesMin).buffer, a.buffer);
  t.equal(pool.take(big / 2).buffer, a.buffer);
});

t.test('small frames bypass the pool; the pool keeps at most its bound', async (t) => {
  const small = new FramePool(1 << 24);
  const s = small.take(pooledFrameBytesMin - 1);
  small.give(s);
  t.not(small.take(pooledFrameBytesMin - 1).buffer, s.buffer, 'small frames come from the shared slab, not the pool');
  const bounded = new FramePool(big + 1);
  const [x, y] = [bounded.take(big), bounded.take(big)];
  bounded.give(x);
  bounded.give(y);
  const [p, q] = [bounded.take(big), bounded.take(big)];
  t.equal(p.buffer, x.buffer, 'the first buffer given back is kept');
  t.not(q.buffer, y.buffer, 'the second would exceed the bound and was dropped');
});
