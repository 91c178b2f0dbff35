// Prometheus text exposition (format 0.0.4) of an open array's counters,
// health, rebuild and scrub progress, and latency histograms.
import type { VirtualDisk } from '../virtual-disk.ts';
import { arrayStatus, type ArrayStatus, type HealingView } from './array-status.ts';

const counterHelp: Record<string, string> = {
  reads: 'Read requests served',
  writes: 'Write requests acknowledged',
  bytesRead: 'Bytes returned to readers',
  bytesWritten: 'Bytes acknowledged to writers',
  journalEntries: 'Journal entries committed',
  journalApplies: 'Journal entries applied to home sectors',
  macFailures: 'Shards that failed their MAC or self-MAC check',
  reconstructions: 'Erasure reconstructions run',
  repairs: 'Corrupt shards rewritten on their node',
  nodeFailures: 'Nodes marked dead',
  bytesSentToNodes: 'Payload bytes sent to disk nodes',
  bytesReceivedFromNodes: 'Payload bytes read from disk nodes',
  cryptoWorkersLost: 'Crypto worker threads that crashed or exited (their work was redone on the manager thread)',
};

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Samples of one metric family: its value, or one value per label set. */
type Family = [name: string, type: 'counter' | 'gauge', help: string, samples: number | [labels: string, value: number][]];

/** Rebuild, scrub and repair figures (docs/ADMIN.md, "GET /metrics"). */
function healingFamilies(status: ArrayStatus, healing: HealingView | undefined): Family[] {
  const perSlot = (value: (slot: number) => number): [string, number][] => status.slots.map((s) => [`slot="${s.slot}"`, value(s.slot)]);
  const families: Family[] = [
    ['teearray_rebuilding_slots', 'gauge', 'Slots being rebuilt onto a new node', status.rebuildingSlots],
    ['teearray_repaired_shards_total', 'counter', 'Shards rewritten on a node that held them wrongly (reads and scrubs), by slot', perSlot((i) => status.slots[i].repaired)],
  ];
  if (!healing || !status.rebuild || !status.scrub || !status.spares) return families;
  const { rebuild, scrub } = status;
  return [
    ...families,
    ['teearray_rebuild_rows_done', 'gauge', 'Stripes rebuilt, summed over the rebuilding slots', rebuild.doneRows],
    ['teearray_rebuild_rows_total', 'gauge', 'Stripes to rebuild, summed over the rebuilding slots (0 when none is)', rebuild.totalRows],
    ['teearray_rebuild_bytes_total', 'counter', 'Shard bytes written to rebuilding nodes', healing.status.counters.rebuildBytes],
    ['teearray_rebuild_bytes_per_second', 'gauge', 'Rebuild rate over the last batches', rebuild.bytesPerSecond],
    ['teearray_rebuild_rate_min_bytes_per_second', 'gauge', 'Background work rate guaranteed while the array serves I/O', rebuild.rate.minBytesPerSecond],
    ['teearray_rebuild_rate_max_bytes_per_second', 'gauge', 'Background work rate at most while the array is idle (0 = unlimited)', rebuild.rate.maxBytesPerSecond],
    ['teearray_rebuild_stalled', 'gauge', '1 while rebuild batches fail (see /status rebuild.error)', rebuild.error === undefined ? 0 : 1],
    ['teearray_scrub_running', 'gauge', '1 while a scrub runs', scrub.running ? 1 : 0],
    ['teearray_scrub_rows_checked', 'gauge', 'Stripes the running or last scrub checked', scrub.rowsChecked],
    ['teearray_scrub_rows_total', 'gauge', 'Stripes a scrub checks', scrub.totalRows],
    ['teearray_scrub_bytes_total', 'counter', 'Shard bytes read and checked by scrubs', healing.status.counters.scrubBytes],
    ['teearray_scrubs_finished_total', 'counter', 'Scrub passes finished', healing.status.counters.scrubsFinished],
    ['teearray_scrub_repaired_shards', 'gauge', 'Shards the running or last scrub repaired, by slot', perSlot((i) => scrub.repairedBySlot[i] ?? 0)],
    ['teearray_scrub_unrecoverable_stripes', 'gauge', 'Stripes the running or last scrub could not rebuild', scrub.unrecoverableRows],
    ['teearray_scrub_last_finished_timestamp_seconds', 'gauge', 'When the last scrub finished (Unix time; 0 if none has)', scrub.finishedAt ? Date.parse(scrub.finishedAt) / 1000 : 0],
    ['teearray_spares', 'gauge', 'Spare nodes not used yet', status.spares.available.length],
    ['teearray_spares_rejected', 'gauge', 'Spare nodes refused when tried', status.spares.rejected.length],
    ['teearray_spares_unreachable', 'gauge', 'Spare nodes that could not be reached when last tried (kept, tried again)', status.spares.unreachable.length],
  ];
}

export function renderMetrics(disk: VirtualDisk, extra: Record<string, number> = {}, healing?: HealingView): string {
  const status = arrayStatus(disk, undefined, healing);
  const lines: string[] = [];
  for (const [name, value] of Object.entries(status.counters)) {
    const metric = `teearray_${snake(name)}_total`;
    lines.push(`# HELP ${metric} ${counterHelp[name] ?? name}`, `# TYPE ${metric} counter`, `${metric} ${value}`);
  }
  for (const [name, value] of Object.entries(extra)) {
    const metric = `teearray_${snake(name)}_total`;
    lines.push(`# TYPE ${metric} counter`, `${metric} ${value}`);
  }
  const gauges: [string, string, number][] = [
    ['teearray_dead_slots', 'Slots marked dead in the membership', status.deadSlots],
    ['teearray_slots', 'Slots in the array (k + m)', status.geometry.n],
    ['teearray_degraded', '1 when at least one slot is dead', status.health === 'ok' ? 0 : 1],
    ['teearray_failed', '1 when more than m slots are dead', status.health === 'failed' ? 1 : 0],
    ['teearray_journal_version', 'Version of the last committed journal entry', Number(status.journalVersion)],
    ['teearray_size_bytes', 'Size of the virtual disk', status.sizeBytes],
  ];
  for (const [metric, help, value] of gauges) lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} gauge`, `${metric} ${value}`);
  for (const [metric, type, help, samples] of healingFamilies(status, healing)) {
    lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} ${type}`);
    if (typeof samples === 'number') lines.push(`${metric} ${samples}`);
    else for (const [labels, value] of samples) lines.push(`${metric}{${labels}} ${value}`);
  }
  for (const [op, h] of [['read', disk.state.readLatency], ['write', disk.state.writeLatency]] as const) {
    lines.push(`# HELP teearray_${op}_seconds Latency of ${op} requests`, `# TYPE teearray_${op}_seconds histogram`);
    lines.push(...h.render(`teearray_${op}_seconds`));
  }
  return lines.join('\n') + '\n';
}
