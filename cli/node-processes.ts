// Starts disk nodes as child processes of this one (for `teearray local`):
// each runs `teearray disk-node` and reports its port on one JSON line. The
// children die with the parent: their stdin is a pipe that closes when we go.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CliError, exitCodes } from './cli-error.ts';
import type { Logger } from './log.ts';

export interface LocalNodes {
  endpoints: string[];
  /** Process id of each node, in the order started (operators and failure tests kill them). */
  pids: number[];
  stop(): Promise<void>;
}

/** How long a node may take to allocate its memory and start listening. */
const startTimeoutMs = 60_000;

function startOne(command: string[], args: string[], label: string, log: Logger): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(command[0], [...command.slice(1), 'disk-node', ...args, '--log-json'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  createInterface({ input: child.stderr! }).on('line', (line) => log.info(`${label}: ${line}`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new CliError(`disk ${label} did not start within ${startTimeoutMs} ms`, exitCodes.failure));
    }, startTimeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new CliError(`disk ${label} exited with code ${code} before listening`, exitCodes.failure));
    });
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      try {
        const info = JSON.parse(line) as { event?: string; port?: number };
        if (info.event !== 'listening' || typeof info.port !== 'number') throw new Error(line);
        resolve({ child, port: info.port });
      } catch {
        reject(new CliError(`disk ${label} said "${line}" instead of its port`, exitCodes.failure));
      }
    });
  });
}

export interface LocalNodeOptions {
  sectors: number;
  managerPublicKey: Buffer;
  platformDir: string;
  host: string;
  /** The `teearray` command to run (default: this process's own, e.g. node dist/teearray.mjs). */
  command?: string[];
}

/**
 * Starts `count` nodes; `labels[i]` names node i in logs (default "node i";
 * `teearray local` names its spares "spare j").
 */
export async function startLocalNodes(count: number, opts: LocalNodeOptions, log: Logger, labels?: string[]): Promise<LocalNodes> {
  const label = (i: number) => labels?.[i] ?? `node ${i}`;
  const command = opts.command ?? [process.execPath, ...process.execArgv, process.argv[1]];
  const args = ['--manager-key', opts.managerPublicKey.toString('hex'), '--sectors', String(opts.sectors), '--platform-dir', opts.platformDir, '--host', opts.host, '--port', '0'];
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => startOne(command, args, label(i), log)));
  const children = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.child] : []));
  const failure = started.find((s) => s.status === 'rejected');
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 3000).unref();
          }),
      ),
    );
  };
  if (failure) {
    await stop();
    throw (failure as PromiseRejectedResult).reason;
  }
  started.forEach((s, i) => {
    const child = (s as PromiseFulfilledResult<{ child: ChildProcess }>).value.child;
    child.once('exit', (code, signal) => {
      if (!stopping) log.warn('disk node exited', { node: label(i), pid: child.pid, code: code ?? undefined, signal: signal ?? undefined });
    });
  });
  return {
    endpoints: started.map((s) => `ws://${opts.host}:${(s as PromiseFulfilledResult<{ port: number }>).value.port}`),
    pids: children.map((c) => c.pid!),
    stop,
  };
}
