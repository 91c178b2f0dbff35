// The operator's certificates for nodes whose evidence comes without them
// (SEV-SNP VCEKs, which AMD issues per chip and TCB; the array config's
// `vcekDir`): every *.der, *.pem, *.crt and *.cer file of one directory,
// read once when the array opens. Nothing is fetched: an operator downloads
// a chip's VCEK from AMD's key distribution service and drops it here.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from './cli-error.ts';

/** Most certificate files read from the directory. */
export const certificateFilesMax = 256;
/** Largest certificate file (a VCEK is about 1.4 KB; a PEM with its ASK and ARK about 6 KB). */
export const certificateFileBytesMax = 16 * 1024;
const certificateFile = /\.(der|pem|crt|cer)$/;

export async function loadCertificateDir(dir: string): Promise<Uint8Array[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => certificateFile.test(name)).sort();
  } catch (error) {
    throw new CliError(`config: vcekDir ${dir} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (names.length > certificateFilesMax) throw new CliError(`config: vcekDir ${dir} holds ${names.length} certificate files, more than ${certificateFilesMax}`);
  return Promise.all(
    names.map(async (name) => {
      const path = join(dir, name);
      const info = await stat(path);
      if (!info.isFile()) throw new CliError(`config: vcekDir: ${path} is not a regular file`);
      if (info.size > certificateFileBytesMax) throw new CliError(`config: vcekDir: ${path} is larger than ${certificateFileBytesMax} bytes`);
      return new Uint8Array(await readFile(path));
    }),
  );
}
