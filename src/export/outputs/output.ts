/**
 * What every export output is to the delivery loop (src/export/delivery.ts): a stable name, how it
 * batches, which documents it takes, and a send that says delivered, retry or park.
 */
import { createHash } from 'node:crypto';
import type { SessionDocument } from '../document.ts';

export type SendResult =
  | { outcome: 'delivered' }
  /** retryAfterMs: the receiver's Retry-After, when it gave one (waited at least, instead of a shorter backoff). */
  | { outcome: 'retry'; error: string; retryAfterMs?: number }
  | { outcome: 'park'; error: string };

/** Longest Retry-After honoured: a receiver cannot stop an output for longer than the backoff's own maximum would. */
const MAX_RETRY_AFTER_MS = 60_000;

/** Retry-After as seconds or an HTTP date (RFC 9110), in milliseconds from `nowMs`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) * 1000 : Date.parse(value) - nowMs;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : undefined;
}

/** How an output batches: the delivery loop sends when `size` documents are ready or the oldest waited `delayMs`. */
export interface Batching {
  /** Most documents per send. */
  size: number;
  delayMs: number;
  /** Whether wants() needs to know if the session already had a document delivered here (costs a query). */
  onePerSession: boolean;
}

export interface ExportOutput {
  /** Stored in export_deliveries.output and used as the metrics label: never a secret (URLs are hashed). */
  readonly id: string;
  readonly batching: Batching;
  /**
   * Documents it takes; the others are marked skipped for it (Slack takes one message per session).
   * `deliveredBefore`: an earlier document of the session was delivered on this output.
   */
  wants(document: SessionDocument, deliveredBefore: boolean): boolean;
  send(documents: readonly SessionDocument[]): Promise<SendResult>;
  close(): Promise<void>;
}

/**
 * The name of a URL output: the host, which is safe to show, and a hash of the whole URL (a Slack
 * webhook URL is itself the secret; a collector URL may carry a token in its query).
 */
export function urlOutputId(kind: 'url' | 'slack', url: string): string {
  const host = new URL(url).host;
  return `${kind}:${host}:${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;
}

/** What an HTTP answer means for the documents sent: 2xx delivered; 408, 429 and 5xx retried; other 4xx parked. */
export function classifyStatus(status: number, retryAfter: string | null = null): SendResult {
  if (status >= 200 && status < 300) return { outcome: 'delivered' };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return retryAfterMs === undefined ? { outcome: 'retry', error: `HTTP ${status}` } : { outcome: 'retry', error: `HTTP ${status}`, retryAfterMs };
  }
  return { outcome: 'park', error: `HTTP ${status}` };
}

/** A failed request as a log line may show it: the error code, never a body or the URL. */
export function describeSendError(error: unknown): string {
  const err = error as { name?: string; code?: string; cause?: { code?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'timed out';
  return err?.cause?.code ?? err?.code ?? 'request failed';
}
