// An in-memory configfs-tsm behind the reporter's TsmFs interface, following
// the kernel's rules (drivers/virt/coco/guest/report.c and
// Documentation/ABI/testing/configfs-tsm): a real configfs makes an entry's
// attribute files on mkdir and removes them on rmdir, which a plain
// directory cannot imitate.
//  - mkdir under the root makes an entry (mode 0755) with generation 0;
//    ENXIO when no TSM driver is registered;
//  - writing inblob (at most 64 bytes, else EFBIG) bumps generation;
//  - reading outblob or auxblob (EINVAL before inblob is written) makes a
//    new report when generation moved since the last one; a blob over the
//    kernel's bound fails with EFBIG;
//  - generation and provider read as decimal / name text plus a newline;
//  - rmdir removes the entry with its attributes.
// `race` plays another writer that writes its own inblob right after ours.
import { posix } from 'node:path';
import type { TsmFs } from '../../attestation/reporters/configfs-tsm.ts';

/** SEV-SNP ATTESTATION_REPORT (SNP firmware ABI, Table 22): 1184 bytes, REPORT_DATA at 0x50. */
export const SNP_REPORT_BYTES = 1184;
export const SNP_REPORT_DATA_OFFSET = 0x50;
/** TDX quote v4: 48-byte header, then the TD report body with REPORTDATA at its offset 520. */
export const TDX_QUOTE_REPORT_DATA_OFFSET = 48 + 520;
/** What the racing writer puts in inblob. */
export const OTHER_WRITER_DATA = new Uint8Array(64).fill(0xee);

export function fakeSnpReport(inblob: Uint8Array): Uint8Array {
  const report = new Uint8Array(SNP_REPORT_BYTES);
  new DataView(report.buffer).setUint32(0, 2, true); // VERSION
  report.set(inblob, SNP_REPORT_DATA_OFFSET);
  return report;
}

export function fakeTdxQuote(inblob: Uint8Array): Uint8Array {
  const quote = new Uint8Array(48 + 584 + 4 + 64); // header, body, signature data length, (fake) signature data
  const view = new DataView(quote.buffer);
  view.setUint16(0, 4, true); // version 4
  view.setUint32(4, 0x81, true); // TEE type: TDX
  view.setUint32(48 + 584, 64, true);
  quote.set(inblob, TDX_QUOTE_REPORT_DATA_OFFSET);
  return quote;
}

export interface FakeTsmOptions {
  /** Registered driver: "sev_guest" (default), "tdx_guest", anything; null: none (mkdir fails ENXIO). */
  provider?: string | null;
  /** outblob from inblob; default by provider (SNP report, TDX quote). */
  makeReport?: (inblob: Uint8Array) => Uint8Array;
  /** auxblob content; null hides the attribute (as tdx_guest does). Default: a small certificate table for sev_guest, hidden otherwise. */
  auxblob?: Uint8Array | null;
  /** Another writer writes inblob right after ours: never (default), on the first report only, or always. */
  race?: 'never' | 'once' | 'always';
  /** The kernel's read bound (TSM_OUTBLOB_MAX); raise it to show the reporter's own bound. */
  kernelBlobMax?: number;
  /** How generation reads (default: decimal and a newline). */
  generationText?: (generation: number) => string;
}

interface Entry {
  writeGeneration: number;
  readGeneration: number;
  inblob: Uint8Array | null;
  outblob: Uint8Array | null;
}

export interface FakeTsm {
  root: string;
  fs: TsmFs;
  /** The registered driver's name; tests may change it. */
  provider: string | null;
  /** Names of the entries that exist now. */
  entries(): string[];
  /** File descriptors open now. */
  openFiles(): number;
  /** Mode of every mkdir. */
  modes: number[];
  /** Every inblob write, ours and the racing writer's. */
  inblobWrites: Uint8Array[];
  /** Reports the "hardware" made. */
  reportsMade: number;
}

function errno(code: string, op: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${op} '${path}'`), { code });
}

export function createFakeConfigfsTsm(options: FakeTsmOptions = {}): FakeTsm {
  const root = '/fake/sys/kernel/config/tsm/report';
  const entries = new Map<string, Entry>();
  const open = new Map<number, Uint8Array>();
  let nextFd = 100;
  let raced = false;
  const kernelBlobMax = options.kernelBlobMax ?? 32 * 1024;
  const generationText = options.generationText ?? ((g: number) => `${g}\n`);

  const fake: FakeTsm = {
    root,
    provider: options.provider === undefined ? 'sev_guest' : options.provider,
    entries: () => [...entries.keys()],
    openFiles: () => open.size,
    modes: [],
    inblobWrites: [],
    reportsMade: 0,
    fs: { statSync, mkdirSync, rmdirSync, writeFileSync, openSync, readSync, closeSync },
  };

  const isSev = () => fake.provider === 'sev_guest';
  const auxblob = () => (options.auxblob !== undefined ? options.auxblob : isSev() ? Uint8Array.of(1, 2, 3, 4) : null);
  const makeReport = (inblob: Uint8Array) => (options.makeReport ?? (isSev() ? fakeSnpReport : fakeTdxQuote))(inblob);

  function entryOf(path: string, op: string): Entry {
    const entry = posix.dirname(path) === root ? entries.get(posix.basename(path)) : undefined;
    if (entry === undefined) throw errno('ENOENT', op, path);
    return entry;
  }

  /** The entry and attribute a path names, if the attribute is visible for the provider. */
  function attributeOf(path: string, op: string): { entry: Entry; name: string } {
    const entry = entryOf(posix.dirname(path), op);
    const name = posix.basename(path);
    const visible = ['inblob', 'outblob', 'provider', 'generation'];
    if (auxblob() !== null) visible.push('auxblob');
    if (!visible.includes(name)) throw errno('ENOENT', op, path);
    return { entry, name };
  }

  function statSync(path: string) {
    if (path !== root) entryOf(path, 'stat');
    return { isDirectory: () => true };
  }

  function mkdirSync(path: string, { mode }: { mode: number }) {
    if (posix.dirname(path) !== root) throw errno('EACCES', 'mkdir', path);
    if (entries.has(posix.basename(path))) throw errno('EEXIST', 'mkdir', path);
    if (fake.provider === null) throw errno('ENXIO', 'mkdir', path);
    fake.modes.push(mode);
    entries.set(posix.basename(path), { writeGeneration: 0, readGeneration: 0, inblob: null, outblob: null });
  }

  function rmdirSync(path: string) {
    entryOf(path, 'rmdir');
    entries.delete(posix.basename(path));
  }

  function writeFileSync(path: string, data: Uint8Array) {
    const { entry, name } = attributeOf(path, 'open');
    if (name !== 'inblob') throw errno('EACCES', 'open', path); // the others are read-only
    if (data.length > 64) throw errno('EFBIG', 'write', path);
    entry.inblob = Uint8Array.from(data);
    entry.writeGeneration++;
    fake.inblobWrites.push(entry.inblob);
    if (options.race === 'always' || (options.race === 'once' && !raced)) {
      raced = true;
      entry.inblob = OTHER_WRITER_DATA;
      entry.writeGeneration++;
      fake.inblobWrites.push(OTHER_WRITER_DATA);
    }
  }

  function blob(entry: Entry, name: string, path: string): Uint8Array {
    if (entry.inblob === null) throw errno('EINVAL', 'read', path);
    if (entry.outblob === null || entry.readGeneration !== entry.writeGeneration) {
      entry.outblob = makeReport(entry.inblob);
      entry.readGeneration = entry.writeGeneration;
      fake.reportsMade++;
    }
    const out = name === 'outblob' ? entry.outblob : (auxblob() ?? new Uint8Array(0));
    if (out.length > kernelBlobMax) throw errno('EFBIG', 'read', path);
    return out;
  }

  function openSync(path: string, flags: 'r') {
    if (flags !== 'r') throw errno('EINVAL', 'open', path);
    const { entry, name } = attributeOf(path, 'open');
    const encode = (text: string) => new TextEncoder().encode(text);
    let content: Uint8Array;
    if (name === 'provider') content = encode(`${fake.provider}\n`);
    else if (name === 'generation') content = encode(generationText(entry.writeGeneration));
    else if (name === 'outblob' || name === 'auxblob') content = blob(entry, name, path);
    else throw errno('EACCES', 'open', path); // inblob is write-only
    open.set(nextFd, content);
    return nextFd++;
  }

  function readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number) {
    const content = open.get(fd);
    if (content === undefined) throw errno('EBADF', 'read', String(fd));
    const part = content.subarray(position, position + length);
    buffer.set(part, offset);
    return part.length;
  }

  function closeSync(fd: number) {
    if (!open.delete(fd)) throw errno('EBADF', 'close', String(fd));
  }

  return fake;
}
