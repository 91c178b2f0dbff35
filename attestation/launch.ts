// Launches a disk node the way a platform does: read the bundle bytes once,
// measure them (build digest), create the provider for that digest and
// launch config (the platform's reporter inside the evidence envelope), then
// load exactly those bytes as a data: URL module, so nothing can change
// between measuring and loading, and call its startDiskNode with the
// provider. Node builtins resolve from a data: URL module; nothing else
// does, and the bundle needs nothing else. On hardware this launcher is part
// of the measured image, so the build digest it states is vouched for by
// the image's measurement; on the simulated platform it is the measurement.
// Trusts: the bundle file's contents are whatever they are; the evidence says
// which bytes ran. Does not handle: unloading (Node keeps the module until exit).
import { readFile, stat } from 'node:fs/promises';
import { AttestationError } from './errors.ts';
import { bundleBytesMax } from './limits.ts';
import { buildDigest } from './measurement.ts';
import { createEnvelopeProvider } from './evidence.ts';
import type { AttestationProvider, LaunchConfig } from './provider.ts';
import type { NativeReporter } from './reporters/native-reporter.ts';

export interface RunningDiskNode {
  port: number;
  core: { instanceId: Uint8Array };
  close(): Promise<void>;
}

/** The entry point disk-node/main.ts exports. */
export type StartDiskNode = (
  opts: { config: LaunchConfig; host: string; port: number; log?: (line: string) => void },
  provider: AttestationProvider,
) => Promise<RunningDiskNode>;

export interface LaunchOptions {
  /** Path of the bundle file (disk-node-bundle.ts builds it). */
  bundlePath: string;
  /** The platform's reporter for this build and launch config (sim: `simReporterFor(chip)`; hardware: configfs-tsm, Nitro). */
  reporterFor(buildDigest: Uint8Array, config: LaunchConfig): NativeReporter;
  config: LaunchConfig;
  host: string;
  port: number;
  log?: (line: string) => void;
}

export interface LaunchedDiskNode {
  node: RunningDiskNode;
  /** The node's instance id (its instance key's digest), for logs. */
  instanceId: Uint8Array;
  /** SHA-256 of the bytes that were loaded. */
  buildDigest: Uint8Array;
}

async function readBundle(path: string): Promise<Uint8Array> {
  const tooLarge = () => new AttestationError('E_ATT_BUNDLE', `${path} is larger than ${bundleBytesMax} bytes`);
  let bytes: Uint8Array;
  try {
    // stat first so an oversized file is refused without reading it.
    if ((await stat(path)).size > bundleBytesMax) throw tooLarge();
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    if (error instanceof AttestationError) throw error;
    throw new AttestationError('E_ATT_BUNDLE', `cannot read bundle ${path}: ${(error as Error).message}`, { cause: error });
  }
  // The file may have grown between stat and read; the bound holds on what was read.
  if (bytes.length > bundleBytesMax) throw tooLarge();
  return bytes;
}

/** Loads `bundle` as a module and returns its startDiskNode. */
export async function loadBundle(bundle: Uint8Array): Promise<StartDiskNode> {
  const url = `data:text/javascript;base64,${Buffer.from(bundle.buffer, bundle.byteOffset, bundle.length).toString('base64')}`;
  let module: { startDiskNode?: unknown };
  try {
    module = await import(url);
  } catch (error) {
    throw new AttestationError('E_ATT_BUNDLE', `bundle failed to load: ${(error as Error).message}`, { cause: error });
  }
  if (typeof module.startDiskNode !== 'function') throw new AttestationError('E_ATT_BUNDLE', 'bundle does not export startDiskNode');
  return module.startDiskNode as StartDiskNode;
}

export async function launchDiskNode(options: LaunchOptions): Promise<LaunchedDiskNode> {
  const bytes = await readBundle(options.bundlePath);
  const digest = buildDigest(bytes);
  const provider = createEnvelopeProvider(options.reporterFor(digest, options.config), digest, options.config);
  const startDiskNode = await loadBundle(bytes);
  const node = await startDiskNode(
    { config: options.config, host: options.host, port: options.port, log: options.log },
    provider,
  );
  return { node, instanceId: node.core.instanceId, buildDigest: digest };
}
