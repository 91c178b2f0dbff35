// The store commits its sector memory at construction: a node launched with
// more sectors than the host can hold must fail at launch (E_STORE_ALLOC or
// the OOM killer, before it attests), not on some later write. Linux maps
// Buffer.alloc's zero pages lazily, so the store writes every byte first.
import t from 'tap';
import { SectorStore } from '../../disk-node/store.ts';

const storeBytes = 64 * 1024 * 1024;

t.test('a new store holds its sector memory resident', async (t) => {
  const before = process.memoryUsage().rss;
  const store = new SectorStore(4096, storeBytes / 4096);
  const grown = process.memoryUsage().rss - before;
  t.ok(grown >= storeBytes * 0.9, `resident size grew by ${grown >> 20} MiB for a ${storeBytes >> 20} MiB store`);
  t.equal(store.chunks.length, 1);
});
