import { runRotation, sweepCrashFrame } from './rotation-crash.ts';
const [k, m] = [+process.argv[2], +process.argv[3]];
const run = await runRotation(k, m);
const t0 = performance.now();
const c0 = process.cpuUsage();
let points = 0; const bad: string[] = [];
for (let c = 0; c < run.after.length; c++) for (let v = 0; v < k + m; v++) {
  const r = await sweepCrashFrame(run, c, v);
  points += r.points; bad.push(...r.violations);
}
const c = process.cpuUsage(c0);
console.log(`k=${k} m=${m} frames ${run.after.length} ack ${run.ackFrame}: ${points} points`, ((performance.now() - t0) / 1000).toFixed(1), 's wall', ((c.user + c.system) / 1000 / points).toFixed(1), 'ms/pt cpu', bad.length, 'bad', bad.slice(0, 3));
