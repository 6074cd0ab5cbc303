/**
 * The one HTTP server module, which both ports mount (-http-port: API, page, metrics; -webhook-port:
 * the audit webhook), as fastify's lib/server.js is for every fastify server:
 *   - listen, plain or TLS, with a port-in-use message naming the flag that sets the port;
 *   - /healthz and /readyz with one JSON answer on every port (src/observe/readiness.ts), readiness
 *     made of what cmd/ says the process reports;
 *   - answers and errors: every error is one of src/api/http-errors.ts; an answer sent before the
 *     request body was read drains the rest of it for a moment, then closes (lingering close);
 *   - close: stop accepting, close idle keep-alive connections at once, let requests in flight
 *     finish (up to a grace period), then close what is left.
 * The port's own routes are added by its module (server.ts, src/ingest/webhook.ts).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../observe/log.ts';
import { answerReadiness, type ReadinessContributor } from '../observe/readiness.ts';
import { httpError, httpErrors, type HttpErrorAnswer, type HttpErrorSpec } from './http-errors.ts';

export interface HttpTls {
  cert: Buffer;
  key: Buffer;
  /**
   * Client CA: client certificates are asked for and checked, but the handshake finishes without one,
   * so probes that have none still reach /healthz and /readyz; routes check req.socket.authorized.
   */
  ca?: Buffer;
  /** Names the files in the error when they do not make a key pair. */
  describe: string;
}

export interface HttpServerOptions {
  /** For log lines: "HTTP", "audit webhook". */
  name: string;
  /** The flag that sets the port, named when the port is taken. */
  portFlag: string;
  port: number;
  /** Address to listen on; every address, IPv6 and IPv4, when absent. */
  host?: string;
  tls?: HttpTls;
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** What /readyz is made of. Read on every request, so parts may be added after the port opens. */
  readiness: readonly ReadinessContributor[];
  logger: Logger;
  /** The 404 answer's hint, e.g. "audit batches go to POST /audit". */
  notFoundHint: string;
  /** Headers set on every answer (the page's Content-Security-Policy). */
  headers?: Record<string, string>;
  /** Called once for every request answered (metrics). */
  onAnswered?: (req: Request, res: Response) => void;
  /** Adds the port's own routes. */
  routes: (app: express.Express, answers: HttpAnswers) => void;
}

/** How routes answer: JSON bodies and declared errors, with the lingering close. */
export interface HttpAnswers {
  answer(req: Request, res: Response, status: number, body: unknown): void;
  fail<A extends unknown[]>(req: Request, res: Response, spec: HttpErrorSpec<A>, args: A, extra?: Record<string, unknown>): void;
  /** Sends an error answer made earlier (httpError()). */
  sendError(req: Request, res: Response, error: HttpErrorAnswer): void;
  /** True once close() was called: new work is refused. */
  readonly stopping: boolean;
}

export interface RunningHttpServer {
  port: number;
  /** http(s)://host:port, with 127.0.0.1 for a server on every address. */
  origin: string;
  tls: boolean;
  /** Stops accepting, lets requests in flight finish for up to `graceMs` (default 0), then closes. */
  close(graceMs?: number): Promise<void>;
}

/** After answering before the end of a body: how much more of it to read and drop before closing. */
const LINGER = { maxBytes: 4 * 1024 * 1024, maxMs: 2000 };

export async function serveHttp(options: HttpServerOptions): Promise<RunningHttpServer> {
  const { logger } = options;
  let stopping = false;
  let inFlight = 0;
  let idle: (() => void) | undefined;

  const answers: HttpAnswers = {
    answer(req, res, status, body) {
      if (stopping) res.setHeader('Connection', 'close');
      res.status(status).json(body);
      discardRestOfBody(req, LINGER);
    },
    fail(req, res, spec, args, extra) {
      this.sendError(req, res, httpError(spec, args, extra));
    },
    sendError(req, res, { status, headers, body }) {
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      this.answer(req, res, status, body);
    },
    get stopping() {
      return stopping;
    },
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    inFlight++;
    res.on('close', () => {
      inFlight--;
      if (inFlight === 0) idle?.();
    });
    if (options.onAnswered) res.on('finish', () => options.onAnswered!(req, res));
    if (options.headers) res.set(options.headers);
    next();
  });

  app.get('/healthz', (req, res) => answers.answer(req, res, 200, { status: 'alive' }));
  app.get('/readyz', async (req, res) => {
    const readiness = await answerReadiness(options.readiness, stopping);
    answers.answer(req, res, readiness.ready ? 200 : 503, readiness.body);
  });
  app.all(['/healthz', '/readyz'], (req, res) => {
    res.setHeader('Allow', 'GET, HEAD');
    answers.fail(req, res, httpErrors.METHOD_NOT_ALLOWED, [req.method, req.path, 'GET']);
  });

  options.routes(app, answers);

  app.use((req, res) => answers.fail(req, res, httpErrors.NOT_FOUND, [req.path, options.notFoundHint]));
  app.use((error: Error, req: Request, res: Response, next: NextFunction) => {
    logger.error({ err: error.message, path: req.path }, `${options.name}: unexpected error`);
    if (res.headersSent) return next(error);
    answers.fail(req, res, httpErrors.INTERNAL, [error.message]);
  });

  const server = options.tls ? createTlsServer(options.tls, app) : http.createServer(app);
  if (options.requestTimeoutMs !== undefined) server.requestTimeout = options.requestTimeoutMs;
  if (options.headersTimeoutMs !== undefined) server.headersTimeout = options.headersTimeoutMs;
  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `cannot listen on port ${options.port} (${options.portFlag}): another process uses it; stop it or choose another ${options.portFlag}`
            : error.code === 'EACCES'
              ? `cannot listen on port ${options.port} (${options.portFlag}): permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE, choose another ${options.portFlag}`
              : `cannot listen on port ${options.port} (${options.portFlag}): ${error.message}`,
          { cause: error },
        ),
      );
    server.once('error', onError);
    server.listen({ port: options.port, host: options.host }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error.message }, `${options.name} server error`));

  const port = (server.address() as AddressInfo).port;
  const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? (options.host.includes(':') ? `[${options.host}]` : options.host) : '127.0.0.1';
  let closed: Promise<void> | undefined;
  return {
    port,
    origin: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    tls: Boolean(options.tls),
    close: (graceMs = 0) =>
      (closed ??= (async () => {
        stopping = true;
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        // Idle keep-alive connections would hold close() open until they time out.
        server.closeIdleConnections();
        if (inFlight > 0 && graceMs > 0) {
          logger.info({ inFlight }, `${options.name}: stopping, waiting for requests in flight`);
          await new Promise<void>((resolve) => {
            idle = resolve;
            setTimeout(resolve, graceMs).unref();
          });
        }
        server.closeAllConnections();
        await done;
      })()),
  };
}

function createTlsServer(tls: HttpTls, app: express.Express): https.Server {
  try {
    return https.createServer({ cert: tls.cert, key: tls.key, ca: tls.ca, minVersion: 'TLSv1.2', requestCert: Boolean(tls.ca), rejectUnauthorized: false }, app);
  } catch (error) {
    throw new Error(`cannot use ${tls.describe}: ${(error as Error).message}; they must be PEM files of one key pair`, { cause: error });
  }
}

/**
 * After answering a request whose body was not read to its end (413, 401, 415, 429): discards what
 * the client still sends for a short while, then closes the connection. Closing at once would make
 * the kernel answer the client's next bytes with a RST, and a client still writing (Go's transport,
 * Node's) may then lose the answer we sent. This is nginx's "lingering close"; nothing discarded is kept.
 */
export function discardRestOfBody(req: http.IncomingMessage, limits: { maxBytes: number; maxMs: number }): void {
  if (req.complete) return;
  const socket = req.socket;
  let discarded = 0;
  const close = () => {
    clearTimeout(timer);
    if (!req.complete) socket.destroy();
  };
  const timer = setTimeout(close, limits.maxMs);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limits.maxBytes) close();
  });
  // The whole body arrived after all: the connection is clean and can carry the next request.
  req.on('end', () => clearTimeout(timer));
  req.on('error', () => undefined);
  req.resume();
}
