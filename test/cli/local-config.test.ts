// The array.json `teearray local` writes records its --crypto-workers
// setting, so that `teearray array open` and `teearray nbd` from that file
// run with the same crypto threads as the local manager.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadArrayConfig } from '../../cli/array-config.ts';
import { writeLocalConfig } from '../../cli/local-config.ts';

t.test('array.json keeps cryptoWorkers as given, a count or auto', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-local-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const cryptoWorkers of [3, 0, 'auto'] as const) {
    const path = await writeLocalConfig({
      dir,
      k: 2,
      m: 1,
      nodes: ['ws://127.0.0.1:7001', 'ws://127.0.0.1:7002', 'ws://127.0.0.1:7003'],
      spares: [],
      nbd: [{ kind: 'unix', path: join(dir, 'nbd.sock'), mode: 0o600, tls: null }],
      pskFile: null,
      adminPort: 10810,
      deathWindowSeconds: 30,
      probeSeconds: 2,
      cryptoWorkers,
    });
    t.equal((await loadArrayConfig(path)).cryptoWorkers, cryptoWorkers, `--crypto-workers ${cryptoWorkers}`);
  }
});
