/**
 * The main HTTP port (`-http-port`, default 8080), served in every long-running mode:
 *   GET /healthz   the process is alive
 *   GET /readyz    the database answers and the migrations are applied (503 otherwise)
 *   GET /metrics   Prometheus text from the process's one registry
 *   GET /api/v1/…  the read-only JSON API (optionally behind a bearer token)
 *   GET /          the web page (static files in ./public, no build step)
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { Database, Queryable } from '../store/database.ts';
import { runtimeStreamStates } from '../runtime/start.ts';
import { checkReadiness } from '../store/readiness.ts';
import { findSession, listRuntimeEvents, listSessions, loadTimeline } from '../timeline/queries.ts';
import { BadRequest, parseQuery, runtimeEventsQuerySchema, sessionsQuerySchema, timelineQuerySchema } from './params.ts';

export interface ReadinessAnswer {
  ready: boolean;
  detail: unknown;
}

export interface HttpServerOptions {
  db: Database;
  metrics: Metrics;
  logger: Logger;
  /** When set, /api/* requires `Authorization: Bearer <apiToken>`. */
  apiToken?: string;
  /** Readiness check; default: the database answers and every shipped migration is applied (src/store/readiness.ts). */
  checkReady?: (db: Queryable) => Promise<ReadinessAnswer>;
}

export const publicDir = fileURLToPath(new URL('./public/', import.meta.url));

/** The token in `-api-token-file`, trimmed; a clear error when it is unreadable or empty. */
export async function readApiToken(path: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(path, 'utf8')).trim();
  } catch (error) {
    throw new Error(`cannot read -api-token-file ${path}: ${(error as Error).message}; point it at a file holding the API token`, { cause: error });
  }
  if (!token) throw new Error(`-api-token-file ${path} is empty; put the API token in it (one line)`);
  return token;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Bearer-token check in constant time (both sides hashed to the same length first). */
function requireToken(token: string) {
  const expected = digest(token);
  return (req: Request, res: Response, next: NextFunction) => {
    const match = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    if (match && timingSafeEqual(digest(match[1]!.trim()), expected)) return next();
    res.set('WWW-Authenticate', 'Bearer realm="exectrail"');
    res.status(401).json({ error: 'missing or wrong API token: send "Authorization: Bearer <token>" with the token in -api-token-file' });
  };
}

/** Headers for everything we serve: the page shows attacker-influenced text, so no inline script runs. */
function securityHeaders(_req: Request, res: Response, next: NextFunction) {
  res.set({
    'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
  });
  next();
}

export function createHttpApp(options: HttpServerOptions): express.Express {
  const { db, metrics, logger } = options;
  const checkReady = options.checkReady ?? ((q: Queryable) => checkReadiness(q));
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(securityHeaders);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'alive' });
  });
  app.get('/readyz', async (_req, res) => {
    const answer = await checkReady(db);
    // KubeArmor streams are detail, not readiness: a feeder being away must not take the API out of
    // the Service (no replay exists to catch up on anyway); their state shows here and in the logs.
    const runtimeStreams = runtimeStreamStates();
    res.status(answer.ready ? 200 : 503).json({
      status: answer.ready ? 'ready' : 'not ready',
      ...(answer.detail as object),
      ...(runtimeStreams.length ? { runtimeStreams } : {}),
    });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const api = express.Router();
  if (options.apiToken) api.use(requireToken(options.apiToken));
  api.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  api.get('/v1/sessions', async (req, res) => {
    const { cursor, ...filter } = parseQuery(sessionsQuerySchema, req.query);
    const page = await listSessions(db, { ...filter, cursor });
    res.json({ sessions: page.items, nextCursor: page.nextCursor });
  });
  api.get('/v1/sessions/:id', async (req, res) => {
    const detail = await findSession(db, req.params.id as string);
    if (!detail) {
      res.status(404).json({ error: `no exec session with id "${req.params.id}"; ids look like EXEC:<cluster>:<auditID> (URL-encoded)` });
      return;
    }
    res.json(detail);
  });
  api.get('/v1/timeline', async (req, res) => {
    res.json(await loadTimeline(db, parseQuery(timelineQuerySchema, req.query)));
  });
  api.get('/v1/runtime-events', async (req, res) => {
    const { cursor, ...filter } = parseQuery(runtimeEventsQuerySchema, req.query);
    const page = await listRuntimeEvents(db, { ...filter, cursor });
    res.json({ events: page.items, nextCursor: page.nextCursor });
  });
  api.use((req, res) => {
    res.status(404).json({ error: `no API route ${req.method} ${req.baseUrl}${req.path}; see /api/v1/sessions, /api/v1/sessions/:id, /api/v1/timeline, /api/v1/runtime-events` });
  });
  api.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof BadRequest) {
      res.status(400).json({ error: error.message, parameter: error.parameter });
      return;
    }
    logger.error({ err: error, path: req.path }, 'API request failed');
    res.status(500).json({ error: 'the database query failed; see the audit-processor log and /readyz' });
  });
  app.use('/api', api);

  app.use(express.static(publicDir, { index: 'index.html', fallthrough: true, maxAge: 0 }));
  return app;
}

export interface HttpServer {
  port: number;
  /** http://127.0.0.1:<port>, or the host it was told to listen on. */
  url: string;
  close(): Promise<void>;
}

/** Listens on `port` (0 picks a free one) and resolves once the port is bound. */
export async function startHttpServer(options: HttpServerOptions & { port: number; host?: string }): Promise<HttpServer> {
  const app = createHttpApp(options);
  const server = createServer(app);
  // No host: every address, IPv6 and IPv4 (a pod may have only one of them).
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port, host: options.host }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: NodeJS.ErrnoException) => {
    throw new Error(
      error.code === 'EADDRINUSE'
        ? `cannot serve HTTP on port ${options.port}: it is in use; stop what holds it or pick another with -http-port`
        : `cannot serve HTTP on port ${options.port}: ${error.message}`,
      { cause: error },
    );
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : '127.0.0.1';
  options.logger.info({ port }, `HTTP on port ${port}: /healthz /readyz /metrics /api/v1 and the web page at /`);
  return {
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Idle keep-alive sockets would hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}

/** The main HTTP port as the flags describe it (-http-port, -api-token-file). */
export async function startHttpServerFromFlags(
  flags: { 'http-port': number; 'api-token-file': string },
  deps: Pick<HttpServerOptions, 'db' | 'metrics' | 'logger'>,
): Promise<HttpServer> {
  const apiToken = flags['api-token-file'] ? await readApiToken(flags['api-token-file']) : undefined;
  return startHttpServer({ ...deps, port: flags['http-port'], apiToken });
}
