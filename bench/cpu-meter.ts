// CPU time spent by this process and by a set of child processes over an
// interval: what a job cost, not just how long it took. Child times come
// from /proc/<pid>/stat (utime + stime, in USER_HZ ticks, which Linux fixes
// at 100 per second for that file), so they are Linux-only and 10 ms coarse;
// jobs of a second or more keep that within a few percent.
import { openSync, readFileSync, readSync } from 'node:fs';

const ticksPerSecond = 100;

function childCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

const ownCpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

export interface CpuSpent {
  /** This process, all threads. */
  selfMs: number;
  /** The child processes together. */
  childrenMs: number;
}

/** Starts measuring; the returned function gives the CPU spent since. */
export function startCpuMeter(childPids: number[]): () => CpuSpent {
  const self = ownCpuMs();
  const children = childPids.reduce((sum, pid) => sum + childCpuMs(pid), 0);
  return () => ({
    selfMs: ownCpuMs() - self,
    childrenMs: childPids.reduce((sum, pid) => sum + childCpuMs(pid), 0) - children,
  });
}

let schedstat: number | undefined;
const schedstatBuf = Buffer.alloc(128);

/**
 * The main thread's CPU time in ms, to the nanosecond (its
 * /proc/self/task/PID/schedstat, one read): unlike process.cpuUsage() it
 * leaves out worker threads running meanwhile. Node 20 has no
 * process.threadCpuUsage(). Linux only; call it from the main thread.
 */
export function mainThreadCpuMs(): number {
  schedstat ??= openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
  const n = readSync(schedstat, schedstatBuf, 0, schedstatBuf.length, 0);
  return Number(schedstatBuf.toString('latin1', 0, n).split(' ')[0]) / 1e6;
}
