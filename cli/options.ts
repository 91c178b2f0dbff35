// Checked conversions of command-line values, each naming the option on error.
import { CliError } from './cli-error.ts';

export function intOption(value: string | undefined, name: string, min: number, max: number): number {
  if (value === undefined) throw new CliError(`${name} is required`);
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new CliError(`${name} must be an integer in ${min}..${max}, got "${value}"`);
  }
  return n;
}

export function hexKeyOption(value: string | undefined, name: string): Buffer {
  if (value === undefined) throw new CliError(`${name} is required`);
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new CliError(`${name} must be 64 hex digits`);
  return Buffer.from(value, 'hex');
}
