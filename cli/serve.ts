// Serving an open array: the NBD export and the admin API, until SIGINT or
// SIGTERM, then a clean stop (no new requests, running ones finish, the array
// flushes, nodes are released). Shared by `teearray local` and `teearray nbd`.
import { ArrayBlockDevice } from '../array-manager/array-block-device.ts';
import { startAdminApi } from '../array-manager/http/admin-api.ts';
import { startNbdServer } from '../array-manager/nbd/nbd-server.ts';
import type { VirtualDisk } from '../array-manager/virtual-disk.ts';
import type { Logger } from './log.ts';

export interface ServeOptions {
  disk: VirtualDisk;
  nbdHost: string;
  nbdPort: number;
  adminHost: string;
  adminPort: number;
  adminToken: string;
  endpoints: string[];
  log: Logger;
  /** Printed once serving, e.g. how to attach. */
  banner?: (addresses: { nbdPort: number; adminPort: number }) => string;
  /** Extra cleanup after the array is closed (e.g. stopping local nodes). */
  onStop?: () => Promise<void>;
}

export async function serve(opts: ServeOptions): Promise<void> {
  const { disk, log } = opts;
  const nbd = await startNbdServer({
    host: opts.nbdHost,
    port: opts.nbdPort,
    exports: new ArrayBlockDevice(disk),
    log: (line) => log.info(`nbd: ${line}`),
  });
  const admin = await startAdminApi({
    disk,
    token: opts.adminToken,
    host: opts.adminHost,
    port: opts.adminPort,
    endpoints: opts.endpoints,
    extraStatus: () => ({ nbd: { ...nbd.address, connections: nbd.connections } }),
  });
  log.info('serving', { nbd: `${nbd.address.host}:${nbd.address.port}`, admin: `${opts.adminHost}:${admin.port}`, sizeBytes: disk.sizeBytes });
  if (opts.banner) process.stdout.write(opts.banner({ nbdPort: nbd.address.port, adminPort: admin.port }));
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log.info('stopping');
  await nbd.close();
  await admin.close();
  await disk.close();
  await opts.onStop?.();
  log.info('stopped');
}
