// Declares a run hung after it has waited `ms` of real time on an event loop
// that was free to run it. Time the process spent starved of CPU (a loaded
// machine, a niced soak) does not count: a timer tick that comes more than
// two periods after the last adds nothing, so only on-time ticks (an idle
// loop waiting on something that never comes) add up to a hang, and a seed
// that passes on an idle machine passes on a loaded one.

export interface HangWatch {
  readonly hung: Promise<'hung'>;
  stop(): void;
}

export function watchForHang(ms: number, opts: { periodMs?: number; now?: () => number } = {}): HangWatch {
  const { periodMs = 250, now = () => performance.now() } = opts;
  let credited = 0;
  let last = now();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setInterval(() => {
      const t = now();
      if (t - last <= 2 * periodMs) credited += t - last;
      last = t;
      if (credited >= ms) {
        clearInterval(timer);
        resolve('hung');
      }
    }, periodMs);
  });
  return { hung, stop: () => clearInterval(timer) };
}
