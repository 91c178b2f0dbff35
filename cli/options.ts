// Checked conversions of command-line values, each naming the option on error.
import { CliError } from './cli-error.ts';
import { poolWorkersMax } from '../array-manager/crypto/crypto-pool.ts';
import type { CryptoWorkers } from '../array-manager/sector-batch.ts';

export function intOption(value: string | undefined, name: string, min: number, max: number): number {
  if (value === undefined) throw new CliError(`${name} is required`);
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new CliError(`${name} must be an integer in ${min}..${max}, got "${value}"`);
  }
  return n;
}

/** `auto` or a count of crypto worker threads (array-manager/sector-batch.ts). */
export function cryptoWorkersOption(value: string | undefined, name: string): CryptoWorkers {
  if (value === 'auto') return value;
  if (value === undefined || !/^\d+$/.test(value) || Number(value) > poolWorkersMax) {
    throw new CliError(`${name} must be auto or an integer in 0..${poolWorkersMax}, got "${value ?? ''}"`);
  }
  return Number(value);
}

/**
 * A comma-separated list of distinct slot numbers below `slots`
 * (`--accept-lost 2,3`); undefined when the option is absent.
 */
export function slotListOption(value: string | undefined, name: string, slots: number): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',');
  if (value.length > 1024 || parts.length > slots) throw new CliError(`${name} lists more slots than the array's ${slots}`);
  const list = parts.map((p) => intOption(p.trim(), name, 0, slots - 1));
  if (new Set(list).size !== list.length) throw new CliError(`${name} lists a slot twice`);
  return list;
}

export function hexKeyOption(value: string | undefined, name: string): Buffer {
  if (value === undefined) throw new CliError(`${name} is required`);
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new CliError(`${name} must be 64 hex digits`);
  return Buffer.from(value, 'hex');
}
