/**
 * The audit webhook target: kube-apiserver's webhook backend (`--audit-webhook-config-file`) POSTs
 * batches of audit events here (path /audit, as kubechronicle), on the one HTTP server module
 * (src/api/http-server.ts: listen, TLS, probes, errors, close). The facts that shape it
 * (../shared/reference/kubernetes-audit.md, "The webhook backend"):
 *   - the apiserver retries any status outside 200-206 with backoff (5 attempts, 30 s timeout each) and
 *     then drops the batch, so 200 is sent only after the batch's sessions are COMMITted, and a slow or
 *     absent database gets a 503 well inside those 30 s;
 *   - batches are re-sent and arrive concurrently and out of order: the session writer merges stages
 *     idempotently, so acknowledging a re-sent batch changes nothing.
 * /healthz and /readyz are served on the same port without authentication, for the kubelet's probes.
 */
import { readFileSync } from 'node:fs';
import type express from 'express';
import type { Request, Response } from 'express';
import { httpError, httpErrors } from '../api/http-errors.ts';
import { serveHttp, type HttpAnswers, type HttpTls } from '../api/http-server.ts';
import type { ExtractContext } from '../audit/extract.ts';
import { isBodyRefused, sessionsFromBody, type BodyOutcome } from '../audit/input.ts';
import { sessionIdentity, type SessionRow } from '../audit/session.ts';
import type { ProcessorConfig } from '../config/options.ts';
import { countBadInput } from '../observe/bad-input.ts';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { ReadinessContributor } from '../observe/readiness.ts';
import type { Queryable } from '../store/database.ts';
import { databaseReadiness } from '../store/readiness.ts';
import type { SessionWriteResult, SessionWriter } from '../store/session-writer.ts';
import { createAuditIntake, type AuditIntake } from './audit-intake.ts';
import { authenticateRequest, readBearerToken, type WebhookAuth } from './webhook-auth.ts';
import { InflightBytes } from './inflight-bytes.ts';
import { BodyError, readLimitedBody } from './webhook-body.ts';

/** The apiserver abandons a webhook call after 30 s (pkg/util/webhook default timeout). */
export const APISERVER_TIMEOUT_MS = 30_000;

export interface WebhookSettings {
  port: number;
  /** Address to listen on; all interfaces when absent. */
  host?: string;
  maxBodyBytes: number;
  /** Bytes of request bodies held at once across requests before answering 429; default 4 × maxBodyBytes. */
  maxInflightBytes?: number;
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
  /** For /readyz, when `readiness` is not given. */
  db: Queryable;
  context: ExtractContext;
  metrics: Metrics;
  logger: Logger;
  /** What /readyz reports (cmd/ passes the same list to both ports); default: the database alone. */
  readiness?: readonly ReadinessContributor[];
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
    maxInflightBytes: config['webhook-max-inflight-bytes'] || undefined,
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
 * STORE_REFUSED (500) for errors a retry cannot fix (SQL data, constraint, syntax: classes 22, 23, 42),
 * else STORE_UNAVAILABLE (503). A unique violation (23505) is a race between two writers inserting the
 * same session, which the re-sent batch gets past: 503. (The apiserver retries both; the status tells
 * an operator which it is.)
 */
function storeFailure(error: unknown): typeof httpErrors.STORE_REFUSED | typeof httpErrors.STORE_UNAVAILABLE {
  const code = (error as { code?: unknown }).code;
  if (code === '23505') return httpErrors.STORE_UNAVAILABLE;
  return typeof code === 'string' && /^(22|23|42)/.test(code) ? httpErrors.STORE_REFUSED : httpErrors.STORE_UNAVAILABLE;
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
  if (settings.maxInflightBytes !== undefined && settings.maxInflightBytes < settings.maxBodyBytes) {
    throw new Error(
      `-webhook-max-inflight-bytes (${settings.maxInflightBytes}) is less than -webhook-max-body (${settings.maxBodyBytes}): a full-size batch could never be received; raise it (default: 4 × -webhook-max-body)`,
    );
  }
  if (!(settings.writeTimeoutMs > 0 && settings.writeTimeoutMs < APISERVER_TIMEOUT_MS)) {
    throw new Error(
      `-webhook-write-timeout must be more than 0 and less than 30s (got ${settings.writeTimeoutMs} ms): the apiserver gives up on a webhook call after 30 s`,
    );
  }
}

/**
 * Four full-size bodies at once by default. The apiserver sends batches of at most
 * --audit-webhook-batch-max-size events (400 by default, well under 1 MB at level Metadata), at most
 * 10 a second with a burst of 15 per apiserver (--audit-webhook-batch-throttle-*), so hundreds of
 * ordinary batches fit; while a body is parsed it costs a few times its size, so four 16 MiB bodies
 * stay within a few hundred MB.
 */
export function maxInflightBytes(settings: Pick<WebhookSettings, 'maxBodyBytes' | 'maxInflightBytes'>): number {
  return settings.maxInflightBytes ?? 4 * settings.maxBodyBytes;
}

function tlsOf(settings: WebhookSettings): HttpTls | undefined {
  if (!settings.tlsCertFile) return undefined;
  return {
    cert: readPem(settings.tlsCertFile, '-webhook-tls-cert-file'),
    key: readPem(settings.tlsKeyFile!, '-webhook-tls-key-file'),
    ca: settings.clientCaFile ? readPem(settings.clientCaFile, '-webhook-client-ca-file') : undefined,
    describe: `-webhook-tls-cert-file ${settings.tlsCertFile} with -webhook-tls-key-file ${settings.tlsKeyFile}`,
  };
}

/** Starts the webhook server and resolves once it listens. */
export async function startWebhook(settings: WebhookSettings, deps: WebhookDependencies): Promise<WebhookServer> {
  validateSettings(settings);
  const { metrics, logger } = deps;
  const auth: WebhookAuth = {
    clientCertificates: Boolean(settings.clientCaFile),
    token: settings.tokenFile ? readBearerToken(settings.tokenFile) : undefined,
  };
  const server = await serveHttp({
    name: 'audit webhook',
    portFlag: '-webhook-port',
    port: settings.port,
    host: settings.host,
    tls: tlsOf(settings),
    // The apiserver gives up after 30 s, so a body that takes longer to arrive is not worth waiting for.
    requestTimeoutMs: APISERVER_TIMEOUT_MS,
    headersTimeoutMs: 10_000,
    // Longer than Go's idle connection timeout (90 s, client-go SetTransportDefaults): the apiserver closes
    // idle connections first, so it never sends a batch on a connection we are closing.
    keepAliveTimeoutMs: 95_000,
    readiness: deps.readiness ?? [databaseReadiness(deps.db)],
    logger,
    notFoundHint: 'audit batches go to POST /audit',
    onAnswered: (req, res) => {
      const path = ['/audit', '/healthz', '/readyz'].includes(req.path) ? req.path : 'other';
      metrics.webhookRequests.inc({ path, code: String(res.statusCode) });
    },
    routes: (app, answers) => mountAuditRoute(app, answers, settings, deps, auth),
  });

  const tls = server.tls;
  const shownHost = settings.host ? (settings.host.includes(':') ? `[${settings.host}]` : settings.host) : 'localhost';
  const url = `${tls ? 'https' : 'http'}://${shownHost}:${server.port}/audit`;
  const mechanisms = [auth.clientCertificates && 'client certificates (mTLS)', auth.token && 'bearer token'].filter(Boolean);
  logger.info({ url, port: server.port, tls, auth: mechanisms }, `audit webhook listening on ${url} (${tls ? 'HTTPS' : 'plain HTTP'}, auth: ${mechanisms.join(' + ') || 'none'})`);
  if (mechanisms.length === 0) {
    logger.warn(
      { port: server.port },
      'AUDIT WEBHOOK WITHOUT AUTHENTICATION: anyone who can reach this port can write exec sessions into the database. ' +
        'Give -webhook-client-ca-file (mTLS, with -webhook-tls-cert-file/-webhook-tls-key-file) or -webhook-token-file.',
    );
  } else if (!tls && auth.token) {
    logger.warn({ port: server.port }, 'audit webhook: bearer token over plain HTTP travels in clear text; give -webhook-tls-cert-file and -webhook-tls-key-file');
  }

  let stopped: Promise<void> | undefined;
  return {
    url,
    port: server.port,
    stop: () =>
      (stopped ??= (async () => {
        await server.close(settings.shutdownGraceMs ?? settings.writeTimeoutMs + 5_000);
        logger.info('audit webhook stopped');
      })()),
  };
}

/** POST /audit: authenticate, read the body within its bounds, decode, store, answer 200 after COMMIT. */
function mountAuditRoute(app: express.Express, answers: HttpAnswers, settings: WebhookSettings, deps: WebhookDependencies, auth: WebhookAuth): void {
  const { writer, context, metrics, logger } = deps;
  const intake = createAuditIntake({ writer, metrics, logger });
  const inflight = new InflightBytes(maxInflightBytes(settings), metrics.webhookBodyBytesInFlight);

  app.use('/audit', (req, res, next) => {
    const outcome = authenticateRequest(req, auth);
    if (outcome.ok) return next();
    if (outcome.bearerChallenge) res.setHeader('WWW-Authenticate', 'Bearer realm="exectrail audit webhook"');
    logger.warn({ remote: req.socket.remoteAddress, reason: outcome.message }, 'audit webhook: unauthenticated request refused');
    answers.fail(req, res, httpErrors.WEBHOOK_UNAUTHENTICATED, [outcome.message]);
  });

  app.post('/audit', async (req, res) => {
    if (answers.stopping) return answers.fail(req, res, httpErrors.SHUTTING_DOWN, []);
    const contentType = req.headers['content-type'];
    if (contentType && !/json/i.test(contentType)) {
      countBadInput(metrics, 'unsupported-content-type');
      return answers.fail(req, res, httpErrors.UNSUPPORTED_CONTENT_TYPE, [contentType]);
    }

    // The bound across requests, before a byte is read when the size is declared; a body over
    // -webhook-max-body is refused with 413 below whatever the bound.
    const reservation = inflight.reserve();
    res.on('close', () => reservation.release());
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared <= settings.maxBodyBytes && !reservation.holdUpTo(declared)) {
      logger.warn({ remote: req.socket.remoteAddress, contentLength: declared, inFlightBytes: inflight.bytes }, 'audit webhook: too many body bytes in flight; answered 429');
      return answers.fail(req, res, httpErrors.TOO_MANY_BYTES_IN_FLIGHT, []);
    }

    let body: Buffer;
    try {
      body = await readLimitedBody(req, settings.maxBodyBytes, reservation);
    } catch (error) {
      if (!(error instanceof BodyError)) throw error;
      if (error.reason) countBadInput(metrics, error.reason);
      logger.warn({ remote: req.socket.remoteAddress, status: error.status }, `audit webhook: ${error.message}`);
      return answers.sendError(req, res, error.answer);
    }

    const decoded = sessionsFromBody(body, context);
    if (isBodyRefused(decoded)) {
      countBadInput(metrics, decoded.reason);
      return answers.fail(req, res, decoded.reason === 'not-json' ? httpErrors.NOT_JSON : httpErrors.NOT_AN_EVENT_LIST, [decoded.message]);
    }
    intake.account(decoded, { remote: req.socket.remoteAddress });
    const summary = summarizeBatch(decoded);
    if (summary.rejected > 0 && summary.events === summary.rejected) {
      return answers.fail(req, res, httpErrors.NO_VALID_EVENT, [summary.firstRejection ?? ''], { ...summary });
    }

    if (decoded.rows.length > 0) {
      let result: SessionWriteResult;
      try {
        result = await writeWithDeadline(intake, decoded.rows, settings.writeTimeoutMs, logger);
      } catch (error) {
        const failure = error instanceof WriteDeadlineError ? answersFor.deadline(settings) : answersFor.store(error);
        logger.error({ status: failure.status, sessions: summary.sessions, err: (error as Error).message }, `audit webhook: ${failure.body.error}`);
        return answers.sendError(req, res, failure);
      }
      // Refused by the database even alone: counted, and said in the answer; the rest is committed.
      summary.refusedByDatabase = result.refused;
    }
    metrics.webhookEvents.inc(summary.events);
    logger.debug({ ...summary }, 'audit webhook: batch stored');
    answers.answer(req, res, 200, summary);
  });

  app.all('/audit', (req, res) => {
    res.setHeader('Allow', 'POST');
    answers.fail(req, res, httpErrors.METHOD_NOT_ALLOWED, [req.method, '/audit', 'POST (the apiserver POSTs audit batches)']);
  });
}

const answersFor = {
  deadline: (settings: WebhookSettings) => httpError(httpErrors.WRITE_TIMEOUT, [settings.writeTimeoutMs]),
  store: (error: unknown) => httpError(storeFailure(error), [(error as Error).message]),
};

/** The writer's COMMIT, or a WriteDeadlineError once timeoutMs has passed. */
async function writeWithDeadline(intake: AuditIntake, rows: SessionRow[], timeoutMs: number, logger: Logger): Promise<SessionWriteResult> {
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
    }, timeoutMs);
  });
  try {
    return await Promise.race([write, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
