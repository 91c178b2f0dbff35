// fast-check arbitraries for disk-node protocol tests: random commands with
// in-frame sizes kept small (a few sectors of `sectorBytes`), so property runs
// stay fast. Values are wire-legal (u32 indices, u64 versions) but need not be
// in range for any particular store: the codec does not care, the node refuses.
import fc from 'fast-check';
import { Op, type Command } from '../../array-manager/node-client/frame-codec.ts';
import { deathRecordBytesMax } from '../../disk-node/limits.ts';

const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** One command of any op; WRITE carries `1..maxSectors` sectors of random bytes. */
export function commandArb(sectorBytes: number, maxSectors = 3): fc.Arbitrary<Command> {
  const sectors = fc.integer({ min: 1, max: maxSectors });
  return fc.oneof(
    fc.record({ op: fc.constant(Op.read), sector: u32, count: u32 }),
    fc.record({ op: fc.constant(Op.trim), sector: u32, count: u32 }),
    fc.record({ op: fc.constant(Op.copy), src: u32, dst: u32, count: u32 }),
    fc.record({ op: fc.constant(Op.status) }),
    fc.record({ op: fc.constant(Op.deathRead) }),
    fc.record({ op: fc.constant(Op.attest) }),
    fc.record({
      op: fc.constant(Op.deathWrite),
      version: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      record: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    }),
    fc
      .tuple(u32, sectors, fc.integer({ min: 0, max: 255 }))
      .map(([sector, count, fill]): Command => ({ op: Op.write, sector, count, data: Buffer.alloc(count * sectorBytes, fill) })),
  );
}

/** A death record payload as DEATH_READ lays it out: version, length, record, zero padding. */
export function deathReadPayload(version: bigint, record: Uint8Array): Buffer {
  const p = Buffer.alloc(12 + deathRecordBytesMax);
  p.writeBigUInt64BE(version, 0);
  p.writeUInt32BE(record.length, 8);
  p.set(record, 12);
  return p;
}
