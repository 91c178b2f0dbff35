// Worker-thread side of crypto-pool.ts: seals or opens one share of a batch
// in the shared arena it was given, in place, and answers with one message.
//
// Trusts: its parent (the pool) for the arena layout and job sizes.
// Secrets: the sector keys live in the pool's shared key buffer, which the
// pool zeroes on close(); this thread keeps no other copy.
import assert from 'node:assert/strict';
import { parentPort, workerData } from 'node:worker_threads';
import { arenaViews, runShare, sharedSectorKeys, type PoolJob, type WorkerSetup } from './crypto-pool-share.ts';

const setup = workerData as WorkerSetup;
const keys = sharedSectorKeys(setup.keys);
const arena = arenaViews(setup.arena, setup.shareSectorsMax);
const port = parentPort;
assert(port, 'crypto-worker runs only as a worker thread');

port.on('message', (job: PoolJob) => {
  const { data, entries, indices } = arena.slice(job.count);
  port.postMessage(runShare(keys, job.op, indices, data, entries, data));
});
