// The CLI's side of the admin API (docs/ADMIN.md): `teearray array status`,
// `replace`, `scrub` and `rate` ask the running manager, which owns the
// nodes, at the config's `admin` address with the token from
// DATA_DIR/admin.token. An error the API answers keeps its code; the exit
// code follows docs/CLI.md (2: the request was wrong, 3: the manager or the
// array is unavailable, 1: refused for another reason).
import type { ArrayConfig } from './array-config.ts';
import { CliError, exitCodes } from './cli-error.ts';
import { loadKeys } from './key-store.ts';

/** An error answer of the admin API. */
export class AdminError extends CliError {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: number,
  ) {
    super(`${code}: ${message}`, exitCodeOfHttp(httpStatus));
  }
}

function exitCodeOfHttp(status: number): number {
  if (status === 503) return exitCodes.unavailable;
  if ([400, 401, 404, 413, 415].includes(status)) return exitCodes.usage;
  return exitCodes.failure;
}

/** Largest answer read from the manager (a status with 1024 lost ranges and 256 events fits easily). */
const answerBytesMax = 4 * 1024 * 1024;

export interface AdminClient {
  url: string;
  request<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs?: number): Promise<T>;
}

export async function adminClient(config: ArrayConfig): Promise<AdminClient> {
  const { adminToken } = await loadKeys(config.dataDir);
  const host = config.admin.host.includes(':') ? `[${config.admin.host}]` : config.admin.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${config.admin.port}`;
  return {
    url,
    async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
      let res: Response;
      try {
        res = await fetch(url + path, {
          method,
          headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
          ...(body !== undefined && { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : ((err as { cause?: Error }).cause?.message ?? (err as Error).message);
        throw new CliError(`no manager answers at ${url}${path}: ${why} (is teearray nbd or teearray local running?)`, exitCodes.unavailable);
      }
      const text = await res.text();
      if (text.length > answerBytesMax) throw new CliError(`${url}${path} answered more than ${answerBytesMax} bytes`, exitCodes.failure);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new CliError(`${url}${path} answered ${res.status} with no JSON`, exitCodes.failure);
      }
      if (!res.ok) {
        const e = parsed as { error?: unknown; message?: unknown };
        throw new AdminError(typeof e.error === 'string' ? e.error : `E_HTTP_${res.status}`, typeof e.message === 'string' ? e.message : `${url}${path} answered ${res.status}`, res.status);
      }
      return parsed as T;
    },
  };
}
