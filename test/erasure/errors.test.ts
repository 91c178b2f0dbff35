// Bad arguments are refused with typed ErasureErrors naming the field.
import tap from 'tap';
import { createErasureCode } from '../../array-manager/erasure/erasure-code.ts';
import { ErasureError } from '../../array-manager/erasure/errors.ts';
import { shardBytesMax } from '../../array-manager/erasure/limits.ts';

function bad(t: Pick<typeof tap, 'ok' | 'equal' | 'match'>, fn: () => unknown, code: string, field: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof ErasureError, `${code} ${field}: throws an ErasureError`);
  t.equal((caught as ErasureError).code, code);
  t.match((caught as ErasureError).message, field);
}

tap.test('geometry and shard size', async (t) => {
  bad(t, () => createErasureCode({ k: 0, m: 2, shardBytes: 512 }), 'E_GEOMETRY', /^E_GEOMETRY: k /);
  bad(t, () => createErasureCode({ k: 2.5, m: 2, shardBytes: 512 }), 'E_GEOMETRY', /k /);
  bad(t, () => createErasureCode({ k: 4, m: 0, shardBytes: 512 }), 'E_GEOMETRY', /m /);
  bad(t, () => createErasureCode({ k: 200, m: 57, shardBytes: 512 }), 'E_GEOMETRY', /k \+ m must be <= 256/);
  bad(t, () => createErasureCode({ k: 4, m: 2, shardBytes: 4000 }), 'E_SHARD_SIZE', /shardBytes/);
  bad(t, () => createErasureCode({ k: 4, m: 2, shardBytes: 0 }), 'E_SHARD_SIZE', /shardBytes/);
  bad(t, () => createErasureCode({ k: 4, m: 2, shardBytes: shardBytesMax + 512 }), 'E_SHARD_SIZE', /shardBytes/);
  bad(t, () => createErasureCode({ k: 4, m: 2, shardBytes: 512, arenaStripes: -1 }), 'E_ARENA', /arenaStripes/);
  bad(t, () => createErasureCode({ k: 4, m: 2, shardBytes: 512, engine: 'gpu' as 'js' }), 'E_ENGINE', /engine/);
  bad(t, () => createErasureCode({ k: 128, m: 128, shardBytes: shardBytesMax, arenaStripes: 8 }), 'E_ARENA', /exceeds engineMemoryBytesMax/);
  t.doesNotThrow(() => createErasureCode({ k: 128, m: 128, shardBytes: 512 }), 'k + m = 256 is allowed');
});

tap.test('shard lists, lengths, indices and presence', async (t) => {
  const code = createErasureCode({ k: 4, m: 2, shardBytes: 512 });
  const shard = (n = 512): Uint8Array => new Uint8Array(n);
  const data = [shard(), shard(), shard(), shard()];
  const parity = [shard(), shard()];
  bad(t, () => code.encode(data.slice(0, 3), parity), 'E_SHARD_COUNT', /^E_SHARD_COUNT: data /);
  bad(t, () => code.encode(data, [shard()]), 'E_SHARD_COUNT', /parity /);
  bad(t, () => code.encode([shard(), shard(511), shard(), shard()], parity), 'E_SHARD_LENGTH', /data\[1\]/);
  bad(t, () => code.encode(data, [shard(), 'x' as unknown as Uint8Array]), 'E_SHARD_LENGTH', /parity\[1\]/);
  const stripe = [...data, ...parity];
  bad(t, () => code.reconstruct(stripe, [true, true, true]), 'E_SHARD_COUNT', /present/);
  bad(t, () => code.reconstruct(stripe, [false, false, false, true, true, true]), 'E_TOO_MANY_MISSING', /3 shards missing/);
  bad(t, () => code.reconstruct(stripe, [1, 1, 1, 1, 1, 1] as unknown as boolean[]), 'E_SHARD_COUNT', /present\[0\]/);
  bad(t, () => code.reconstruct([...stripe.slice(0, 5), shard(1024)], [true, true, true, true, true, false]), 'E_SHARD_LENGTH', /shards\[5\]/);
  bad(t, () => code.verify(stripe.slice(1)), 'E_SHARD_COUNT', /stripe/);
  bad(t, () => code.updateParity(parity, 4, shard(), shard()), 'E_SHARD_INDEX', /index/);
  bad(t, () => code.updateParity(parity, -1, shard(), shard()), 'E_SHARD_INDEX', /index/);
  bad(t, () => code.updateParity(parity, 0, shard(12), shard()), 'E_SHARD_LENGTH', /oldData/);
  bad(t, () => code.updateParity(parity, 0, shard(), shard(12)), 'E_SHARD_LENGTH', /newData/);
  bad(t, () => code.updateParity([shard()], 0, shard(), shard()), 'E_SHARD_COUNT', /parity/);
});
