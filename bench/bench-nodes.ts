// What the benchmarks that run real disk-node processes share: starting the
// nodes from the built CLI with a log quiet enough not to drown the figures,
// and the parameters they all take.
import { join } from 'node:path';
import type { KeyStore } from '../cli/key-store.ts';
import type { Logger } from '../cli/log.ts';
import { startLocalNodes, type LocalNodes } from '../cli/node-processes.ts';
import { distDir } from '../cli/paths.ts';
import { runtimeFlags } from '../cli/runtime-flags.ts';
import type { BenchOptions } from './report.ts';

export const cliPath = join(distDir, 'teearray.mjs');

/** Disk-node processes for one benchmark; once `stopping`, their exits are expected and not reported. */
export class BenchNodes {
  stopping = false;
  /** Only warnings and errors while measuring: the nodes' info lines would drown the figures. */
  readonly log: Logger;

  constructor(bench: string) {
    const line = (event: string, fields?: Record<string, unknown>) => process.stderr.write(`bench/${bench}: ${event} ${JSON.stringify(fields ?? {})}\n`);
    this.log = { info: () => {}, warn: (event, fields) => void (this.stopping || line(event, fields)), error: (event, fields) => void line(event, fields) };
  }

  /** Starts `count` nodes of `nodeMib` MiB each from the built CLI. */
  start(count: number, nodeMib: number, keys: KeyStore): Promise<LocalNodes> {
    return startLocalNodes(
      count,
      { sectors: nodeMib * 256, managerPublicKey: keys.managerPublicKey, platformDir: keys.platformDir, host: '127.0.0.1', command: [process.execPath, ...runtimeFlags, cliPath] },
      this.log,
    );
  }
}

export function parseShapes(text: string): { k: number; m: number }[] {
  return text.split(',').map((s) => {
    const match = /^(\d+)\+(\d+)$/.exec(s.trim());
    if (!match) throw new Error(`--shapes: "${s}" is not k+m`);
    return { k: Number(match[1]), m: Number(match[2]) };
  });
}

export function numberParam(opts: BenchOptions, name: string, fallback: number): number {
  const text = opts.params.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}
