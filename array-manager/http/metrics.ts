// Prometheus text exposition (format 0.0.4) of an open array's counters,
// health and latency histograms.
import type { VirtualDisk } from '../virtual-disk.ts';
import { arrayStatus } from './array-status.ts';

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
};

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function renderMetrics(disk: VirtualDisk, extra: Record<string, number> = {}): string {
  const status = arrayStatus(disk);
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
  for (const [op, h] of [['read', disk.state.readLatency], ['write', disk.state.writeLatency]] as const) {
    lines.push(`# HELP teearray_${op}_seconds Latency of ${op} requests`, `# TYPE teearray_${op}_seconds histogram`);
    lines.push(...h.render(`teearray_${op}_seconds`));
  }
  return lines.join('\n') + '\n';
}
