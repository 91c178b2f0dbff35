// Where a scenario's request frames go, for the simulator benchmark
// (`npm run bench -- sim --tally yes`): each frame delivered to a node is
// counted under the phase the runner was in and what the batch carries (each
// command's op and the node region it touches). Every frame costs a round of
// framing, MACs and a reply, so this is the list to cut from.
import { FrameType, Op, openHeaderBytes, requestHeaderBytes } from '../../disk-node/wire.ts';
import { commitSector, dataStart, journalHeaderSector, tableStart, type Geometry } from '../../array-manager/geometry.ts';

export type Phase = 'create' | 'io' | 'open' | 'verify';

const opNames: Record<number, string> = { [Op.read]: 'READ', [Op.write]: 'WRITE', [Op.copy]: 'COPY', [Op.trim]: 'TRIM', [Op.status]: 'STATUS', [Op.deathRead]: 'DEATH_READ', [Op.deathWrite]: 'DEATH_WRITE', [Op.attest]: 'ATTEST' };

function region(sector: number, g: Geometry | undefined): string {
  if (!g) return '';
  if (sector === commitSector) return ':commit';
  if (sector === journalHeaderSector) return ':header';
  if (sector < tableStart(g)) return ':payload';
  return sector < dataStart(g) ? ':table' : ':data';
}

/** The batch's commands as `OP:region` words, repeats of the same word folded into one. */
function describe(frame: Buffer, g: Geometry | undefined): string {
  const words: string[] = [];
  let at = frame[1] === FrameType.open ? openHeaderBytes : requestHeaderBytes;
  for (let i = frame.readUInt16BE(2); i > 0 && at < frame.length; i--) {
    const op = frame[at];
    let word = opNames[op] ?? `op${op}`;
    if (op === Op.read || op === Op.write || op === Op.trim) word += region(frame.readUInt32BE(at + 1), g);
    if (op === Op.copy) word += `${region(frame.readUInt32BE(at + 1), g)}>${region(frame.readUInt32BE(at + 5), g).slice(1)}`;
    if (words.at(-1) !== word) words.push(word);
    at += op === Op.write ? 9 + frame.readUInt32BE(at + 5) * 4096 : op === Op.copy ? 13 : op === Op.deathWrite ? 13 + frame.readUInt32BE(at + 9) : op === Op.read || op === Op.trim ? 9 : 1;
  }
  return words.join(' ');
}

export class FrameTally {
  readonly counts = new Map<string, number>();
  phase: Phase = 'create';
  /** The running array's geometry, once it has one: names regions. */
  geometry: Geometry | undefined;

  count(frame: Buffer): void {
    const key = `${this.phase}: ${describe(frame, this.geometry)}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Frames per phase, then the `top` most frequent kinds, each per scenario. */
  lines(scenarios: number, top: number): string[] {
    const perPhase = new Map<string, number>();
    for (const [key, n] of this.counts) {
      const phase = key.slice(0, key.indexOf(':'));
      perPhase.set(phase, (perPhase.get(phase) ?? 0) + n);
    }
    const fmt = (n: number) => (n / scenarios).toFixed(2);
    return [
      `frames per scenario by phase: ${[...perPhase].map(([p, n]) => `${p} ${fmt(n)}`).join(', ')}`,
      ...[...this.counts].sort((a, b) => b[1] - a[1]).slice(0, top).map(([key, n]) => `${fmt(n)} frames/scenario  ${key}`),
    ];
  }
}
