/**
 * The audit webhook target: kube-apiserver's webhook backend (`--audit-webhook-config-file`) POSTs
 * batches of audit events here (path /audit, as kubechronicle). The facts that shape it
 * (../shared/reference/kubernetes-audit.md, "The webhook backend"):
 *   - the apiserver retries any status outside 200-206 with backoff (5 attempts, 30 s timeout each) and
 *     then drops the batch, so 200 is sent only after the batch's sessions are COMMITted, and a slow or
 *     absent database gets a 503 well inside those 30 s;
 *   - batches are re-sent and arrive concurrently and out of order: the session writer merges stages
 *     idempotently, so acknowledging a re-sent batch changes nothing.
 * /healthz and /readyz are served on the same port without authentication, for the kubelet's probes.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ExtractContext } from '../audit/extract.ts';
import { isBodyRefused, sessionsFromBody, type BodyOutcome } from '../audit/input.ts';
import { sessionIdentity, type SessionRow } from '../audit/session.ts';
import type { ProcessorConfig } from '../config/options.ts';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { Queryable } from '../store/database.ts';
import { checkReadiness } from '../store/readiness.ts';
import type { SessionWriteResult, SessionWriter } from '../store/session-writer.ts';
import { createAuditIntake } from './audit-intake.ts';
import { authenticateRequest, readBearerToken, type WebhookAuth } from './webhook-auth.ts';
import { BodyError, discardRestOfBody, readLimitedBody } from './webhook-body.ts';

/** The apiserver abandons a webhook call after 30 s (pkg/util/webhook default timeout). */
export const APISERVER_TIMEOUT_MS = 30_000;
/** Sent with 503; the apiserver's own first backoff (--audit-webhook-initial-backoff) is 10 s. */
const RETRY_AFTER_SECONDS = 10;
/** After answering before the end of a body: how much more of it to read and drop before closing. */
const LINGER = { maxBytes: 4 * 1024 * 1024, maxMs: 2000 };

export interface WebhookSettings {
  port: number;
  /** Address to listen on; all interfaces when absent. */
  host?: string;
  maxBodyBytes: number;
  /** Longest wait for a batch's COMMIT before answering 503. */
  writeTimeoutMs: number;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  clientCaFile?: string;
  tokenFile?: string;
  /** How long stop() lets in-flight batches finish before closing their connections. */
  shutdownGraceMs?: number;
}

export interface WebhookDependencies {
  writer: SessionWriter;
  /** For /readyz. */
  db: Queryable;
  context: ExtractContext;
  metrics: Metrics;
  logger: Logger;
}

export interface WebhookServer {
  /** e.g. https://127.0.0.1:8444/audit */
  url: string;
  port: number;
  /** Stops accepting, lets in-flight batches finish (committed and answered), then resolves. */
  stop(): Promise<void>;
}

/** What one batch held and what became of it: the body of a 200 (and of a 400 for an all-bad batch). */
export interface BatchSummary {
  /** Events in the body, valid or not. */
  events: number;
  /** Events that are a stage of an interactive-access session. */
  sessionStages: number;
  /** Distinct sessions those stages belong to, all committed when the answer is 200. */
  sessions: number;
  /** Valid events that are not interactive access (nothing to store). */
  ignored: number;
  /** Events that are not valid audit events (counted in exectrail_bad_input_total). */
  rejected: number;
  rejectedByReason: Record<string, number>;
  /** Events stored after a repair (see "Hostile input" in the README), by reason. */
  repairedByReason: Record<string, number>;
  /** Sessions the database refused even alone (counted as bad input rejected-by-database); the rest are committed. */
  refusedByDatabase: number;
  /** The first rejection, to show what is wrong. */
  firstRejection?: string;
}

/** The webhook settings the flags ask for. */
export function webhookSettingsFromConfig(config: ProcessorConfig): WebhookSettings {
  return {
    port: config['webhook-port'],
    maxBodyBytes: config['webhook-max-body'],
    writeTimeoutMs: config['webhook-write-timeout'],
    tlsCertFile: config['webhook-tls-cert-file'] || undefined,
    tlsKeyFile: config['webhook-tls-key-file'] || undefined,
    clientCaFile: config['webhook-client-ca-file'] || undefined,
    tokenFile: config['webhook-token-file'] || undefined,
  };
}

/** What one decoded batch held, for the answer. Pure. */
export function summarizeBatch(outcome: BodyOutcome): BatchSummary {
  const rejectedByReason: Record<string, number> = {};
  for (const bad of outcome.rejected) rejectedByReason[bad.reason] = (rejectedByReason[bad.reason] ?? 0) + 1;
  const repairedByReason: Record<string, number> = {};
  for (const reason of outcome.repaired) repairedByReason[reason] = (repairedByReason[reason] ?? 0) + 1;
  const first = outcome.rejected[0];
  return {
    events: outcome.events,
    sessionStages: outcome.rows.length,
    sessions: new Set(outcome.rows.map((r) => sessionIdentity(r))).size,
    ignored: outcome.ignored,
    rejected: outcome.rejected.length,
    rejectedByReason,
    repairedByReason,
    refusedByDatabase: 0,
    firstRejection: first ? `${first.reason}: ${first.detail}` : undefined,
  };
}

class WriteDeadlineError extends Error {
  override name = 'WriteDeadlineError';
}

/**
 * 500 for errors a retry cannot fix (SQL data, constraint, syntax: classes 22, 23, 42), else 503. A
 * unique violation (23505) is a race between two writers inserting the same session, which the re-sent
 * batch gets past: 503. (The apiserver retries both; the status tells an operator which it is.)
 */
function storeFailureStatus(error: unknown): 500 | 503 {
  const code = (error as { code?: unknown }).code;
  if (code === '23505') return 503;
  return typeof code === 'string' && /^(22|23|42)/.test(code) ? 500 : 503;
}

function readPem(path: string, flagName: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read ${flagName} ${path}: ${(error as Error).message}; check the path and that this user may read it`, { cause: error });
  }
}

function validateSettings(settings: WebhookSettings): void {
  if (Boolean(settings.tlsCertFile) !== Boolean(settings.tlsKeyFile)) {
    throw new Error('-webhook-tls-cert-file and -webhook-tls-key-file go together: give both to serve HTTPS, or neither');
  }
  if (settings.clientCaFile && !settings.tlsCertFile) {
    throw new Error('-webhook-client-ca-file needs -webhook-tls-cert-file and -webhook-tls-key-file: client certificates only exist over TLS');
  }
  if (!(settings.writeTimeoutMs > 0 && settings.writeTimeoutMs < APISERVER_TIMEOUT_MS)) {
    throw new Error(
      `-webhook-write-timeout must be more than 0 and less than 30s (got ${settings.writeTimeoutMs} ms): the apiserver gives up on a webhook call after 30 s`,
    );
  }
}

/** Starts the webhook server and resolves once it listens. */
export async function startWebhook(settings: WebhookSettings, deps: WebhookDependencies): Promise<WebhookServer> {
  validateSettings(settings);
  const { writer, db, context, metrics, logger } = deps;
  const intake = createAuditIntake({ writer, metrics, logger });
  const auth: WebhookAuth = {
    clientCertificates: Boolean(settings.clientCaFile),
    tokenDigest: settings.tokenFile ? readBearerToken(settings.tokenFile) : undefined,
  };
  const tls = Boolean(settings.tlsCertFile);

  let stopping = false;
  let inFlight = 0;
  let idle: (() => void) | undefined;

  /** Sends a JSON answer; an unread rest of the body is drained for a moment, then the connection closed. */
  const answer = (req: Request, res: Response, status: number, body: unknown) => {
    if (stopping) res.setHeader('Connection', 'close');
    res.status(status).json(body);
    discardRestOfBody(req, LINGER);
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
    res.on('finish', () => {
      const path = ['/audit', '/healthz', '/readyz'].includes(req.path) ? req.path : 'other';
      metrics.webhookRequests.inc({ path, code: String(res.statusCode) });
    });
    next();
  });

  app.get('/healthz', (req, res) => answer(req, res, 200, { status: 'ok' }));
  app.get('/readyz', async (req, res) => {
    if (stopping) return answer(req, res, 503, { ready: false, detail: { error: 'shutting down' } });
    const readiness = await checkReadiness(db);
    answer(req, res, readiness.ready ? 200 : 503, readiness);
  });
  app.all(['/healthz', '/readyz'], (req, res) => {
    res.setHeader('Allow', 'GET, HEAD');
    answer(req, res, 405, { error: `${req.method} is not allowed on ${req.path}; use GET` });
  });

  app.use('/audit', (req, res, next) => {
    const outcome = authenticateRequest(req, auth);
    if (outcome.ok) return next();
    if (outcome.bearerChallenge) res.setHeader('WWW-Authenticate', 'Bearer realm="exectrail audit webhook"');
    logger.warn({ remote: req.socket.remoteAddress, reason: outcome.message }, 'audit webhook: unauthenticated request refused');
    answer(req, res, 401, { error: outcome.message });
  });

  app.post('/audit', async (req, res) => {
    if (stopping) {
      res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      return answer(req, res, 503, { error: 'shutting down; the apiserver will retry (another replica, or this one after restart)' });
    }
    const contentType = req.headers['content-type'];
    if (contentType && !/json/i.test(contentType)) {
      metrics.badInput.inc({ reason: 'unsupported-content-type' });
      return answer(req, res, 415, { error: `Content-Type "${contentType}" is not supported; send application/json (an audit.k8s.io/v1 EventList)` });
    }

    let body: Buffer;
    try {
      body = await readLimitedBody(req, settings.maxBodyBytes);
    } catch (error) {
      if (!(error instanceof BodyError)) throw error;
      metrics.badInput.inc({ reason: error.reason });
      logger.warn({ remote: req.socket.remoteAddress, status: error.status }, `audit webhook: ${error.message}`);
      return answer(req, res, error.status, { error: error.message });
    }

    const decoded = sessionsFromBody(body, context);
    if (isBodyRefused(decoded)) {
      metrics.badInput.inc({ reason: decoded.reason });
      return answer(req, res, 400, { error: `${decoded.message}; send an audit.k8s.io/v1 EventList` });
    }
    intake.account(decoded, { remote: req.socket.remoteAddress });
    const summary = summarizeBatch(decoded);
    if (summary.rejected > 0 && summary.events === summary.rejected) {
      return answer(req, res, 400, { error: `no valid audit event in the body (${summary.firstRejection}); send an audit.k8s.io/v1 EventList`, ...summary });
    }

    if (decoded.rows.length > 0) {
      let result: SessionWriteResult;
      try {
        result = await writeWithDeadline(decoded.rows);
      } catch (error) {
        const status = error instanceof WriteDeadlineError ? 503 : storeFailureStatus(error);
        const message =
          error instanceof WriteDeadlineError
            ? `the database did not commit the batch within ${settings.writeTimeoutMs} ms (-webhook-write-timeout); nothing is acknowledged, the apiserver will re-send it`
            : `could not store the batch: ${(error as Error).message}; nothing is acknowledged, the apiserver will re-send it`;
        logger.error({ status, sessions: summary.sessions, err: (error as Error).message }, `audit webhook: ${message}`);
        res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
        return answer(req, res, status, { error: message });
      }
      // Refused by the database even alone: counted, and said in the answer; the rest is committed.
      summary.refusedByDatabase = result.refused;
    }
    metrics.webhookEvents.inc(summary.events);
    logger.debug({ ...summary }, 'audit webhook: batch stored');
    answer(req, res, 200, summary);
  });

  app.all('/audit', (req, res) => {
    res.setHeader('Allow', 'POST');
    answer(req, res, 405, { error: `${req.method} is not allowed on /audit; the apiserver POSTs audit batches` });
  });

  app.use((req, res) => answer(req, res, 404, { error: `no such path ${req.path}; audit batches go to POST /audit` }));

  app.use((error: Error, req: Request, res: Response, next: NextFunction) => {
    logger.error({ err: error.message, path: req.path }, 'audit webhook: unexpected error');
    if (res.headersSent) return next(error);
    res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    answer(req, res, 500, { error: `internal error: ${error.message}` });
  });

  /** The writer's COMMIT, or a WriteDeadlineError once writeTimeoutMs has passed. */
  async function writeWithDeadline(rows: SessionRow[]): Promise<SessionWriteResult> {
    const write = intake.store(rows, { source: 'webhook' });
    let timedOut = false;
    // The write keeps going after the deadline; whatever it does then is harmless (the batch is
    // re-sent and the writer is idempotent) but must not become an unhandled rejection.
    write.then(
      () => timedOut && logger.info('audit webhook: a batch answered 503 was committed after its deadline; the re-sent batch will change nothing'),
      () => undefined,
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new WriteDeadlineError());
      }, settings.writeTimeoutMs);
    });
    try {
      return await Promise.race([write, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  const server = tls ? createTlsServer(settings, app) : http.createServer(app);
  // The apiserver gives up after 30 s, so a body that takes longer to arrive is not worth waiting for.
  server.requestTimeout = APISERVER_TIMEOUT_MS;
  server.headersTimeout = 10_000;
  // Longer than Go's idle connection timeout (90 s, client-go SetTransportDefaults): the apiserver closes
  // idle connections first, so it never sends a batch on a connection we are closing.
  server.keepAliveTimeout = 95_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `cannot listen on port ${settings.port}: another process uses it; stop it or choose another -webhook-port`
            : `cannot listen on port ${settings.port}: ${error.message}`,
          { cause: error },
        ),
      ),
    );
    server.listen(settings.port, settings.host, () => resolve());
  });
  server.on('error', (error) => logger.error({ err: error.message }, 'audit webhook server error'));

  const port = (server.address() as AddressInfo).port;
  const shownHost = settings.host ? (settings.host.includes(':') ? `[${settings.host}]` : settings.host) : 'localhost';
  const url = `${tls ? 'https' : 'http'}://${shownHost}:${port}/audit`;
  const mechanisms = [auth.clientCertificates && 'client certificates (mTLS)', auth.tokenDigest && 'bearer token'].filter(Boolean);
  logger.info({ url, port, tls, auth: mechanisms }, `audit webhook listening on ${url} (${tls ? 'HTTPS' : 'plain HTTP'}, auth: ${mechanisms.join(' + ') || 'none'})`);
  if (mechanisms.length === 0) {
    logger.warn(
      { port },
      'AUDIT WEBHOOK WITHOUT AUTHENTICATION: anyone who can reach this port can write exec sessions into the database. ' +
        'Give -webhook-client-ca-file (mTLS, with -webhook-tls-cert-file/-webhook-tls-key-file) or -webhook-token-file.',
    );
  } else if (!tls && auth.tokenDigest) {
    logger.warn({ port }, 'audit webhook: bearer token over plain HTTP travels in clear text; give -webhook-tls-cert-file and -webhook-tls-key-file');
  }

  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (inFlight > 0) {
          logger.info({ inFlight }, 'audit webhook: stopping, waiting for in-flight batches');
          const grace = settings.shutdownGraceMs ?? settings.writeTimeoutMs + 5_000;
          await new Promise<void>((resolve) => {
            idle = resolve;
            setTimeout(resolve, grace).unref();
          });
        }
        server.closeAllConnections();
        await closed;
        logger.info('audit webhook stopped');
      })()),
  };
}

function createTlsServer(settings: WebhookSettings, app: express.Express): https.Server {
  const cert = readPem(settings.tlsCertFile!, '-webhook-tls-cert-file');
  const key = readPem(settings.tlsKeyFile!, '-webhook-tls-key-file');
  const ca = settings.clientCaFile ? readPem(settings.clientCaFile, '-webhook-client-ca-file') : undefined;
  try {
    return https.createServer(
      {
        cert,
        key,
        ca,
        minVersion: 'TLSv1.2',
        // Ask for a client certificate but finish the handshake without one, so /healthz and /readyz
        // work for probes that have none; /audit then checks req.socket.authorized and answers 401.
        requestCert: Boolean(ca),
        rejectUnauthorized: false,
      },
      app,
    );
  } catch (error) {
    throw new Error(
      `cannot use -webhook-tls-cert-file ${settings.tlsCertFile} with -webhook-tls-key-file ${settings.tlsKeyFile}: ${(error as Error).message}; they must be PEM files of one key pair`,
      { cause: error },
    );
  }
}
