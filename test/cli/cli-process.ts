// Runs the built `teearray` CLI (dist/teearray.mjs, as operators run it) as
// child processes for the CLI tests. Short commands run to completion under a
// timeout; long-running ones (disk-node, nbd, local) are started, awaited on
// a stdout line, and stopped by signal. Every started child is killed in the
// test's teardown and by its own deadline, whatever the test does.
// Does not build: `npm ci` runs `npm run build` (prepare) before the tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';
import { repoRoot } from '../../attestation/disk-node-bundle.ts';
import { run, type ChildResult } from '../nbd/child-process.ts';

export const cliPath = join(repoRoot, 'dist', 'teearray.mjs');
export const diskNodeBundle = join(repoRoot, 'dist', 'disk-node.mjs');
/** Why the CLI tests cannot run, or false when they can. */
export const notBuilt = !existsSync(cliPath) || !existsSync(diskNodeBundle) ? 'dist/ is not built: run `npm run build`' : false;

/** Longest any long-running CLI child may live before it is killed. */
const childLifetimeMs = 120_000;
/** How long a child may take to print the line a test waits for. */
export const lineTimeoutMs = 30_000;
/** Lines kept per stream for line(); a test waits for early lines, so later ones may be dropped. */
const linesMax = 10_000;
/** How long a child may take to exit after a signal. */
export const exitTimeoutMs = 10_000;

/** Runs `teearray ARGS` to completion (never rejects on a nonzero exit). */
export function cli(args: string[], timeoutMs = 60_000): Promise<ChildResult> {
  return run(process.execPath, [cliPath, ...args], timeoutMs);
}

export interface CliChild {
  child: ChildProcess;
  /** Everything the child wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** Resolves with the first line of `stream` (default stdout) for which `match` is true; rejects on exit or timeout. */
  line(match: (line: string) => boolean, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<string>;
  /** Sends `signal` and resolves with the exit code (or the signal name if killed by one). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Starts `teearray ARGS`; the child is killed at teardown of `t` and after childLifetimeMs at most. */
export function startCli(t: Test, args: string[]): CliChild {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const deadline = setTimeout(() => child.kill('SIGKILL'), childLifetimeMs);
  deadline.unref();
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    // Bounded: a chatty child must not grow the test's memory without limit.
    err = (err + chunk.toString()).slice(-64 * 1024);
  });
  const lines: Record<'stdout' | 'stderr', string[]> = { stdout: [], stderr: [] };
  const waiters = new Set<() => void>();
  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream]! }).on('line', (l) => {
      if (lines[stream].length < linesMax) lines[stream].push(l);
      for (const w of waiters) w();
    });
  }
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(deadline);
      resolve(code ?? signal ?? -1);
      for (const w of waiters) w();
    }),
  );
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return {
    child,
    stderr: () => err,
    line: (match, stream = 'stdout', timeoutMs = lineTimeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no matching line within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
        const check = () => {
          const found = lines[stream].find(match);
          if (found !== undefined) return done(undefined, found);
          if (child.exitCode !== null || child.signalCode !== null) done(new Error(`exited (${child.exitCode ?? child.signalCode}) first; stderr:\n${err}`));
        };
        const done = (e?: Error, found?: string) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (e) reject(e);
          else resolve(found!);
        };
        waiters.add(check);
        check();
      }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), exitTimeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for config files, which need fixed ports). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
