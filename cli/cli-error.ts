// Errors the CLI reports to the operator, with the exit code scripts rely on
// (docs/CLI.md): 2 for usage and configuration, 3 when the array is not
// available (quorum, too many dead nodes), 1 for anything else.

export const exitCodes = { ok: 0, failure: 1, usage: 2, unavailable: 3 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = exitCodes.usage,
  ) {
    super(message);
  }
}

const unavailableCodes = new Set(['E_QUORUM', 'E_TOO_MANY_DEAD', 'E_UNRECOVERABLE', 'E_UNAVAILABLE', 'E_NO_ARRAY', 'E_CREATE_NODE']);

export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  const code = (err as { code?: string }).code;
  // node:util parseArgs: unknown option, missing value, stray argument.
  if (code?.startsWith('ERR_PARSE_ARGS_')) return exitCodes.usage;
  return code && unavailableCodes.has(code) ? exitCodes.unavailable : exitCodes.failure;
}
