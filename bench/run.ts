// Benchmark runner: `npm run bench` runs every benchmark, `npm run bench -- NAME`
// runs one, `--json FILE` writes the figures, `--quick` shortens each run.
// A benchmark is a module bench/NAME.ts exporting `run(opts): Promise<BenchResult>`;
// the modules in `reserved` are the runner and the benchmarks' shared helpers.
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatResult, type BenchOptions, type BenchResult } from './report.ts';
import { runtimeFlags } from '../cli/runtime-flags.ts';

const here = dirname(fileURLToPath(import.meta.url));
const reserved = new Set(['run', 'report', 'bench-nodes', 'cpu-meter', 'floor']);

function available(): string[] {
  return readdirSync(here)
    .filter((f) => f.endsWith('.ts') && !reserved.has(f.slice(0, -3)))
    .map((f) => f.slice(0, -3))
    .sort();
}

function parseArgs(argv: string[]): { names: string[]; json?: string; opts: BenchOptions } {
  const names: string[] = [];
  const params = new Map<string, string>();
  let json: string | undefined;
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') {
      json = argv[++i];
      if (!json) throw new Error('--json needs a file name');
    } else if (arg === '--quick') {
      quick = true;
    } else if (arg.startsWith('--')) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new Error(`${arg} needs a value`);
      params.set(arg.slice(2), value);
      i++;
    } else {
      names.push(arg);
    }
  }
  return { names, json, opts: { params, quick } };
}

async function main(): Promise<void> {
  const { names, json, opts } = parseArgs(process.argv.slice(2));
  const all = available();
  for (const name of names) {
    if (!all.includes(name)) throw new Error(`unknown benchmark "${name}"; available: ${all.join(', ')}`);
  }
  // The figures depend on the runtime's flags (cli/runtime-flags.ts): say which ran.
  const missing = runtimeFlags.filter((f) => !process.execArgv.includes(f));
  console.log(`runtime: node ${process.version} ${runtimeFlags.filter((f) => !missing.includes(f)).join(' ')}${missing.length ? ` (without ${missing.join(' ')}: run it through npm run bench)` : ''}`);
  const results: BenchResult[] = [];
  for (const name of names.length ? names : all) {
    const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as {
      run: (o: BenchOptions) => Promise<BenchResult>;
    };
    const result = await mod.run(opts);
    results.push(result);
    console.log(formatResult(result));
  }
  if (json) writeFileSync(json, JSON.stringify(results, null, 2) + '\n');
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
