/**
 * The main HTTP port (`-http-port`, default 8080), served in every long-running mode, on the one HTTP
 * server module (http-server.ts):
 *   GET /healthz   the process is alive
 *   GET /readyz    whether it can do its work, and why not (the same answer as on -webhook-port)
 *   GET /metrics   Prometheus text from the process's one registry
 *   GET /api/v1/…  the read-only JSON API (optionally behind a bearer token)
 *   GET /          the web page (static files in ./public, no build step)
 */
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { ReadinessContributor } from '../observe/readiness.ts';
import type { Database } from '../store/database.ts';
import { databaseReadiness } from '../store/readiness.ts';
import { findSession, listRuntimeEvents, listSessions, loadTimeline } from '../timeline/queries.ts';
import { BearerToken, readTokenFile } from './bearer-token.ts';
import { httpErrors } from './http-errors.ts';
import { serveHttp, type HttpAnswers } from './http-server.ts';
import { BadRequest, parseQuery, runtimeEventsQuerySchema, sessionsQuerySchema, timelineQuerySchema } from './params.ts';

export interface HttpServerOptions {
  db: Database;
  metrics: Metrics;
  logger: Logger;
  /** When set, /api/* requires `Authorization: Bearer <apiToken>`. */
  apiToken?: string;
  /** What /readyz reports; default: the database alone. */
  readiness?: readonly ReadinessContributor[];
}

export const publicDir = fileURLToPath(new URL('./public/', import.meta.url));

/** The token in `-api-token-file`, trimmed; a clear error when it is unreadable or empty. */
export async function readApiToken(path: string): Promise<string> {
  return readTokenFile(path, '-api-token-file', 'the API token');
}

/** Headers for everything we serve: the page shows attacker-influenced text, so no inline script runs. */
const securityHeaders = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** The routes of the main port: metrics, the API, the page. */
function mountRoutes(app: express.Express, answers: HttpAnswers, options: HttpServerOptions): void {
  const { db, metrics, logger } = options;
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const api = express.Router();
  if (options.apiToken) {
    const token = new BearerToken(options.apiToken);
    api.use((req, res, next) => {
      if (token.check(req.get('authorization')) === 'ok') return next();
      res.set('WWW-Authenticate', 'Bearer realm="exectrail"');
      answers.fail(req, res, httpErrors.API_TOKEN_REQUIRED, []);
    });
  }
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
    const id = req.params.id as string;
    if (id.includes('\u0000')) return answers.fail(req, res, httpErrors.BAD_PARAMETER, ['the session id must not contain a NUL character'], { parameter: 'id' });
    const detail = await findSession(db, id);
    if (!detail) return answers.fail(req, res, httpErrors.SESSION_NOT_FOUND, [id]);
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
  api.use((req, res) => answers.fail(req, res, httpErrors.API_ROUTE_NOT_FOUND, [req.method, `${req.baseUrl}${req.path}`]));
  api.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof BadRequest) return answers.fail(req, res, httpErrors.BAD_PARAMETER, [error.message], { parameter: error.parameter });
    logger.error({ err: error, path: req.path }, 'API request failed');
    answers.fail(req, res, httpErrors.QUERY_FAILED, []);
  });
  app.use('/api', api);

  app.use(express.static(publicDir, { index: 'index.html', fallthrough: true, maxAge: 0 }));
}

export interface HttpServer {
  port: number;
  /** http://127.0.0.1:<port>, or the host it was told to listen on. */
  url: string;
  close(): Promise<void>;
}

/** Listens on `port` (0 picks a free one) and resolves once the port is bound. */
export async function startHttpServer(options: HttpServerOptions & { port: number; host?: string }): Promise<HttpServer> {
  const server = await serveHttp({
    name: 'HTTP',
    portFlag: '-http-port',
    port: options.port,
    host: options.host,
    readiness: options.readiness ?? [databaseReadiness(options.db)],
    logger: options.logger,
    headers: securityHeaders,
    notFoundHint: 'the page is at /, the API under /api/v1, health at /healthz and /readyz, metrics at /metrics',
    routes: (app, answers) => mountRoutes(app, answers, options),
  });
  options.logger.info({ port: server.port }, `HTTP on port ${server.port}: /healthz /readyz /metrics /api/v1 and the web page at /`);
  return { port: server.port, url: server.origin, close: () => server.close() };
}

/** The main HTTP port as the flags describe it (-http-port, -api-token-file). */
export async function startHttpServerFromFlags(
  flags: { 'http-port': number; 'api-token-file': string },
  deps: Pick<HttpServerOptions, 'db' | 'metrics' | 'logger' | 'readiness'>,
): Promise<HttpServer> {
  const apiToken = flags['api-token-file'] ? await readApiToken(flags['api-token-file']) : undefined;
  return startHttpServer({ ...deps, port: flags['http-port'], apiToken });
}
