/**
 * Every error either HTTP port answers, declared once with its code, status and message (fastify's
 * lib/errors.js). A route never picks a status or writes an error body itself: it names one of these.
 * The body is always `{"error": <message saying what to do>, "code": <code>}`, with extra fields some
 * errors add (the bad `parameter`, a batch's counts). The README's "HTTP errors" table lists exactly
 * these (test/api/http-errors.test.ts checks both ways).
 */

export interface HttpErrorSpec<A extends unknown[] = never[]> {
  code: string;
  status: number;
  message: (...args: A) => string;
  /** Seconds for a Retry-After header (503, 429): when trying again may help. */
  retryAfterSeconds?: number;
}

const declare = <A extends unknown[]>(code: string, status: number, message: (...args: A) => string, retryAfterSeconds?: number): HttpErrorSpec<A> => ({
  code,
  status,
  message,
  retryAfterSeconds,
});

/** Sent with 503 and 429; the apiserver's own first backoff (--audit-webhook-initial-backoff) is 10 s. */
export const RETRY_AFTER_SECONDS = 10;

export const httpErrors = {
  // ---- both ports -------------------------------------------------------------------------------
  NOT_FOUND: declare('NOT_FOUND', 404, (path: string, hint: string) => `no such path ${path}; ${hint}`),
  METHOD_NOT_ALLOWED: declare('METHOD_NOT_ALLOWED', 405, (method: string, path: string, allowed: string) => `${method} is not allowed on ${path}; use ${allowed}`),
  INTERNAL: declare('INTERNAL', 500, (detail: string) => `internal error: ${detail}; see the audit-processor log`, RETRY_AFTER_SECONDS),

  // ---- -http-port: the JSON API -----------------------------------------------------------------
  API_TOKEN_REQUIRED: declare('API_TOKEN_REQUIRED', 401, () => 'missing or wrong API token: send "Authorization: Bearer <token>" with the token in -api-token-file'),
  BAD_PARAMETER: declare('BAD_PARAMETER', 400, (message: string) => message),
  SESSION_NOT_FOUND: declare('SESSION_NOT_FOUND', 404, (id: string) => `no exec session with id "${id}"; ids look like EXEC:<cluster>:<auditID> (URL-encoded)`),
  API_ROUTE_NOT_FOUND: declare(
    'API_ROUTE_NOT_FOUND',
    404,
    (method: string, path: string) => `no API route ${method} ${path}; see /api/v1/sessions, /api/v1/sessions/:id, /api/v1/timeline, /api/v1/runtime-events`,
  ),
  QUERY_FAILED: declare('QUERY_FAILED', 500, () => 'the database query failed; see the audit-processor log and /readyz'),

  // ---- -webhook-port: the audit webhook ---------------------------------------------------------
  WEBHOOK_UNAUTHENTICATED: declare('WEBHOOK_UNAUTHENTICATED', 401, (why: string) => why),
  UNSUPPORTED_CONTENT_TYPE: declare(
    'UNSUPPORTED_CONTENT_TYPE',
    415,
    (contentType: string) => `Content-Type "${contentType}" is not supported; send application/json (an audit.k8s.io/v1 EventList)`,
  ),
  UNSUPPORTED_ENCODING: declare('UNSUPPORTED_ENCODING', 415, (encoding: string) => `Content-Encoding "${encoding}" is not supported; send the body plain or gzip-compressed`),
  BODY_TOO_LARGE: declare(
    'BODY_TOO_LARGE',
    413,
    (what: string, maxBytes: number) =>
      `${what} is larger than ${maxBytes} bytes (-webhook-max-body); lower the apiserver's --audit-webhook-batch-max-size or raise -webhook-max-body`,
  ),
  BAD_GZIP: declare('BAD_GZIP', 400, (detail: string) => `Content-Encoding is gzip but the body is not valid gzip: ${detail}`),
  BODY_READ_ERROR: declare('BODY_READ_ERROR', 400, (detail: string) => `could not read the request body: ${detail}`),
  NOT_JSON: declare('NOT_JSON', 400, (why: string) => `${why}; send an audit.k8s.io/v1 EventList`),
  NOT_AN_EVENT_LIST: declare('NOT_AN_EVENT_LIST', 400, (why: string) => `${why}; send an audit.k8s.io/v1 EventList`),
  NO_VALID_EVENT: declare('NO_VALID_EVENT', 400, (first: string) => `no valid audit event in the body (${first}); send an audit.k8s.io/v1 EventList`),
  TOO_MANY_BYTES_IN_FLIGHT: declare(
    'TOO_MANY_BYTES_IN_FLIGHT',
    429,
    () =>
      'the request bodies being received add up to more than -webhook-max-inflight-bytes; this batch is not stored, the apiserver will re-send it (raise -webhook-max-inflight-bytes, or run more replicas)',
    RETRY_AFTER_SECONDS,
  ),
  SHUTTING_DOWN: declare('SHUTTING_DOWN', 503, () => 'shutting down; the apiserver will retry (another replica, or this one after restart)', RETRY_AFTER_SECONDS),
  WRITE_TIMEOUT: declare(
    'WRITE_TIMEOUT',
    503,
    (timeoutMs: number) =>
      `the database did not commit the batch within ${timeoutMs} ms (-webhook-write-timeout); nothing is acknowledged, the apiserver will re-send it`,
    RETRY_AFTER_SECONDS,
  ),
  STORE_UNAVAILABLE: declare(
    'STORE_UNAVAILABLE',
    503,
    (detail: string) => `could not store the batch: ${detail}; nothing is acknowledged, the apiserver will re-send it`,
    RETRY_AFTER_SECONDS,
  ),
  STORE_REFUSED: declare(
    'STORE_REFUSED',
    500,
    (detail: string) => `could not store the batch: ${detail}; nothing is acknowledged, the apiserver will re-send it`,
    RETRY_AFTER_SECONDS,
  ),
} as const;

export type HttpErrorCode = keyof typeof httpErrors;

/** The JSON body of an error answer. */
export interface HttpErrorBody {
  error: string;
  code: string;
  [extra: string]: unknown;
}

/** One declared error made into an answer: status, headers and body. */
export interface HttpErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: HttpErrorBody;
}

/** The status, headers and body of one declared error. */
export function httpError<A extends unknown[]>(spec: HttpErrorSpec<A>, args: A, extra: Record<string, unknown> = {}): HttpErrorAnswer {
  return {
    status: spec.status,
    headers: spec.retryAfterSeconds ? { 'Retry-After': String(spec.retryAfterSeconds) } : {},
    body: { error: spec.message(...args), code: spec.code, ...extra },
  };
}
