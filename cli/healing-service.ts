// The serving manager's background healing (cli/serve.ts): a Healer
// (array-manager/healing/healer.ts, with the node probe that notices lost
// nodes on an idle array) configured from the config file's `spares`,
// `rebuild`, `scrub` and `health` sections, and the two things the healer
// persists through the CLI:
//
// - a replaced slot's endpoint and the spares left go into the config file
//   (cli/config-file.ts), before the membership changes;
// - the scrub's checkpoint goes into DATA_DIR/scrub.json, tagged with the
//   array id, so a restarted manager resumes a scrub of the same array (and
//   shows the last finished one) and ignores one of another array.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VirtualDisk } from '../array-manager/virtual-disk.ts';
import { Healer } from '../array-manager/healing/healer.ts';
import type { ScrubResult } from '../array-manager/healing/scrub.ts';
import type { HealingView } from '../array-manager/http/array-status.ts';
import type { RebuildConfig, ScrubConfig } from './array-config.ts';
import { persistEndpointChange, writeFileAtomic, type EndpointChange } from './config-file.ts';
import type { Logger } from './log.ts';

export interface HealingOptions {
  spares: string[];
  rebuild: RebuildConfig;
  scrub: ScrubConfig;
  /** How often every node is probed (0 = never). */
  probeMs: number;
  /** The config file the healer rewrites when a slot's node changes; undefined = nothing to rewrite. */
  configPath?: string;
  /** Where the scrub checkpoint lives. */
  dataDir: string;
  log: Logger;
}

export interface HealingService {
  healer: Healer;
  /** What the admin API reports. */
  view(): HealingView;
  start(): void;
  /** Stops the probe and the healer (a batch in flight finishes); the disk stays open. */
  stop(): Promise<void>;
}

/** The scrub checkpoint file's content. */
interface ScrubCheckpoint {
  arrayId: string;
  result: ScrubResult;
  unrecoverableRows: number;
}

export const scrubCheckpointFile = 'scrub.json';
/** Largest checkpoint read back (1024 lost ranges at most, each under 100 bytes). */
const checkpointBytesMax = 256 * 1024;

function isScrubResult(v: unknown): v is ScrubResult {
  const r = v as ScrubResult;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.startedAt === 'string' &&
    (r.finishedAt === undefined || typeof r.finishedAt === 'string') &&
    Number.isSafeInteger(r.rowsChecked) &&
    r.rowsChecked >= 0 &&
    Number.isSafeInteger(r.totalRows) &&
    typeof r.repairedBySlot === 'object' &&
    r.repairedBySlot !== null &&
    Object.values(r.repairedBySlot).every((n) => Number.isSafeInteger(n) && n >= 0) &&
    Array.isArray(r.unrecoverable) &&
    r.unrecoverable.length <= 1024
  );
}

/** The checkpoint of this array's last scrub, or undefined if there is none (or it is unreadable, or of another array). */
export async function loadScrubCheckpoint(dataDir: string, arrayId: string): Promise<ScrubCheckpoint | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, scrubCheckpointFile), 'utf8');
  } catch {
    return undefined;
  }
  if (text.length > checkpointBytesMax) return undefined;
  try {
    const c = JSON.parse(text) as ScrubCheckpoint;
    if (c.arrayId !== arrayId || !isScrubResult(c.result)) return undefined;
    return { arrayId, result: c.result, unrecoverableRows: Number.isSafeInteger(c.unrecoverableRows) ? c.unrecoverableRows : c.result.unrecoverable.length };
  } catch {
    return undefined;
  }
}

export async function createHealing(disk: VirtualDisk, opts: HealingOptions): Promise<HealingService> {
  const { log } = opts;
  const arrayId = disk.state.arrayId.toString('hex');
  const checkpoint = await loadScrubCheckpoint(opts.dataDir, arrayId);
  const resume = checkpoint && checkpoint.result.finishedAt === undefined ? checkpoint.result : undefined;
  const lastScrub = checkpoint?.result.finishedAt !== undefined ? { ...checkpoint.result, unrecoverableRows: checkpoint.unrecoverableRows } : undefined;
  if (resume) log.info('scrub resumed', { rowsChecked: resume.rowsChecked, totalRows: resume.totalRows, startedAt: resume.startedAt });
  let healer: Healer;
  const persist = async (change: EndpointChange) => {
    if (!opts.configPath) return;
    await persistEndpointChange(opts.configPath, change);
    log.info('config rewritten', { file: opts.configPath, ...(change.slot >= 0 && { slot: change.slot, endpoint: change.endpoint }), spares: change.spares.length });
  };
  const persistScrub = async (result: ScrubResult) => {
    const c: ScrubCheckpoint = { arrayId, result, unrecoverableRows: healer.scrubber.unrecoverableRows };
    // A lost checkpoint only costs re-checking some stripes: a failed write is logged, not fatal.
    await writeFileAtomic(join(opts.dataDir, scrubCheckpointFile), JSON.stringify(c) + '\n', 0o600).catch((err: Error) => log.warn('scrub checkpoint not written', { reason: err.message }));
  };
  healer = new Healer(disk, {
    rate: { minBytesPerSecond: opts.rebuild.minBytesPerSecond, maxBytesPerSecond: opts.rebuild.maxBytesPerSecond },
    rebuild: { stripesPerBatch: opts.rebuild.stripesPerBatch, checkpointMs: opts.rebuild.checkpointMs },
    scrub: { stripesPerBatch: opts.rebuild.stripesPerBatch },
    scrubIntervalMs: opts.scrub.intervalMs,
    spares: opts.spares,
    autoReplace: opts.rebuild.autoReplace,
    replaceDelayMs: opts.rebuild.replaceDelayMs,
    reuseRestarted: opts.rebuild.reuseRestarted,
    probeMs: opts.probeMs,
    persist,
    persistScrub,
    ...(resume && { resumeScrub: resume }),
  });
  return {
    healer,
    view: () => {
      const status = healer.status();
      const scrubbedNow = 'startedAt' in status.scrub && status.scrub.startedAt !== undefined;
      return {
        status,
        autoReplace: opts.rebuild.autoReplace,
        ...(!scrubbedNow && lastScrub && { lastScrub }),
      };
    },
    start() {
      healer.start();
      log.info('healing started', {
        spares: opts.spares.length,
        autoReplace: opts.rebuild.autoReplace,
        rebuilding: disk.state.rebuildingSlots().join(',') || undefined,
        scrubIntervalHours: opts.scrub.intervalMs / 3_600_000,
        probeSeconds: opts.probeMs / 1000,
      });
    },
    async stop() {
      await healer.stop();
    },
  };
}
