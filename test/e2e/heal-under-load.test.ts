// Self-healing end to end, with real processes and a stock client: a k=4 m=2
// array of `teearray disk-node` processes served over NBD, a Healer with one
// hot spare (another disk-node process). fio (nbd engine) writes with
// checksummed blocks (verify=crc32c) while one node is SIGKILLed: the array
// declares the slot dead after its death window, the spare takes the slot and
// is rebuilt while fio keeps writing and verifying. Then m other original
// nodes are killed and fio verifies every block it wrote, through NBD.
//
// The manager runs in the test's process on the library API (attested
// connector, createArray, Healer, startNbdServer), not the CLI.
import t from 'tap';
import { ArrayBlockDevice } from '../../array-manager/array-block-device.ts';
import type { ArrayEvent } from '../../array-manager/array-state.ts';
import { Healer } from '../../array-manager/healing/healer.ts';
import { startNbdServer } from '../../array-manager/nbd/nbd-server.ts';
import { notBuilt } from '../cli/cli-process.ts';
import { has, run } from '../nbd/child-process.ts';
import { startFleet, until } from './node-fleet.ts';

const k = 4;
const m = 2;
const n = k + m;
const nodeMib = 8;
const deathWindowMs = 1000;
const missing = ['fio'].filter((x) => !has(x));
const skip = notBuilt || (missing.length ? `not installed: ${missing.join(', ')}` : false);

/**
 * fio jobs over NBD, both checksummed and verified after they write: 4 KiB
 * random writes at queue depth 16 over the first 4 MiB, 1 MiB sequential
 * writes at depth 2 over the next 12 MiB. `seed` fixes the random offsets and
 * the data, so `verifyOnly` later checks exactly what this run wrote.
 */
function fioArgs(uri: string, seed: number, verifyOnly = false): string[] {
  const common = ['--ioengine=nbd', `--uri=${uri}`, '--verify=crc32c', '--verify_fatal=1', '--do_verify=1', '--randrepeat=1', `--randseed=${seed}`, '--verify_state_save=0', '--output-format=json'];
  return [
    ...common,
    ...(verifyOnly ? ['--verify_only'] : []),
    '--name=rand4k', '--rw=randwrite', '--bs=4k', '--iodepth=16', '--offset=0', '--size=4m',
    '--name=seq1m', '--rw=write', '--bs=1m', '--iodepth=2', '--offset=4m', '--size=12m',
  ];
}

interface FioSummary {
  code: number;
  writtenMiB: number;
  readMiB: number;
  errors: number;
  stderr: string;
}

async function fio(args: string[]): Promise<FioSummary> {
  const r = await run('fio', args, 60_000);
  let writtenMiB = 0;
  let readMiB = 0;
  let errors = 0;
  try {
    const jobs = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).jobs as { error: number; write: { io_bytes: number }; read: { io_bytes: number } }[];
    for (const j of jobs) {
      writtenMiB += j.write.io_bytes / (1 << 20);
      readMiB += j.read.io_bytes / (1 << 20);
      errors += j.error;
    }
  } catch {
    errors++;
  }
  return { code: r.code, writtenMiB, readMiB, errors, stderr: r.stderr.slice(-2000) };
}

t.test('fio over NBD while a node dies: the hot spare takes the slot under load, then m more die and every block verifies', { skip, timeout: 240_000 }, async (t) => {
  const started = Date.now();
  const fleet = await startFleet({ k, m, nodeMib, health: { deathWindowMs }, spares: 1 });
  t.teardown(() => fleet.stop());
  const { disk } = fleet;
  const events: ArrayEvent[] = [];
  disk.state.listeners.add((e) => events.push(e));
  const healer = new Healer(disk, { spares: [fleet.spares[0].endpoint], rebuild: { stripesPerBatch: 128, checkpointMs: 500 }, retryMs: 100 });
  healer.start();
  t.teardown(() => healer.stop());
  const server = await startNbdServer({ host: '127.0.0.1', port: 0, exports: new ArrayBlockDevice(disk) });
  t.teardown(() => server.close());
  const uri = `nbd://127.0.0.1:${server.address.port}/`;

  // Writers: fio runs back to back (each writes its region, then reads it back and checks every block) until the
  // rebuild is done; the node dies during the first.
  const victim = 2;
  const runs: FioSummary[] = [];
  let seed = 1;
  let rebuilt = false;
  disk.state.listeners.add((e) => void (e.kind === 'rebuild-done' && e.slot === victim && (rebuilt = true)));
  const writer = (async () => {
    while (runs.length < 2 || !rebuilt) {
      runs.push(await fio(fioArgs(uri, seed)));
      if (runs.at(-1)!.code !== 0 || Date.now() - started > 70_000) return;
      seed++;
    }
    seed--; // the seed of the last run: what the disk holds
  })();
  await until(() => disk.state.counters.bytesWritten >= 2 << 20, 'fio to write 2 MiB', 30_000);
  const killedAt = Date.now();
  fleet.kill(victim);
  t.equal(runs.length, 0, 'the node dies while the first fio run is under way');
  await until(() => rebuilt, 'the spare to take the slot and be rebuilt', 60_000);
  const rebuiltAt = Date.now();
  await writer;
  const replacedEvent = events.find((e) => e.kind === 'slot-replaced');
  t.ok(replacedEvent?.slot === victim && replacedEvent.reason.includes(fleet.spares[0].endpoint), `the spare took slot ${victim}: ${replacedEvent?.reason}`);
  t.same(healer.spares, [], 'the spare was used');
  t.same(disk.state.liveSlots(), [...Array(n).keys()], 'every slot live after the rebuild');
  const deaths = events.filter((e) => e.kind === 'slot-dead');
  t.same(deaths.map((e) => e.slot), [victim], 'exactly the killed slot died');
  t.ok(runs.length >= 2, `${runs.length} fio runs`);
  for (const [i, r] of runs.entries()) {
    t.equal(r.code, 0, `fio run ${i + 1} wrote ${r.writtenMiB.toFixed(0)} MiB and verified ${r.readMiB.toFixed(0)} MiB ${r.stderr}`);
    t.equal(r.errors, 0, `fio run ${i + 1}: no errors`);
  }
  t.ok(runs.some((r) => r.writtenMiB >= 16 && r.readMiB >= 16), 'a run wrote and verified its whole 16 MiB');

  // m more of the original nodes die; fio verifies every block of the last run through NBD.
  const others = [0, 1, 3, 4, 5].filter((s) => s !== victim).slice(0, m);
  for (const slot of others) fleet.kill(slot);
  disk.state.rows.clear();
  disk.state.tables.clear();
  const check = await fio(fioArgs(uri, seed, true));
  t.equal(check.code, 0, `fio verify_only with slots ${others.join(', ')} killed too: ${check.readMiB.toFixed(0)} MiB verified ${check.stderr}`);
  t.ok(check.readMiB >= 16, 'every block of the last run read back');
  t.equal(check.errors, 0, 'no verify errors');
  t.comment(`heal under load: killed at +${killedAt - started} ms, rebuilt ${rebuiltAt - killedAt} ms later; ${runs.length} fio runs; total ${Date.now() - started} ms`);
});
