// SEV-SNP and TDX reports through Linux's configfs-tsm report interface
// (Linux ≥ 6.7, Documentation/ABI/testing/configfs-tsm, later renamed
// configfs-tsm-report): plain file operations, no native code. One report is
// one fresh entry: mkdir, write inblob, read outblob and auxblob, rmdir.
// The ABI leaves concurrent writers to userspace and gives `generation` to
// detect them; we check it and retry. See docs/TEE_PROVIDERS.md.
import { randomBytes } from 'node:crypto';
import * as nodeFs from 'node:fs';
import { basename, join } from 'node:path';
import { AttestationError } from '../errors.ts';
import { checkReportData, platformError, type NativeEvidence, type NativeReporter } from './native-reporter.ts';

/** The few synchronous file operations the reporter uses; node:fs by default, an in-memory kernel in tests. */
export interface TsmFs {
  statSync(path: string): { isDirectory(): boolean };
  mkdirSync(path: string, options: { mode: number }): unknown;
  rmdirSync(path: string): void;
  writeFileSync(path: string, data: Uint8Array): void;
  openSync(path: string, flags: 'r'): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  closeSync(fd: number): void;
}

export interface ConfigfsTsmOptions {
  root?: string;
  expect: 'amd-sev-snp-v1' | 'intel-tdx-v1';
  fs?: TsmFs;
}

/** The `provider` text each platform's guest driver registers. */
const PROVIDERS: Record<string, string> = { 'amd-sev-snp-v1': 'sev_guest', 'intel-tdx-v1': 'tdx_guest' };
/** The kernel's own bound on outblob and auxblob (TSM_OUTBLOB_MAX). */
const BLOB_MAX = 32 * 1024;
const PROVIDER_MAX = 64;
const GENERATION_MAX = 32;
/** A race needs another writer inside our uniquely named entry; three in a row means it is not going away. */
const ATTEMPTS = 3;

export function createConfigfsTsmReporter({
  root = '/sys/kernel/config/tsm/report',
  expect,
  fs = nodeFs,
}: ConfigfsTsmOptions): NativeReporter {
  const wanted = PROVIDERS[expect];
  if (wanted === undefined) throw platformError(`configfs-tsm serves amd-sev-snp-v1 and intel-tdx-v1, not ${expect}`);
  if (!isDirectory(fs, root)) {
    throw platformError(
      `configfs-tsm not found at ${root}: needs Linux ≥ 6.7 with the TSM report interface and a confidential guest; ` +
        'mount configfs (mount -t configfs none /sys/kernel/config)',
    );
  }

  function readBounded(path: string, max: number): Uint8Array {
    const buf = new Uint8Array(max + 1);
    let n = 0;
    const fd = fs.openSync(path, 'r');
    try {
      // Not readFileSync: it stops at st_size, which configfs does not set to the content's length.
      // Read to EOF instead, one byte past the bound at most.
      while (n < buf.length) {
        const got = fs.readSync(fd, buf, n, buf.length - n, n);
        if (got === 0) break;
        n += got;
      }
    } finally {
      fs.closeSync(fd);
    }
    if (n > max) throw platformError(`configfs-tsm ${basename(path)} is larger than ${max} bytes`);
    return buf.slice(0, n);
  }

  function readText(path: string, max: number): string {
    return new TextDecoder().decode(readBounded(path, max));
  }

  function checkProvider(entry: string): string {
    const text = readText(join(entry, 'provider'), PROVIDER_MAX);
    const provider = text.endsWith('\n') ? text.slice(0, -1) : text;
    if (provider !== wanted) {
      throw platformError(`configfs-tsm provider is ${JSON.stringify(provider)}, expected ${wanted} for ${expect}`);
    }
    return provider;
  }

  function readGeneration(entry: string): number {
    const text = readText(join(entry, 'generation'), GENERATION_MAX);
    if (!/^(0|[1-9][0-9]{0,14})\n$/.test(text)) throw platformError(`configfs-tsm generation is not a count: ${JSON.stringify(text)}`);
    return Number(text);
  }

  function readAux(entry: string): Uint8Array {
    try {
      return readBounded(join(entry, 'auxblob'), BLOB_MAX);
    } catch (err) {
      // Providers without auxiliary data hide the attribute (TDX) or leave it empty.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Uint8Array(0);
      throw err;
    }
  }

  /** Runs `fn` in a fresh entry and removes the entry on every path. */
  function withEntry<T>(fn: (entry: string) => T): T {
    const entry = join(root, `teearray-${process.pid}-${randomBytes(8).toString('hex')}`);
    // configfs makes every entry 0755 whatever mode is asked; ask for that.
    fs.mkdirSync(entry, { mode: 0o755 });
    let out: T;
    try {
      out = fn(entry);
    } catch (err) {
      try {
        fs.rmdirSync(entry);
      } catch {
        // the first error is the one worth reporting
      }
      throw err;
    }
    fs.rmdirSync(entry);
    return out;
  }

  /** One attempt; null when another writer moved `generation` under us. */
  function attempt(reportData: Uint8Array): NativeEvidence | null {
    return withEntry((entry) => {
      const provider = checkProvider(entry);
      const before = readGeneration(entry);
      // privlevel is left at the kernel's default, 0: the verifier accepts only VMPL 0 reports.
      fs.writeFileSync(join(entry, 'inblob'), reportData);
      const evidence = readBounded(join(entry, 'outblob'), BLOB_MAX);
      const aux = readAux(entry);
      // The ABI's own conflict check: generation counts every write to the entry;
      // any write but our one means outblob may be over someone else's inblob.
      if (readGeneration(entry) !== before + 1) return null;
      if (evidence.length === 0) throw platformError('configfs-tsm outblob is empty');
      return { provider, evidence, aux };
    });
  }

  // Refuse at start, not at the first session: no TSM driver registered
  // (mkdir fails with ENXIO) or another platform's driver.
  guarded(`configfs-tsm at ${root} has no usable report provider (the guest's sev-guest or tdx-guest driver registers one)`, () =>
    withEntry(checkProvider),
  );

  return Object.freeze({
    platform: expect,
    report(reportData: Uint8Array): NativeEvidence {
      checkReportData(reportData);
      return guarded(`configfs-tsm report at ${root} failed`, () => {
        for (let i = 0; i < ATTEMPTS; i++) {
          const evidence = attempt(reportData);
          if (evidence !== null) return evidence;
        }
        throw platformError(`configfs-tsm generation moved under us ${ATTEMPTS} times: another writer is using ${root}`);
      });
    },
  });
}

function isDirectory(fs: TsmFs, path: string): boolean {
  try {
    return fs.statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** File-system errors (ENXIO, EFBIG, EBUSY, ...) become E_ATT_PLATFORM with the errno in the message. */
function guarded<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AttestationError) throw err;
    throw platformError(`${what}: ${(err as Error).message}`, err);
  }
}
