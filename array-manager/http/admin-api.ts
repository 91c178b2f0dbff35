// The admin HTTP API (docs/ADMIN.md): bound to loopback by default and
// protected by a bearer token compared in constant time. GET /status returns
// JSON, GET /metrics Prometheus text. No route accepts a body, so none is read.
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { VirtualDisk } from '../virtual-disk.ts';
import { arrayStatus } from './array-status.ts';
import { renderMetrics } from './metrics.ts';

export interface AdminApiOptions {
  disk: VirtualDisk;
  token: string;
  host?: string;
  port?: number;
  endpoints?: string[];
  /** Extra status fields (e.g. the NBD export's address) and extra counters for /metrics. */
  extraStatus?: () => Record<string, unknown>;
  extraCounters?: () => Record<string, number>;
}

export interface AdminApi {
  port: number;
  close(): Promise<void>;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export function adminApp(opts: AdminApiOptions): express.Express {
  if (opts.token.length < 16) throw new Error('the admin token must be at least 16 characters');
  const app = express();
  app.disable('x-powered-by');
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!tokenMatches(req.get('authorization'), opts.token)) {
      res.status(401).json({ error: 'E_UNAUTHORIZED', message: 'missing or wrong bearer token' });
      return;
    }
    next();
  });
  app.get('/status', (_req, res) => {
    res.json({ ...arrayStatus(opts.disk, opts.endpoints), ...(opts.extraStatus?.() ?? {}) });
  });
  app.get('/metrics', (_req, res) => {
    res.type('text/plain; version=0.0.4').send(renderMetrics(opts.disk, opts.extraCounters?.()));
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'E_NOT_FOUND', message: 'no such route; see docs/ADMIN.md' });
  });
  return app;
}

export async function startAdminApi(opts: AdminApiOptions): Promise<AdminApi> {
  const app = adminApp(opts);
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
