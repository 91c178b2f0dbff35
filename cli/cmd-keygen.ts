// `teearray keygen`: creates the manager's keys in a data directory (never
// overwriting one) and writes the reference-values manifest for the disk node
// built in dist/, trusting the directory's simulated platform.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateKeys, loadKeys } from './key-store.ts';
import { localManifest, saveManifest } from './manifest-file.ts';
import { CliError } from './cli-error.ts';
import { ensurePskFile } from './nbd-access.ts';

export const keygenHelp = `usage: teearray keygen --data-dir DIR [--json]

Creates whatever is missing of manager.key/.pub, data.key, admin.token,
nbd.psk (the NBD export's TLS pre-shared key) and a simulated-TEE platform
in DIR, then writes DIR/manifest.json for the disk
node in dist/. Existing keys are kept. Prints the manager public key, which
every disk node is launched with (--manager-key).`;

export async function keygenCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  const dir = values['data-dir'];
  if (!dir) throw new CliError('--data-dir is required');
  const created = await generateKeys(dir);
  if ((await ensurePskFile(dir)).created) created.push('nbd.psk');
  const keys = await loadKeys(dir);
  await saveManifest(join(dir, 'manifest.json'), await localManifest(keys));
  const out = { dataDir: dir, created, managerPublicKey: keys.managerPublicKey.toString('hex'), manifest: join(dir, 'manifest.json') };
  if (values.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  else process.stdout.write(`keys in ${dir} (created: ${created.join(', ') || 'none'})\nmanager public key: ${out.managerPublicKey}\nmanifest: ${out.manifest}\n`);
}
