// Runs the real NBD clients the tests use (qemu-img, qemu-io, nbdinfo,
// nbdcopy, nbdfuse, mkfs.ext4...) as child processes, each bounded by a
// timeout and killed if it overruns. Asynchronous on purpose: the server
// under test runs in the same process and must keep serving meanwhile.

import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const childTimeoutMs = 60_000;

/** True if `tool` is an executable on PATH (or the sbin directories, where mkfs and e2fsck live). */
export function has(tool: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/sbin', '/usr/sbin'];
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never rejects for a nonzero exit (the caller asserts on `code`). */
export function run(command: string, args: string[], timeoutMs = childTimeoutMs): Promise<ChildResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env: { ...process.env, PATH: `${process.env.PATH}:/sbin:/usr/sbin` } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === -1 ? `\n${err.message}` : '') });
      },
    );
  });
}
