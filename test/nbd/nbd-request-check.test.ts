// The request admission rules: a table of known answers taken from proto.md
// ("Error values", "Command flags", "Block size constraints"), and an
// exhaustive sweep over commands x flags x offsets x lengths checking the
// safety property the device relies on: anything admitted is known,
// documented, aligned and inside the export.

import t from 'tap';
import { MemoryDevice } from '../../array-manager/nbd/memory-device.ts';
import { blockSizesFor } from '../../array-manager/nbd/nbd-handshake.ts';
import { checkRequest } from '../../array-manager/nbd/nbd-request-check.ts';
import * as wire from '../../array-manager/nbd/nbd-wire.ts';

const size = 64 * 4096;
const payloadMax = 8 * 4096;
const device = new MemoryDevice({ sizeBytes: size });
const session = (over: Partial<{ structuredReplies: boolean; device: MemoryDevice }> = {}) => {
  const d = over.device ?? device;
  return { device: d, structuredReplies: over.structuredReplies ?? true, blockSizes: blockSizesFor(d, payloadMax) };
};
const req = (type: number, offset: number | bigint, length: number, flags = 0) => ({
  type,
  flags,
  handle: 7n,
  offset: BigInt(offset),
  length,
});
const errorOf = (r: ReturnType<typeof req>, s = session()) => checkRequest(r, s)?.error ?? 0;

t.test('known answers', async (t) => {
  const { NBD_EINVAL: EINVAL, NBD_ENOSPC: ENOSPC, NBD_EPERM: EPERM, NBD_ENOTSUP: ENOTSUP } = wire;
  const cases: [string, ReturnType<typeof req>, number, Parameters<typeof session>[0]?][] = [
    ['read ok', req(0, 0, 4096), 0],
    ['read last block', req(0, size - 4096, 4096), 0],
    ['read past end', req(0, size - 4096, 8192), EINVAL],
    ['read offset 2^63', req(0, 1n << 63n, 4096), EINVAL],
    ['read offset 2^64-4096 (no wrap-around)', req(0, (1n << 64n) - 4096n, 8192), EINVAL],
    ['read zero length', req(0, 0, 0), 0],
    ['read too long', req(0, 0, payloadMax + 4096), EINVAL],
    ['read unaligned offset', req(0, 512, 4096), EINVAL],
    ['read unaligned length', req(0, 0, 100), EINVAL],
    ['read with FUA is accepted', req(0, 0, 4096, wire.NBD_CMD_FLAG_FUA), 0],
    ['read with DF, structured', req(0, 0, 4096, wire.NBD_CMD_FLAG_DF), 0],
    ['read with DF, simple', req(0, 0, 4096, wire.NBD_CMD_FLAG_DF), EINVAL, { structuredReplies: false }],
    ['read with NO_HOLE', req(0, 0, 4096, wire.NBD_CMD_FLAG_NO_HOLE), EINVAL],
    ['write past end', req(1, size, 4096), ENOSPC],
    ['write too long', req(1, 0, payloadMax + 4096), EINVAL],
    ['write FUA', req(1, 0, 4096, wire.NBD_CMD_FLAG_FUA), 0],
    ['write DF', req(1, 0, 4096, wire.NBD_CMD_FLAG_DF), EINVAL],
    ['write unknown flag bit 15', req(1, 0, 4096, 0x8000), EINVAL],
    ['flush', req(3, 0, 0), 0],
    ['flush FUA', req(3, 0, 0, wire.NBD_CMD_FLAG_FUA), 0],
    ['flush nonzero length', req(3, 0, 4096), EINVAL],
    ['flush nonzero offset', req(3, 4096, 0), EINVAL],
    ['trim past end', req(4, size - 4096, 8192), EINVAL],
    ['trim longer than max payload', req(4, 0, size), 0],
    ['zeroes longer than max payload', req(6, 0, size), 0],
    ['zeroes past end', req(6, 4096, size), ENOSPC],
    ['zeroes NO_HOLE|FUA', req(6, 0, 4096, wire.NBD_CMD_FLAG_NO_HOLE | wire.NBD_CMD_FLAG_FUA), 0],
    ['zeroes FAST_ZERO on a fast device', req(6, 0, 4096, wire.NBD_CMD_FLAG_FAST_ZERO), 0],
    ['trim NO_HOLE', req(4, 0, 4096, wire.NBD_CMD_FLAG_NO_HOLE), EINVAL],
    ['cache (not advertised)', req(5, 0, 4096), EINVAL],
    ['block status (no contexts)', req(7, 0, 4096), EINVAL],
    ['unknown command 99', req(99, 0, 0), EINVAL],
    ['write on read-only', req(1, 0, 4096), EPERM, { device: new MemoryDevice({ sizeBytes: size, readOnly: true }) }],
    ['trim on read-only', req(4, 0, 4096), EPERM, { device: new MemoryDevice({ sizeBytes: size, readOnly: true }) }],
    ['read on read-only', req(0, 0, 4096), 0, { device: new MemoryDevice({ sizeBytes: size, readOnly: true }) }],
  ];
  for (const [what, r, error, over] of cases) t.equal(errorOf(r, session(over)), error, what);
  const slow = { ...new MemoryDevice({ sizeBytes: size }), fastZeroes: false } as unknown as MemoryDevice;
  t.equal(errorOf(req(6, 0, 4096, wire.NBD_CMD_FLAG_FAST_ZERO), session({ device: slow })), ENOTSUP, 'FAST_ZERO on a slow device');
  t.equal(errorOf(req(6, 0, 4096), session({ device: slow })), 0, 'plain zeroes on a slow device');
});

t.test('exhaustive sweep: whatever is admitted is safe for the device', async (t) => {
  const offsets = [0n, 512n, 4096n, BigInt(size - 4096), BigInt(size), BigInt(size + 4096), 1n << 63n, (1n << 64n) - 4096n];
  const lengths = [0, 1, 512, 4096, 8192, payloadMax, payloadMax + 4096, size, 0xfffff000];
  const errors = new Set([wire.NBD_EINVAL, wire.NBD_ENOSPC, wire.NBD_EPERM, wire.NBD_ENOTSUP]);
  let admitted = 0;
  let checked = 0;
  for (const structuredReplies of [false, true]) {
    for (let type = 0; type <= 9; type++) {
      for (let flags = 0; flags < 64; flags++) {
        for (const offset of offsets) {
          for (const length of lengths) {
            const r = { type, flags, handle: 0n, offset, length };
            const refusal = checkRequest(r, session({ structuredReplies }));
            checked++;
            if (refusal) {
              if (!errors.has(refusal.error) || refusal.message.length === 0) t.fail(`bad refusal ${JSON.stringify(refusal)}`);
              continue;
            }
            admitted++;
            const ok =
              [0, 1, 3, 4, 6].includes(type) &&
              (flags & ~0x17) === 0 &&
              (structuredReplies || (flags & wire.NBD_CMD_FLAG_DF) === 0) &&
              (type === 0 || (flags & wire.NBD_CMD_FLAG_DF) === 0) &&
              (type === 6 || (flags & (wire.NBD_CMD_FLAG_NO_HOLE | wire.NBD_CMD_FLAG_FAST_ZERO)) === 0) &&
              offset % 4096n === 0n &&
              length % 4096 === 0 &&
              offset + BigInt(length) <= BigInt(size) &&
              (type === 3 ? offset === 0n && length === 0 : true) &&
              (type === 0 || type === 1 ? length <= payloadMax : true);
            if (!ok) t.fail(`admitted ${JSON.stringify({ ...r, handle: 0, offset: String(offset) })}`);
          }
        }
      }
    }
  }
  t.ok(admitted > 100, `${admitted} of ${checked} admitted, all safe`);
});
