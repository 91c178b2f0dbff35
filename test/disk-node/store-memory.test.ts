// disk-node/store.ts says the store's chunks are "zero-filled, so every page
// is really committed" at start. On Linux, Buffer.alloc of a large size gets
// zeroed pages the kernel maps lazily: the resident size does not grow until
// a sector is first written. A node launched with more sectors than the host
// can hold therefore starts, attests, and is killed by the OOM killer on a
// later write instead of refusing at launch with E_STORE_ALLOC.
// Marked todo until the store touches (writes) every page at construction.
import t from 'tap';
import { SectorStore } from '../../disk-node/store.ts';

const storeBytes = 64 * 1024 * 1024;

t.test('a new store holds its sector memory resident', async (t) => {
  const before = process.memoryUsage().rss;
  const store = new SectorStore(4096, storeBytes / 4096);
  const grown = process.memoryUsage().rss - before;
  t.ok(grown >= storeBytes * 0.9, `resident size grew by ${grown >> 20} MiB for a ${storeBytes >> 20} MiB store`, {
    todo: 'disk-node/store.ts constructor: Buffer.alloc does not commit pages; write each chunk (e.g. chunk.fill(0)) after allocating',
  });
  t.equal(store.chunks.length, 1);
});
