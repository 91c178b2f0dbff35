// `teearray array status` for people, in the manner of `zpool status`: the
// array's state and what to do about it, the rebuild and scrub with their
// progress, rate and time left, the spares, one line per slot (state, node,
// instance, repairs, why a dead slot died), and the latest events. Scripts
// use `--json`, the GET /status object itself (docs/ADMIN.md).
import type { ArrayStatus } from '../array-manager/http/array-status.ts';

/** What GET /status returns to the CLI: the array's status and the serving manager's extras. */
export type ServedStatus = ArrayStatus & {
  nbd?: { listeners?: { kind: string; host?: string; port?: number; path?: string; tls?: string | null }[]; connections?: number };
  /** `teearray local` only: the process of each disk node, so a newcomer can kill one. */
  processes?: { endpoint: string; pid: number; role: string }[];
};

/** Events shown without --json (the JSON has the latest 256). */
const eventsShown = 8;

export function formatBytesPerSecond(v: number): string {
  return v >= 1e9 ? `${(v / 1e9).toFixed(1)} GB/s` : v >= 1e6 ? `${(v / 1e6).toFixed(1)} MB/s` : `${(v / 1e3).toFixed(0)} kB/s`;
}

/** A rate limit: 0 is no limit. */
export function formatLimit(v: number): string {
  return v === 0 ? 'unlimited' : formatBytesPerSecond(v);
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

const percent = (done: number, total: number) => `${total > 0 ? ((100 * done) / total).toFixed(1) : '100.0'}%`;

function action(s: ServedStatus): string {
  const dead = s.slots.filter((x) => x.state === 'dead').map((x) => x.slot);
  const rebuilding = s.slots.filter((x) => x.state === 'rebuilding').map((x) => x.slot);
  const lines: string[] = [];
  if (s.state === 'failed') lines.push(`more than m = ${s.geometry.m} slots are dead: the array refuses I/O. Its data is lost unless dead nodes come back.`);
  else if (dead.length) {
    const spare = s.spares?.autoReplace && s.spares.available.length > 0;
    lines.push(
      `slot${dead.length > 1 ? 's' : ''} ${dead.join(', ')} ${dead.length > 1 ? 'are' : 'is'} dead: the array can lose ${s.geometry.m - dead.length - rebuilding.length} more node(s).`,
      spare ? 'A spare will take it.' : `Replace it: teearray array replace --slot ${dead[0]} --endpoint ws://HOST:PORT`,
    );
  }
  if (rebuilding.length) lines.push(`slot${rebuilding.length > 1 ? 's' : ''} ${rebuilding.join(', ')} being rebuilt onto a new node; full redundancy returns when it is done.`);
  if (s.health === 'unavailable') lines.push(`nodes of slots ${s.unreachableSlots.join(', ')} do not answer: writes wait for them (E_UNAVAILABLE).`);
  return lines.join('\n         ');
}

function rebuildLine(s: ServedStatus): string | undefined {
  const r = s.rebuild;
  if (!r) return undefined;
  const rate = `rate limits: min ${formatLimit(r.rate.minBytesPerSecond)}, max ${formatLimit(r.rate.maxBytesPerSecond)}`;
  if (!r.active) return `none in progress (${rate})`;
  const left = r.secondsLeft !== undefined ? `, ${formatDuration(r.secondsLeft)} left` : '';
  return `${r.doneRows}/${r.totalRows} stripes (${percent(r.doneRows, r.totalRows)}) at ${formatBytesPerSecond(r.bytesPerSecond)}${left}; ${rate}${r.error ? `\n         stalled: ${r.error}` : ''}`;
}

function scrubLine(s: ServedStatus): string | undefined {
  const c = s.scrub;
  if (!c) return undefined;
  const next = c.nextAt ? `; next at ${c.nextAt}` : '';
  const found = `${c.repaired} shard${c.repaired === 1 ? '' : 's'} repaired, ${c.unrecoverableRows} stripe${c.unrecoverableRows === 1 ? '' : 's'} unrecoverable`;
  if (c.running) {
    return `in progress since ${c.startedAt}: ${c.rowsChecked}/${c.totalRows} stripes (${percent(c.rowsChecked, c.totalRows)})${c.bytesPerSecond ? ` at ${formatBytesPerSecond(c.bytesPerSecond)}` : ''}, ${found}${c.error ? `\n         stalled: ${c.error}` : ''}`;
  }
  if (!c.finishedAt) return `none yet${next} (start one: teearray array scrub)`;
  const lost = c.unrecoverable.length ? `\n         unrecoverable: ${c.unrecoverable.slice(0, 8).map((l) => `sectors ${l.first}..${l.first + l.count - 1}`).join(', ')}${c.unrecoverable.length > 8 ? ', ...' : ''}` : '';
  return `finished ${c.finishedAt}: ${c.rowsChecked} stripes checked, ${found}${c.previousRun ? ' (an earlier run of the manager)' : ''}${next}${lost}`;
}

function slotTable(s: ServedStatus): string {
  const pids = new Map((s.processes ?? []).map((p) => [p.endpoint, p.pid]));
  const rows = s.slots.map((x) => {
    const notes: string[] = [];
    if (x.state === 'rebuilding' && x.cursor !== undefined && x.stripes) notes.push(`${percent(x.cursor, x.stripes)} rebuilt`);
    if (x.inDoubt) notes.push('not answering (in doubt)');
    if (x.deadReason) notes.push(x.deadReason);
    return [String(x.slot), x.state, x.endpoint ?? '-', pids.has(x.endpoint ?? '') ? String(pids.get(x.endpoint ?? '')) : '', x.instanceId, String(x.repaired), notes.join('; ')];
  });
  const header = ['SLOT', 'STATE', 'NODE', pids.size ? 'PID' : '', 'INSTANCE', 'REPAIRED', ''];
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((r) => r[col].length)));
  return all
    .map((r) =>
      ('  ' + r.map((cell, col) => (widths[col] === 0 ? '' : cell.padEnd(widths[col] + 2))).join(''))
        .trimEnd(),
    )
    .join('\n');
}

export function formatStatus(s: ServedStatus): string {
  const g = s.geometry;
  const out: string[] = [
    `  array: ${s.arrayId} (k=${g.k} m=${g.m}, ${(s.sizeBytes / 2 ** 30).toFixed(2)} GiB)`,
    `  state: ${s.state}${s.health === 'unavailable' ? ' (writes waiting: more than m nodes unreachable)' : ''}`,
  ];
  const act = action(s);
  if (act) out.push(` action: ${act}`);
  const rebuild = rebuildLine(s);
  if (rebuild) out.push(`rebuild: ${rebuild}`);
  const scrub = scrubLine(s);
  if (scrub) out.push(`  scrub: ${scrub}`);
  if (s.spares) {
    const listed = (what: string, list: { endpoint: string; reason: string }[]) => (list.length ? `; ${list.length} ${what} (${list.map((r) => `${r.endpoint}: ${r.reason}`).join('; ')})` : '');
    out.push(` spares: ${s.spares.available.length ? s.spares.available.join(', ') : 'none'}${s.spares.autoReplace ? '' : ' (autoReplace off)'}${listed('not reachable when last tried', s.spares.unreachable)}${listed('refused', s.spares.rejected)}`);
  }
  out.push(`journal: v${s.journalVersion}, membership v${s.membershipVersion}`, '', slotTable(s));
  const events = s.events.slice(-eventsShown);
  if (events.length) {
    out.push('', ` events (latest ${events.length} of ${s.events.length}):`);
    for (const e of events) out.push(`  ${e.at.slice(0, 19).replace('T', ' ')} ${e.kind}${e.slot === undefined ? '' : ` slot ${e.slot}`}: ${e.reason}`);
  }
  return out.join('\n') + '\n';
}
