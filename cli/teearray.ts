// The `teearray` command: one binary, one subcommand per job (docs/CLI.md).
import { arrayCommand, arrayHelp, nbdCommand, nbdHelp } from './cmd-array.ts';
import { attestCommand, attestHelp } from './cmd-attest.ts';
import { auditCommand, auditHelp } from './cmd-audit.ts';
import { diskNodeCommand, diskNodeHelp } from './cmd-disk-node.ts';
import { keygenCommand, keygenHelp } from './cmd-keygen.ts';
import { localCommand, localHelp } from './cmd-local.ts';
import { tqCommand, tqHelp } from './cmd-tq.ts';
import { CliError, exitCodeFor, exitCodes } from './cli-error.ts';

const usage = `usage: teearray <command> [options]

commands:
  local       start a complete array on this machine and export it over NBD
  disk-node   start one disk node
  array       create | open | status | replace | scrub | rate an array described by a config file
  nbd         open an array and export it over NBD with the admin API
  keygen      create the manager's keys and the reference-values manifest
  audit       rebuild the disk node and report its sources, dependencies and measurement
  attest      verify one piece of TEE evidence offline (AWS Nitro, AMD SEV-SNP, Intel TDX)
  tq          a trust quorum's key shares and epochs on member arrays (deal, show, rotate, recover-share, unlock)

Run \`teearray <command> --help\` for a command's options.`;

type Command = { help: string; run: (argv: string[]) => Promise<number | void> };

const commands: Record<string, Command> = {
  local: { help: localHelp, run: localCommand },
  'disk-node': { help: diskNodeHelp, run: diskNodeCommand },
  array: { help: arrayHelp, run: arrayCommand },
  nbd: { help: nbdHelp, run: nbdCommand },
  keygen: { help: keygenHelp, run: keygenCommand },
  audit: { help: auditHelp, run: auditCommand },
  attest: { help: attestHelp, run: attestCommand },
  tq: { help: tqHelp, run: tqCommand },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage + '\n');
    return name ? exitCodes.ok : exitCodes.usage;
  }
  const command = commands[name];
  if (!command) throw new CliError(`unknown command "${name}"\n\n${usage}`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return exitCodes.ok;
  }
  return (await command.run(rest)) ?? exitCodes.ok;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== exitCodes.ok) process.exitCode = code;
  },
  (err: unknown) => {
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`teearray: ${message}${code && !message.startsWith(code) && !(err instanceof CliError) ? ` (${code})` : ''}\n`);
    process.exitCode = exitCodeFor(err);
  },
);
