// The admin HTTP API (docs/ADMIN.md): bound to loopback by default and
// protected by a bearer token compared in constant time. GET /status returns
// JSON, GET /metrics Prometheus text; with a healer, POST /slots/:slot/replace,
// POST /scrub and POST /rate drive the rebuild and the scrub. Request bodies
// are read only by those routes, only as JSON, and at most requestBytesMax
// bytes; every field is checked before anything is asked of the array. A
// typed error of the manager keeps its code and gets an HTTP status
// (httpStatusOf); anything else is a 500.
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { VirtualDisk } from '../virtual-disk.ts';
import { arrayStatus, type HealingView } from './array-status.ts';
import type { HealerStatus } from '../healing/healer.ts';
import type { ReplaceRequest, ReplaceResult } from '../healing/replace.ts';
import type { ScrubResult } from '../healing/scrub.ts';
import type { RateLimit } from '../healing/throttle.ts';

/** The healer as the admin API drives it (Healer implements it; tests may stub it). */
export interface HealingControl {
  replace(req: ReplaceRequest): Promise<ReplaceResult>;
  scrub(): ScrubResult;
  setRate(rate: RateLimit): void;
  status(): HealerStatus;
}
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
  /** The background healer: without it the POST routes do not exist (404). */
  healer?: HealingControl;
  /** The healer's figures for /status and /metrics. */
  healing?: () => HealingView;
}

export interface AdminApi {
  port: number;
  close(): Promise<void>;
}

/** Largest request body any route takes. */
export const requestBytesMax = 4096;
/** Longest endpoint a replacement may name (the manager's own bound). */
const endpointCharsMax = 1024;
const endpointRe = /^wss?:\/\/[^\s/]+(:\d+)?\/?$/;
/** Rates in bytes per second: the throttle's own bound, 1 TiB/s. */
const rateBytesMax = 2 ** 40;

/** HTTP status for each error code a route can meet; other codes are 500. */
export const httpStatusOf: Record<string, number> = {
  E_BAD_REQUEST: 400,
  E_RATE: 400,
  E_REPLACE_SLOT: 404,
  E_BODY_TOO_LARGE: 413,
  E_UNSUPPORTED_MEDIA_TYPE: 415,
  E_REPLACE_LIVE: 409,
  E_REPLACE_IN_USE: 409,
  E_REPLACE_TOO_SMALL: 422,
  E_REPLACE_UNSUPPORTED: 501,
  E_REPLACE_ATTESTATION: 502,
  E_UNAVAILABLE: 503,
  E_REPLACE_UNREACHABLE: 503,
  E_TOO_MANY_DEAD: 503,
  E_UNRECOVERABLE: 503,
  E_CLOSED: 503,
};

class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const bad = (message: string) => new RequestError('E_BAD_REQUEST', message);

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** Reads the request body: at most requestBytesMax bytes of JSON; undefined when there is none. */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > requestBytesMax) throw new RequestError('E_BODY_TOO_LARGE', `the body may be at most ${requestBytesMax} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > requestBytesMax) throw new RequestError('E_BODY_TOO_LARGE', `the body may be at most ${requestBytesMax} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;\s*charset=utf-8\s*)?$/i.test(type)) throw new RequestError('E_UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw bad(`the body is not JSON: ${(err as Error).message}`);
  }
}

/** The body as an object whose keys are all in `fields` (an absent body is {}). */
function objectBody(body: unknown, fields: string[]): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the body must be a JSON object');
  const o = body as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!fields.includes(key)) throw bad(`${key} is not a known field (known: ${fields.join(', ') || 'none'})`);
  return o;
}

function slotParam(value: string): number {
  if (!/^\d{1,3}$/.test(value)) throw bad(`slot must be a slot number, got "${value.slice(0, 32)}"`);
  return Number(value);
}

function replaceBody(body: unknown): { endpoint: string; force: boolean } {
  const o = objectBody(body, ['endpoint', 'force']);
  const { endpoint, force } = o;
  if (typeof endpoint !== 'string' || endpoint.length > endpointCharsMax || !endpointRe.test(endpoint)) throw bad('endpoint must be ws://host:port (or wss://)');
  if (force !== undefined && typeof force !== 'boolean') throw bad('force must be true or false');
  return { endpoint, force: force ?? false };
}

function rateBody(body: unknown, current: RateLimit): RateLimit {
  const o = objectBody(body, ['minBytesPerSecond', 'maxBytesPerSecond']);
  if (o.minBytesPerSecond === undefined && o.maxBytesPerSecond === undefined) throw bad('give minBytesPerSecond, maxBytesPerSecond or both');
  const value = (v: unknown, name: string, min: number) => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > rateBytesMax) throw bad(`${name} must be an integer in ${min}..${rateBytesMax}`);
    return v;
  };
  return {
    minBytesPerSecond: value(o.minBytesPerSecond, 'minBytesPerSecond', 1) ?? current.minBytesPerSecond,
    maxBytesPerSecond: value(o.maxBytesPerSecond, 'maxBytesPerSecond', 0) ?? current.maxBytesPerSecond,
  };
}

/** The JSON error answer for `err`: its code and message, and the status httpStatusOf gives the code. */
function sendError(res: Response, err: unknown): void {
  const code = (err as { code?: string }).code;
  const status = (code && httpStatusOf[code]) || 500;
  const message = String((err as Error)?.message ?? err);
  const body = { error: status === 500 && !code ? 'E_INTERNAL' : (code ?? 'E_INTERNAL'), message: code && message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message };
  if (code === 'E_UNAVAILABLE' || code === 'E_REPLACE_UNREACHABLE') res.set('retry-after', '1');
  // A body refused unread must not be parsed as the next request on this connection.
  if (status === 413 || status === 415) res.set('connection', 'close');
  res.status(status).json(body);
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
  const status = () => arrayStatus(opts.disk, opts.endpoints, opts.healing?.());
  app.get('/status', (_req, res) => {
    res.json({ ...status(), ...(opts.extraStatus?.() ?? {}) });
  });
  app.get('/metrics', (_req, res) => {
    res.type('text/plain; version=0.0.4').send(renderMetrics(opts.disk, opts.extraCounters?.(), opts.healing?.()));
  });
  const healer = opts.healer;
  if (healer) {
    app.post('/slots/:slot/replace', async (req, res) => {
      try {
        const slot = slotParam(req.params.slot);
        const { endpoint, force } = replaceBody(await readJsonBody(req));
        if (slot >= opts.disk.state.n) throw new RequestError('E_REPLACE_SLOT', `no slot ${slot}: the array has slots 0..${opts.disk.state.n - 1}`);
        const result = await healer.replace({ slot, endpoint, force, reason: `replaced by the operator with ${endpoint}${force ? ' (forced)' : ''}` });
        res.json({ ...result, state: 'rebuilding' });
      } catch (err) {
        sendError(res, err);
      }
    });
    app.post('/scrub', async (req, res) => {
      try {
        objectBody(await readJsonBody(req), []);
        const running = healer.status().scrub.running;
        healer.scrub();
        res.status(202).json({ started: !running, scrub: status().scrub });
      } catch (err) {
        sendError(res, err);
      }
    });
    app.post('/rate', async (req, res) => {
      try {
        const rate = rateBody(await readJsonBody(req), healer.status().rebuild.rate);
        healer.setRate(rate);
        res.json({ rate: healer.status().rebuild.rate });
      } catch (err) {
        sendError(res, err);
      }
    });
  }
  app.use((_req, res) => {
    res.status(404).json({ error: 'E_NOT_FOUND', message: 'no such route; see docs/ADMIN.md' });
  });
  // Express's own failures (a malformed URL): JSON like every other answer, never a stack trace.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    sendError(res, err);
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
