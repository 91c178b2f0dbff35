// The handshake state machine without sockets: every option, the replies'
// exact shape, byte-at-a-time delivery, and the ways a client can make the
// server hang up (unknown flags, oversized options, too many options, bad
// magic, unknown export with EXPORT_NAME).

import t from 'tap';
import fc from 'fast-check';
import { ByteQueue } from '../../array-manager/nbd/byte-queue.ts';
import { MemoryDevice } from '../../array-manager/nbd/memory-device.ts';
import { NbdHandshake, type HandshakeResult } from '../../array-manager/nbd/nbd-handshake.ts';
import { defaultNbdLimits } from '../../array-manager/nbd/nbd-limits.ts';
import * as wire from '../../array-manager/nbd/nbd-wire.ts';

const disk = new MemoryDevice({ sizeBytes: 1 << 20 });
const other = new MemoryDevice({ sizeBytes: 1 << 16, blockBytes: 512, readOnly: true });
const exports = new Map([
  ['', disk],
  ['other', other],
]);
const limits = { ...defaultNbdLimits, optionDataBytesMax: 300, optionsPerHandshakeMax: 10 };

const option = (opt: number, data: Uint8Array = new Uint8Array(0)) =>
  Buffer.concat([wire.encodeOptionHeader({ option: opt, length: data.byteLength }), data]);
const clientFlags = wire.encodeClientFlags(wire.NBD_FLAG_C_FIXED_NEWSTYLE | wire.NBD_FLAG_C_NO_ZEROES);

interface Reply {
  option: number;
  type: number;
  payload: Uint8Array;
}

function run(bytes: Uint8Array, chunk = bytes.byteLength, optionReplies = true): { result: HandshakeResult; replies: Reply[]; raw: Buffer } {
  const hs = new NbdHandshake(exports, limits);
  t.same(wire.decodeGreeting(hs.greeting()), { handshakeFlags: 3 });
  const input = new ByteQueue();
  const output: Uint8Array[] = [];
  let result: HandshakeResult = { kind: 'more' };
  for (let at = 0; at < bytes.byteLength && result.kind === 'more'; at += chunk) {
    input.push(bytes.subarray(at, at + chunk));
    result = hs.advance(input, output);
  }
  const raw = Buffer.concat(output);
  const replies: Reply[] = [];
  for (let at = 0; optionReplies && at < raw.byteLength; ) {
    const h = wire.decodeOptionReplyHeader(raw.subarray(at));
    replies.push({ option: h.option, type: h.type, payload: raw.subarray(at + 20, at + 20 + h.length) });
    at += 20 + h.length;
  }
  return { result, replies, raw };
}

t.test('LIST, INFO, STRUCTURED_REPLY, then GO', async (t) => {
  const bytes = Buffer.concat([
    clientFlags,
    option(wire.NBD_OPT_LIST),
    option(wire.NBD_OPT_INFO, wire.encodeInfoRequest({ name: 'other', infos: [wire.NBD_INFO_BLOCK_SIZE, wire.NBD_INFO_NAME] })),
    option(wire.NBD_OPT_STRUCTURED_REPLY),
    option(wire.NBD_OPT_GO, wire.encodeInfoRequest({ name: '', infos: [] })),
  ]);
  for (const chunk of [bytes.byteLength, 1, 7]) {
    const { result, replies } = run(bytes, chunk);
    t.same(
      replies.map((r) => [r.option, r.type]),
      [
        [3, wire.NBD_REP_SERVER],
        [3, wire.NBD_REP_SERVER],
        [3, wire.NBD_REP_ACK],
        [6, wire.NBD_REP_INFO],
        [6, wire.NBD_REP_INFO],
        [6, wire.NBD_REP_INFO],
        [6, wire.NBD_REP_ACK],
        [8, wire.NBD_REP_ACK],
        [7, wire.NBD_REP_INFO],
        [7, wire.NBD_REP_INFO],
        [7, wire.NBD_REP_ACK],
      ],
      `chunk ${chunk}`,
    );
    t.same([replies[0], replies[1]].map((r) => wire.decodeServerEntry(r.payload)), ['', 'other']);
    const info = replies.slice(3, 6).map((r) => wire.decodeInfoReply(r.payload));
    t.same(info[0], {
      info: wire.NBD_INFO_EXPORT,
      sizeBytes: 1n << 16n,
      // HAS_FLAGS READ_ONLY FLUSH FUA TRIM WRITE_ZEROES MULTI_CONN FAST_ZERO; no SEND_DF before STRUCTURED_REPLY.
      transmissionFlags: 0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0020 | 0x0040 | 0x0100 | 0x0800,
    });
    t.same(info[1], { info: wire.NBD_INFO_BLOCK_SIZE, minimumBytes: 512, preferredBytes: 4096, maximumBytes: 1 << 25 });
    t.same(info[2], { info: wire.NBD_INFO_NAME, name: 'other' });
    t.equal(result.kind, 'transmit');
    if (result.kind === 'transmit') {
      t.equal(result.session.device, disk);
      t.equal(result.session.structuredReplies, true);
      t.equal(result.session.transmissionFlags & wire.NBD_FLAG_SEND_DF, wire.NBD_FLAG_SEND_DF, 'DF once structured');
      t.equal(result.session.transmissionFlags & wire.NBD_FLAG_READ_ONLY, 0);
    }
  }
});

t.test('EXPORT_NAME with and without NO_ZEROES', async (t) => {
  for (const [flags, length] of [
    [wire.NBD_FLAG_C_FIXED_NEWSTYLE | wire.NBD_FLAG_C_NO_ZEROES, 10],
    [wire.NBD_FLAG_C_FIXED_NEWSTYLE, 134],
    [0, 134], // old (non-fixed) newstyle client
  ]) {
    const { result, raw } = run(Buffer.concat([wire.encodeClientFlags(flags), option(wire.NBD_OPT_EXPORT_NAME, Buffer.from('other'))]), undefined, false);
    t.equal(result.kind, 'transmit');
    t.equal(raw.byteLength, length);
    t.equal(raw.readBigUInt64BE(0), 1n << 16n);
    t.equal(raw.readUInt16BE(8) & wire.NBD_FLAG_READ_ONLY, wire.NBD_FLAG_READ_ONLY);
    if (result.kind === 'transmit') t.equal(result.session.structuredReplies, false);
  }
  const unknown = run(Buffer.concat([clientFlags, option(wire.NBD_OPT_EXPORT_NAME, Buffer.from('nope'))]));
  t.equal(unknown.result.kind, 'close', 'EXPORT_NAME cannot return an error: hang up');
  t.equal(unknown.raw.byteLength, 0);
});

t.test('errors that keep the handshake going', async (t) => {
  const cases: [Buffer, number][] = [
    [option(wire.NBD_OPT_GO, wire.encodeInfoRequest({ name: 'nope', infos: [] })), wire.NBD_REP_ERR_UNKNOWN],
    [option(wire.NBD_OPT_INFO, Buffer.from('0000000500', 'hex')), wire.NBD_REP_ERR_INVALID],
    [option(wire.NBD_OPT_GO, Buffer.from('00000000000100', 'hex')), wire.NBD_REP_ERR_INVALID],
    [option(wire.NBD_OPT_LIST, Buffer.from('x')), wire.NBD_REP_ERR_INVALID],
    [option(wire.NBD_OPT_STRUCTURED_REPLY, Buffer.from('x')), wire.NBD_REP_ERR_INVALID],
    [option(wire.NBD_OPT_STARTTLS), wire.NBD_REP_ERR_UNSUP],
    [option(wire.NBD_OPT_LIST_META_CONTEXT, Buffer.alloc(8)), wire.NBD_REP_ERR_UNSUP],
    [option(wire.NBD_OPT_SET_META_CONTEXT, Buffer.alloc(8)), wire.NBD_REP_ERR_UNSUP],
    [option(wire.NBD_OPT_EXTENDED_HEADERS), wire.NBD_REP_ERR_UNSUP],
    [option(wire.NBD_OPT_PEEK_EXPORT), wire.NBD_REP_ERR_UNSUP],
    [option(0xdeadbeef, Buffer.alloc(100)), wire.NBD_REP_ERR_UNSUP],
  ];
  for (const [bytes, type] of cases) {
    const { result, replies } = run(Buffer.concat([clientFlags, bytes, option(wire.NBD_OPT_GO, wire.encodeInfoRequest({ name: '', infos: [] }))]));
    t.equal(replies[0].type, type, `option ${replies[0].option}`);
    t.ok(replies[0].payload.byteLength > 0, 'error carries a message');
    t.equal(result.kind, 'transmit', 'a following GO still works');
  }
});

t.test('ABORT is acknowledged, then the server hangs up', async (t) => {
  const { result, replies } = run(Buffer.concat([clientFlags, option(wire.NBD_OPT_ABORT, Buffer.from('ignored'))]));
  t.same(replies.map((r) => r.type), [wire.NBD_REP_ACK]);
  t.equal(result.kind, 'close');
});

t.test('hang-ups: unknown client flags, bad magic, oversized option, too many options', async (t) => {
  t.equal(run(wire.encodeClientFlags(4)).result.kind, 'close');
  t.equal(run(Buffer.concat([clientFlags, Buffer.alloc(16)])).result.kind, 'close');
  const big = run(Buffer.concat([clientFlags, wire.encodeOptionHeader({ option: wire.NBD_OPT_GO, length: 301 })]));
  t.equal(big.result.kind, 'close', 'decided from the header, before the data arrives');
  const huge = run(Buffer.concat([clientFlags, wire.encodeOptionHeader({ option: 1, length: 0xffffffff })]));
  t.equal(huge.result.kind, 'close');
  const many = run(Buffer.concat([clientFlags, ...Array.from({ length: 11 }, () => option(wire.NBD_OPT_LIST))]));
  t.equal(many.result.kind, 'close');
  t.equal(many.replies.filter((r) => r.type === wire.NBD_REP_ACK).length, 10);
});

t.test('arbitrary bytes never throw and never produce a reply without a request', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 50 }), (bytes, chunk) => {
      const { result } = run(Buffer.concat([clientFlags, bytes]), chunk);
      return ['more', 'close', 'transmit'].includes(result.kind);
    }),
  );
});
