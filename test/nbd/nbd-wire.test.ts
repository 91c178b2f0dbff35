// The NBD wire codec: known-answer bytes written out by hand from proto.md,
// fast-check round trips of every encoder/decoder pair, and negative cases
// (bad magic, truncation, lengths that disagree, bad strings).

import t, { type Test } from 'tap';
import fc from 'fast-check';
import * as wire from '../../array-manager/nbd/nbd-wire.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const u32 = fc.nat({ max: 0xffffffff });
const u16 = fc.nat({ max: 0xffff });
const name = fc.string({ maxLength: 64 }).filter((s) => !s.includes('\0'));

function throwsCode(t: Test, fn: () => unknown, code: string): void {
  t.throws(fn, { name: 'NbdWireError', code }, code);
}

t.test('known answers (proto.md byte layouts)', async (t) => {
  // "NBDMAGIC" "IHAVEOPT" then handshake flags FIXED_NEWSTYLE|NO_ZEROES = 0x0003.
  t.equal(hex(wire.encodeGreeting(3)), Buffer.from('NBDMAGICIHAVEOPT').toString('hex') + '0003');
  // Request: magic 25609513, flags 0001 (FUA), type 0001 (WRITE), handle, offset 4096, length 512.
  t.equal(
    hex(wire.encodeRequestHeader({ flags: 1, type: 1, handle: 0x0102030405060708n, offset: 4096n, length: 512 })),
    '25609513' + '0001' + '0001' + '0102030405060708' + '0000000000001000' + '00000200',
  );
  // Simple reply: magic 67446698, error 22 (EINVAL), handle.
  t.equal(hex(wire.encodeSimpleReply(22, 0xffn)), '67446698' + '00000016' + '00000000000000ff');
  // Option reply: magic 0003e889045565a9, option 7 (GO), type 1 (ACK), length 0.
  t.equal(hex(wire.encodeOptionReply(7, wire.NBD_REP_ACK)), '0003e889045565a9' + '00000007' + '00000001' + '00000000');
  // NBD_INFO_EXPORT: type 0, size 1 MiB, flags 0x0001; length 12.
  t.equal(hex(wire.encodeInfoExport(1 << 20, 1)), '0000' + '0000000000100000' + '0001');
  // NBD_INFO_BLOCK_SIZE: type 3, 512, 4096, 32 MiB; length 14.
  t.equal(
    hex(wire.encodeInfoBlockSize({ minimumBytes: 512, preferredBytes: 4096, maximumBytes: 1 << 25 })),
    '0003' + '00000200' + '00001000' + '02000000',
  );
  // Final OFFSET_DATA chunk: magic 668e33ef, flags 0001 (DONE), type 0001, handle, length 8+4096, offset.
  t.equal(hex(wire.encodeReadChunkHeader(9n, 8192n, 4096)), '668e33ef' + '0001' + '0001' + '0000000000000009' + '00001008' + '0000000000002000');
  // Error chunk: type 0x8001, length 6+2, error 5 (EIO), message length 2, "no".
  t.equal(hex(wire.encodeStructuredError(1n, 5, 'no')), '668e33ef' + '0001' + '8001' + '0000000000000001' + '00000008' + '00000005' + '0002' + '6e6f');
  // Export-name reply without and with the 124 zero bytes.
  t.equal(wire.encodeExportNameReply(4096, 1, true).byteLength, 10);
  t.equal(wire.encodeExportNameReply(4096, 1, false).byteLength, 134);
  // Info request for "" asking NBD_INFO_BLOCK_SIZE: name length 0, count 1, item 3.
  t.same(wire.decodeInfoRequest(Buffer.from('00000000' + '0001' + '0003', 'hex')), { name: '', infos: [3] });
});

t.test('round trips', async (t) => {
  fc.assert(
    fc.property(u16, u16, u64, u64, u32, (flags, type, handle, offset, length) => {
      const r = { flags, type, handle, offset, length };
      t.same(wire.decodeRequestHeader(wire.encodeRequestHeader(r)), r);
    }),
  );
  fc.assert(
    fc.property(u32, u64, (error, handle) => {
      t.same(wire.decodeSimpleReply(wire.encodeSimpleReply(error, handle)), { error, handle });
    }),
  );
  fc.assert(
    fc.property(u16, u16, u64, u32, (flags, type, handle, length) => {
      const h = { flags, type, handle, length };
      t.same(wire.decodeStructuredReplyHeader(wire.encodeStructuredReplyHeader(h)), h);
    }),
  );
  fc.assert(
    fc.property(u32, u32, (option, length) => {
      t.same(wire.decodeOptionHeader(wire.encodeOptionHeader({ option, length })), { option, length });
    }),
  );
  fc.assert(
    fc.property(name, fc.uniqueArray(u16, { maxLength: 8 }), (n, infos) => {
      t.same(wire.decodeInfoRequest(wire.encodeInfoRequest({ name: n, infos })), { name: n, infos });
    }),
  );
  fc.assert(
    fc.property(u32, u32, fc.uint8Array({ maxLength: 64 }), (option, type, payload) => {
      const bytes = wire.encodeOptionReply(option, type, payload);
      t.same(wire.decodeOptionReplyHeader(bytes), { option, type, length: payload.byteLength });
      t.same(bytes.subarray(wire.optionReplyHeaderBytes), payload);
    }),
  );
  fc.assert(
    fc.property(name, (n) => {
      t.equal(wire.decodeServerEntry(wire.encodeServerEntry(n)), n);
      t.same(wire.decodeInfoReply(wire.encodeInfoName(n)), { info: wire.NBD_INFO_NAME, name: n });
    }),
  );
  fc.assert(
    fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), u16, (size, flags) => {
      t.same(wire.decodeInfoReply(wire.encodeInfoExport(size, flags)), {
        info: wire.NBD_INFO_EXPORT,
        sizeBytes: BigInt(size),
        transmissionFlags: flags,
      });
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 0xffffffff }), fc.string({ maxLength: 100 }).filter((s) => !s.includes('\0')), u64, (error, message, handle) => {
      const bytes = wire.encodeStructuredError(handle, error, message);
      const header = wire.decodeStructuredReplyHeader(bytes);
      t.equal(header.type, wire.NBD_REPLY_TYPE_ERROR);
      t.equal(header.length, bytes.byteLength - wire.structuredReplyHeaderBytes);
      t.same(wire.decodeStructuredError(bytes.subarray(wire.structuredReplyHeaderBytes)), { error, message });
    }),
  );
});

t.test('negative cases', async (t) => {
  const request = wire.encodeRequestHeader({ flags: 0, type: 0, handle: 1n, offset: 0n, length: 4096 });
  const badMagic = request.slice();
  badMagic[0] ^= 1;
  throwsCode(t, () => wire.decodeRequestHeader(badMagic), 'E_NBD_MAGIC');
  throwsCode(t, () => wire.decodeRequestHeader(request.subarray(0, 27)), 'E_NBD_TRUNCATED');
  throwsCode(t, () => wire.decodeOptionHeader(new Uint8Array(16)), 'E_NBD_MAGIC');
  throwsCode(t, () => wire.decodeOptionHeader(wire.encodeOptionHeader({ option: 1, length: 0 }).subarray(0, 15)), 'E_NBD_TRUNCATED');
  throwsCode(t, () => wire.decodeGreeting(new Uint8Array(18)), 'E_NBD_MAGIC');
  throwsCode(t, () => wire.decodeSimpleReply(new Uint8Array(16)), 'E_NBD_MAGIC');
  throwsCode(t, () => wire.decodeStructuredReplyHeader(new Uint8Array(20)), 'E_NBD_MAGIC');
  throwsCode(t, () => wire.decodeOptionReplyHeader(new Uint8Array(20)), 'E_NBD_MAGIC');
  throwsCode(t, () => wire.decodeClientFlags(new Uint8Array(3)), 'E_NBD_TRUNCATED');

  // Info requests: too short, name length past the end, item count disagreeing with the length.
  throwsCode(t, () => wire.decodeInfoRequest(new Uint8Array(5)), 'E_NBD_TRUNCATED');
  throwsCode(t, () => wire.decodeInfoRequest(Buffer.from('00000001' + '0000', 'hex')), 'E_NBD_LENGTH');
  throwsCode(t, () => wire.decodeInfoRequest(Buffer.from('00000000' + '0002' + '0003', 'hex')), 'E_NBD_LENGTH');
  throwsCode(t, () => wire.decodeInfoRequest(Buffer.from('00000000' + '0000' + '00', 'hex')), 'E_NBD_LENGTH');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      // Any bytes either decode to a request that re-encodes to them, or fail with a typed error.
      try {
        const r = wire.decodeInfoRequest(bytes);
        t.same(wire.encodeInfoRequest(r), bytes);
      } catch (err) {
        t.ok(err instanceof wire.NbdWireError);
      }
    }),
  );

  // Strings: NUL, invalid UTF-8, longer than 4096 bytes.
  throwsCode(t, () => wire.decodeString(Buffer.from('a\0b'), 'name'), 'E_NBD_STRING');
  throwsCode(t, () => wire.decodeString(Buffer.from([0xc3, 0x28]), 'name'), 'E_NBD_STRING');
  throwsCode(t, () => wire.decodeString(new Uint8Array(4097).fill(0x61), 'name'), 'E_NBD_STRING');
  t.equal(wire.decodeString(new Uint8Array(4096).fill(0x61), 'name').length, 4096);

  // Reply-side decoders used by clients.
  throwsCode(t, () => wire.decodeInfoReply(wire.encodeInfoExport(1, 1).subarray(0, 11)), 'E_NBD_LENGTH');
  throwsCode(t, () => wire.decodeServerEntry(Buffer.from('00000005' + '6161', 'hex')), 'E_NBD_LENGTH');
  throwsCode(t, () => wire.decodeStructuredError(Buffer.from('00000005' + '0009' + '6161', 'hex')), 'E_NBD_LENGTH');
  t.same(wire.decodeInfoReply(Buffer.from('0002' + '6161', 'hex')), { info: 'other', type: 2 });

  // Our own encoders refuse values outside the protocol's bounds.
  t.throws(() => wire.encodeReadChunkHeader(1n, 0n, 0));
  t.throws(() => wire.encodeStructuredError(1n, 0, 'x'));
  t.throws(() => wire.encodeString('a'.repeat(4097)));
});
