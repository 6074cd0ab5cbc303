/**
 * The delivery loop: one per output, over the outbox (src/export/outbox.ts). Each round claims what may
 * go (a full batch, or a smaller one whose oldest document has waited the output's batch delay), renders
 * the documents not rendered yet (src/export/document.ts, once, kept for every output and re-send),
 * sends, and settles: delivered; retried after a backoff with jitter (src/time/backoff.ts) on a network
 * error, a timeout, 408, 429 or 5xx; parked on any other 4xx (logged, counted, shown on /readyz).
 *
 * Guarantees, on PostgreSQL and PGlite, with one process or several on one PostgreSQL:
 *   - a document is delivered at least once per output; only a re-send after a lost acknowledgement
 *     (the receiver took it, the answer never came, or the process died before marking it) repeats it,
 *     with the same deliveryId and bytes;
 *   - a session's documents go out on each output in sequence order: a document is claimed only when no
 *     earlier one of its session is pending on that output (a parked one does not hold the rest);
 *   - outputs are independent: each has its own delivery rows, backoff and loop.
 */
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { ReadinessContributor } from '../observe/readiness.ts';
import { describeDatabaseError, type Database, type Queryable } from '../store/database.ts';
import type { SessionChange } from '../store/session-changes.ts';
import { Backoff, sleepUnlessAborted } from '../time/backoff.ts';
import { renderDocument, type SessionDocument } from './document.ts';
import { OutboxStore, recordChanges, type StoredDocument } from './outbox.ts';
import type { ExportOutput } from './outputs/output.ts';
import { compileSelection, type ExportSelection } from './select.ts';

export interface ExporterOptions {
  db: Database;
  outputs: readonly ExportOutput[];
  selection: ExportSelection;
  logger: Logger;
  metrics: Metrics;
  /** Longest wait for one send; a claim is leased for this plus a margin. */
  timeoutMs: number;
  /** Idle wait between looks at the outbox. */
  pollMs?: number;
  /** First and longest retry delay after a failed send. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

interface OutputStatus {
  lastError?: { at: string; error: string };
  lastDeliveredAt?: string;
}

const LEASE_MARGIN_MS = 5_000;

export class Exporter {
  private readonly store: OutboxStore;
  private readonly selected: ReturnType<typeof compileSelection>;
  private readonly status = new Map<string, OutputStatus>();
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(private readonly options: ExporterOptions) {
    this.store = new OutboxStore(options.db);
    this.selected = compileSelection(options.selection);
    for (const output of options.outputs) this.status.set(output.id, {});
  }

  get outputIds(): string[] {
    return this.options.outputs.map((o) => o.id);
  }

  /** The hook for the session writer and the correlator: records documents inside their transaction. */
  readonly record = (tx: Queryable, changes: readonly SessionChange[]): Promise<void> => recordChanges(tx, changes, this.outputIds);

  start(): void {
    for (const output of this.options.outputs) this.loops.push(this.run(output));
    this.loops.push(this.pruneLoop());
    this.options.logger.info({ outputs: this.outputIds }, `exporting sessions to ${this.outputIds.join(', ')}`);
  }

  /** Resolves once no document is pending on any output (for -once), or when stopped. */
  async drain(): Promise<void> {
    let lastReportMs = Date.now();
    while (!this.abort.signal.aborted) {
      const backlog = await this.store.backlog(this.outputIds);
      const waiting = [...backlog].filter(([, b]) => b.pending > 0);
      if (waiting.length === 0) return;
      if (Date.now() - lastReportMs >= 10_000) {
        lastReportMs = Date.now();
        const text = waiting.map(([output, b]) => `${b.pending} to ${output}${this.status.get(output)?.lastError ? ` (last error: ${this.status.get(output)!.lastError!.error})` : ''}`).join(', ');
        this.options.logger.info({ waiting: Object.fromEntries(waiting.map(([o, b]) => [o, b.pending])) }, `waiting for session documents to go out: ${text}; SIGTERM stops waiting (the next run sends them)`);
      }
      await sleepUnlessAborted(250, this.abort.signal);
    }
  }

  /** Stops claiming; a send in flight finishes (or is re-sent by the next run). */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
    await Promise.all(this.options.outputs.map((o) => o.close()));
  }

  private async run(output: ExportOutput): Promise<void> {
    const signal = this.abort.signal;
    const backoff = new Backoff({ initialMs: this.options.retryInitialMs ?? 500, maxMs: this.options.retryMaxMs ?? 60_000 });
    const pollMs = this.options.pollMs ?? 250;
    let lastGaugeMs = 0;
    while (!signal.aborted) {
      try {
        if (Date.now() - lastGaugeMs >= 1000) {
          lastGaugeMs = Date.now();
          await this.updateGauges(output.id);
        }
        const ready = await this.store.ready(output.id, output.batching.size);
        if (ready.count === 0 || (ready.count < output.batching.size && ready.oldestSeconds * 1000 < output.batching.delayMs)) {
          await sleepUnlessAborted(pollMs, signal);
          continue;
        }
        const delayMs = await this.round(output, backoff);
        if (delayMs > 0) await sleepUnlessAborted(delayMs, signal);
      } catch (error) {
        // The database being away: wait and look again (nothing was marked, the leases expire).
        const delay = backoff.next();
        this.noteError(output.id, `database: ${describeDatabaseError(error)}`);
        this.options.logger.warn({ output: output.id, err: describeDatabaseError(error), retryInMs: delay }, 'export could not read the outbox; retrying (check that the database is reachable)');
        await sleepUnlessAborted(delay, signal);
      }
    }
  }

  /** Deletes long-settled documents now and then (the first time a minute after start). */
  private async pruneLoop(): Promise<void> {
    const signal = this.abort.signal;
    await sleepUnlessAborted(60_000, signal);
    while (!signal.aborted) {
      try {
        while ((await this.store.prune()) > 0 && !signal.aborted);
      } catch (error) {
        this.options.logger.warn({ err: describeDatabaseError(error) }, 'deleting old export documents failed; trying again in an hour');
      }
      await sleepUnlessAborted(3_600_000, signal);
    }
  }

  /** One claim, send and settle; returns how long to wait before the next (a backoff after a failure). */
  private async round(output: ExportOutput, backoff: Backoff): Promise<number> {
    const { metrics, logger } = this.options;
    const claimed = await this.store.claim(output.id, output.batching.size, this.options.timeoutMs + LEASE_MARGIN_MS);
    if (claimed.length === 0) return 0;
    const documents = await this.rendered(claimed);
    const order = new Map(claimed.map((c, i) => [`${c.sessionId}\u0000${c.sequence}`, i]));
    documents.sort((a, b) => order.get(`${a.sessionId}\u0000${a.sequence}`)! - order.get(`${b.sessionId}\u0000${b.sequence}`)!);
    const deliveredBefore = output.batching.onePerSession ? await this.store.sessionsDelivered(output.id, documents.map((d) => d.sessionId)) : new Set<string>();
    const toSend = documents.filter((d) => d.selected && d.document && output.wants(d.document as unknown as SessionDocument, deliveredBefore.has(d.sessionId)));
    const skipped = documents.filter((d) => !toSend.includes(d));
    await this.store.skipped(output.id, skipped);
    if (toSend.length === 0) return 0;
    const result = await output.send(toSend.map((d) => d.document as unknown as SessionDocument));
    const labels = { output: output.id };
    if (result.outcome === 'delivered') {
      await this.store.delivered(output.id, toSend);
      metrics.exportDelivered.inc(labels, toSend.length);
      this.status.get(output.id)!.lastDeliveredAt = new Date().toISOString();
      backoff.reset();
      return 0;
    }
    this.noteError(output.id, result.error);
    if (result.outcome === 'park') {
      await this.store.parked(output.id, toSend, result.error);
      metrics.exportParked.inc(labels, toSend.length);
      logger.error({ output: output.id, error: result.error, documents: toSend.length }, `${output.id} refused ${toSend.length} session documents (${result.error}): parked, not retried; fix the output's configuration (URL, headers, token), then see export_deliveries rows with state 'parked'`);
      return 0;
    }
    const delay = Math.max(backoff.next(), result.retryAfterMs ?? 0);
    await this.store.retryLater(output.id, toSend, delay, result.error);
    metrics.exportRetried.inc(labels, toSend.length);
    const log = backoff.failures === 1 ? logger.warn.bind(logger) : logger.debug.bind(logger);
    log({ output: output.id, error: result.error, documents: toSend.length, failures: backoff.failures, retryInMs: delay }, `sending to ${output.id} failed (${result.error}); retrying in ${delay} ms`);
    return delay;
  }

  /** The claimed documents, rendering those never rendered (once: the first renderer's content is kept). */
  private async rendered(claimed: readonly { sessionId: string; sequence: number }[]): Promise<StoredDocument[]> {
    const stored = await this.store.documents(claimed);
    const fresh = stored.filter((d) => d.selected === null);
    if (fresh.length === 0) return stored;
    const rendered = [];
    for (const header of fresh) {
      const document = await renderDocument(this.options.db, header);
      rendered.push({ sessionId: header.sessionId, sequence: header.sequence, document: (document as Record<string, unknown> | undefined) ?? null, selected: document ? this.selected(document.session) : false });
    }
    const kept = new Map((await this.store.storeRendered(rendered)).map((d) => [`${d.sessionId}\u0000${d.sequence}`, d]));
    return stored.map((d) => kept.get(`${d.sessionId}\u0000${d.sequence}`) ?? d);
  }

  private noteError(output: string, error: string): void {
    this.status.get(output)!.lastError = { at: new Date().toISOString(), error };
  }

  private async updateGauges(output: string): Promise<void> {
    const backlog = (await this.store.backlog([output])).get(output);
    this.options.metrics.exportPending.set({ output }, backlog?.pending ?? 0);
    this.options.metrics.exportOldestPendingSeconds.set({ output }, backlog?.oldestPendingSeconds ?? 0);
  }

  /** The export's part of /readyz: detail only (an output being away does not stop ingestion). */
  readiness(): ReadinessContributor {
    return async () => {
      const backlog = await this.store.backlog(this.outputIds);
      return {
        fields: {
          exportOutputs: this.outputIds.map((output) => ({ output, ...backlog.get(output), ...this.status.get(output) })),
        },
      };
    };
  }
}
