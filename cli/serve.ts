// Serving an open array: the NBD export, the admin API and the background
// healing (rebuild, hot spares, scrub, node probe), until SIGINT or SIGTERM,
// then a clean stop (no new requests, running ones finish, the healing stops
// after its batch in flight, the array flushes, nodes are released). Shared
// by `teearray local` and `teearray nbd`.
import { ArrayBlockDevice } from '../array-manager/array-block-device.ts';
import { startAdminApi } from '../array-manager/http/admin-api.ts';
import type { NbdListenerAddress, NbdListenSpec } from '../array-manager/nbd/nbd-listeners.ts';
import type { NbdLimits } from '../array-manager/nbd/nbd-limits.ts';
import { startNbdServer } from '../array-manager/nbd/nbd-server.ts';
import type { ArrayEvent } from '../array-manager/array-state.ts';
import type { VirtualDisk } from '../array-manager/virtual-disk.ts';
import type { HealingService } from './healing-service.ts';
import type { Logger } from './log.ts';

export interface ServeOptions {
  disk: VirtualDisk;
  /** NBD listeners with their credentials (cli/nbd-access.ts). */
  nbdListen: NbdListenSpec[];
  nbdLimits?: Partial<NbdLimits>;
  adminHost: string;
  adminPort: number;
  adminToken: string;
  endpoints: string[];
  log: Logger;
  /** Printed once serving, e.g. how to attach. */
  banner?: (addresses: { nbd: readonly NbdListenerAddress[]; adminPort: number }) => string;
  /** Extra cleanup after the array is closed (e.g. stopping local nodes). */
  onStop?: () => Promise<void>;
  /** Called once the export and the admin API listen, before the healing starts (e.g. to write the config it rewrites). */
  onServing?: (addresses: { nbd: readonly NbdListenerAddress[]; adminPort: number }) => Promise<void>;
  /** Background healing, started once serving and stopped before the array closes. */
  healing?: HealingService;
  /** Extra /status fields (e.g. `teearray local`'s node processes). */
  extraStatus?: () => Record<string, unknown>;
}

/** Events that report progress rather than trouble. */
const goodNews = new Set<ArrayEvent['kind']>(['slot-back', 'slot-replaced', 'rebuild-done', 'scrub-done']);

export async function serve(opts: ServeOptions): Promise<void> {
  const { disk, log } = opts;
  // Every slot state change, node in doubt or back, and stop of writes, with its reason.
  disk.state.onEvent = ({ kind, slot, reason }) => (goodNews.has(kind) ? log.info : log.warn)(kind, { ...(slot === undefined ? {} : { slot }), reason });
  const { healing } = opts;
  const nbd = await startNbdServer({
    listen: opts.nbdListen,
    limits: opts.nbdLimits,
    exports: new ArrayBlockDevice(disk),
    log: (line) => log.info(line), // the server's lines start with "nbd: "
  });
  const admin = await startAdminApi({
    disk,
    token: opts.adminToken,
    host: opts.adminHost,
    port: opts.adminPort,
    endpoints: opts.endpoints,
    extraStatus: () => ({ nbd: { ...firstTcp(nbd.listeners), listeners: nbd.listeners, connections: nbd.connections }, ...opts.extraStatus?.() }),
    ...(healing && { healer: healing.healer, healing: healing.view }),
  });
  await opts.onServing?.({ nbd: nbd.listeners, adminPort: admin.port });
  healing?.start();
  log.info('serving', { nbd: nbd.listeners.map(describe).join(' '), admin: `${opts.adminHost}:${admin.port}`, sizeBytes: disk.sizeBytes });
  if (opts.banner) process.stdout.write(opts.banner({ nbd: nbd.listeners, adminPort: admin.port }));
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log.info('stopping');
  await nbd.close();
  await admin.close();
  await healing?.stop();
  await disk.close();
  await opts.onStop?.();
  log.info('stopped');
}

/** host and port of the first TCP listener, for /status readers that predate several listeners. */
function firstTcp(listeners: readonly NbdListenerAddress[]): { host?: string; port?: number } {
  const tcp = listeners.find((l) => l.kind === 'tcp');
  return tcp?.kind === 'tcp' ? { host: tcp.host, port: tcp.port } : {};
}

function describe(l: NbdListenerAddress): string {
  const where = l.kind === 'unix' ? `unix:${l.path}` : `${l.host}:${l.port}`;
  return `${where}(${l.tls ? `tls-${l.tls}` : l.kind === 'unix' ? `mode ${l.mode.toString(8)}` : 'plaintext'})`;
}
