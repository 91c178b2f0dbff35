// Backpressure in the node's WebSocket shell (disk-node/main.ts): a manager
// that sends READ batches (the session's signed open frame, then MACed ones)
// faster than it reads the replies does not
// make the node queue replies without bound. With the client's socket paused,
// the node executes batches only until about replyQueueBytesMax of replies
// (plus the kernel's socket buffers) wait to be sent, then stops reading;
// once the client reads again, every batch is answered, in order, under the
// session's reply MAC.
//
// The node pauses the WebSocket (not only the raw socket, which ws would
// resume on its own) and holds frames ws had already read unexecuted until
// the replies drain, so the bound holds also when many requests arrive in one
// socket read.
import t from 'tap';
import WebSocket from 'ws';
import { decodeHello, decodeReply, encodeRequest, type Command } from '../../array-manager/node-client/frame-codec.ts';
import { replyQueueBytesMax } from '../../disk-node/limits.ts';
import { startDiskNode } from '../../disk-node/main.ts';
import { Op, Status, sessionKeys } from '../../disk-node/wire.ts';
import { fakeProvider, managerKeys, replyAuthentic, sessionKeyPair } from './fixtures.ts';

const sectorBytes = 4096;
const readSectors = 1000;
const replyBytes = readSectors * sectorBytes;
// Four times the reply-queue bound: far more than the node may hold back.
const batches = Math.ceil((4 * replyQueueBytesMax) / replyBytes);

/** Polls `read` every 100 ms until it stays the same for 500 ms (at most `capMs`), and returns it. */
async function settled(read: () => bigint, capMs: number): Promise<bigint> {
  let last = read();
  let stableMs = 0;
  for (let waited = 0; waited < capMs && stableMs < 500; waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
    const now = read();
    stableMs = now === last ? stableMs + 100 : 0;
    last = now;
  }
  return last;
}

t.test('a manager that does not read its replies stalls its own session, not the node', { timeout: 30_000 }, async (t) => {
  const manager = managerKeys();
  const node = await startDiskNode({ config: { managerPublicKey: manager.publicRaw, sectorBytes, sectorCount: 1024 }, host: '127.0.0.1', port: 0 }, fakeProvider());
  t.teardown(() => node.close());
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}`, { perMessageDeflate: false });
  t.teardown(() => ws.terminate());
  const hello = decodeHello(await new Promise<Buffer>((resolve) => ws.once('message', resolve)));
  const own = sessionKeyPair();
  const keys = sessionKeys(own.privateKey, hello.instancePublicKey, { challenge: hello.challenge, managerSessionKey: own.publicRaw, instancePublicKey: hello.instancePublicKey });
  const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();
  const commands: Command[] = [{ op: Op.read, sector: 0, count: readSectors }];
  // Batch 1 opens the session (signed, carrying the manager's session key); every later one is MACed.
  ws.send(encodeRequest({ flags: 0, counter: 1n, opening: { session: hello.challenge, sessionKey: own.publicRaw } }, commands, { sign: manager.sign }).frame);
  for (let i = 2; i <= batches; i++) ws.send(encodeRequest({ flags: 0, counter: BigInt(i) }, commands, { key: keys.request }).frame);
  const executed = await settled(() => node.core.stats.batchesExecuted, 10_000);
  t.ok(executed >= 1n && executed < BigInt(batches), `${executed} of ${batches} batches executed while the manager read nothing`);
  t.ok(Number(executed) * replyBytes <= 2 * replyQueueBytesMax, 'replies held back stay within about the reply-queue bound');

  const counters: bigint[] = [];
  let unauthentic = 0;
  const all = new Promise<void>((resolve) => {
    ws.on('message', (frame: Buffer) => {
      const reply = decodeReply(frame, commands, sectorBytes);
      if (!replyAuthentic(keys.reply, frame)) unauthentic++;
      if (reply.batchStatus === Status.ok) counters.push(reply.counter);
      if (counters.length === batches) resolve();
    });
  });
  socket.resume();
  await all;
  t.same(counters, Array.from({ length: batches }, (_, i) => BigInt(i + 1)), 'every batch answered OK, in order, once the manager reads');
  t.equal(unauthentic, 0, "every reply carries the session's reply MAC");
  t.equal(node.core.stats.batchesExecuted, BigInt(batches), 'every batch executed once');
});
