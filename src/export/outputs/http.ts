/**
 * -export-url URL: POSTs session documents to any HTTP collector, batched: up to -export-batch-size
 * documents per request, and a smaller batch once its oldest document has waited -export-batch-delay.
 * The body is a JSON array (-export-url-format array: Logstash, Fluent Bit's http input, Sentinel's
 * Logs Ingestion API, a Logic App) or one document per line (ndjson: Splunk HEC's raw endpoint, Vector).
 *
 * `Idempotency-Key` is the document's deliveryId when the batch holds one document; for several, a hash
 * of their deliveryIds in order (one request has one key), and each document carries its own deliveryId
 * for per-document de-duplication. -export-header adds headers (tokens). Redirects are not followed: a
 * collector that moved is a configuration to fix, and its answer parks the batch.
 */
import { createHash } from 'node:crypto';
import type { SessionDocument } from '../document.ts';
import { classifyStatus, describeSendError, urlOutputId, type Batching, type ExportOutput, type SendResult } from './output.ts';

export type UrlFormat = 'array' | 'ndjson';

export interface HttpOutputOptions {
  url: string;
  headers: Readonly<Record<string, string>>;
  format: UrlFormat;
  batchSize: number;
  batchDelayMs: number;
  timeoutMs: number;
}

export function idempotencyKey(documents: readonly Pick<SessionDocument, 'deliveryId'>[]): string {
  if (documents.length === 1) return documents[0]!.deliveryId;
  return createHash('sha256').update(documents.map((d) => d.deliveryId).join(',')).digest('hex');
}

export class HttpOutput implements ExportOutput {
  readonly id: string;
  readonly batching: Batching;

  constructor(private readonly options: HttpOutputOptions) {
    this.id = urlOutputId('url', options.url);
    this.batching = { size: options.batchSize, delayMs: options.batchDelayMs, onePerSession: false };
  }

  wants(): boolean {
    return true;
  }

  async send(documents: readonly SessionDocument[]): Promise<SendResult> {
    const ndjson = this.options.format === 'ndjson';
    const body = ndjson ? documents.map((d) => `${JSON.stringify(d)}\n`).join('') : JSON.stringify(documents);
    return postBody(this.options.url, body, {
      ...this.options.headers,
      'Content-Type': ndjson ? 'application/x-ndjson' : 'application/json',
      'Idempotency-Key': idempotencyKey(documents),
    }, this.options.timeoutMs);
  }

  async close(): Promise<void> {}
}

/** One POST; the answer's body is read (so the connection is reused) but never kept or logged. */
export async function postBody(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<SendResult> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'User-Agent': 'exectrail', ...headers },
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer().catch(() => undefined);
    return classifyStatus(response.status, response.headers.get('retry-after'));
  } catch (error) {
    return { outcome: 'retry', error: describeSendError(error) };
  }
}
