/**
 * Counters every stage reports to (prom-client). One Metrics object per process (tests make their own),
 * served at /metrics and read back for the `-once` summary, so the two always agree.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(options: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'exectrail_' });
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name: `exectrail_${name}`, help, labelNames, registers: [registry] });
  return {
    registry,
    linesRead: counter('lines_read_total', 'audit log lines read'),
    bytesRead: counter('bytes_read_total', 'audit log bytes read'),
    linesMatched: counter('lines_matched_total', 'lines holding at least one interactive-access event'),
    sessionStagesSeen: counter('session_stages_total', 'interactive-access events (session stages) extracted'),
    sessionsStored: counter('sessions_stored_total', 'session rows inserted or updated (committed)'),
    sessionsNew: counter('sessions_new_total', 'sessions stored for the first time (committed inserts): how many distinct sessions were found'),
    auditIdReuse: counter('audit_id_reuse_total', 'sessions stored under an Audit-ID another request already used (a client sets that header: a tampering signal)'),
    badInput: counter('bad_input_total', 'input rejected, by reason (README "Bad input": a log line the pre-filter drops is judged by its first and last bytes and a [Truncated...] search, not parsed)', ['reason']),
    eventsDropped: counter('events_dropped_total', 'events lost (must stay 0)'),
    // File sources (src/ingest/file-source-events.ts)
    checkpointLagBytes: new Gauge({
      name: 'exectrail_file_checkpoint_lag_bytes',
      help: 'bytes of a followed file past its saved checkpoint (read but not yet committed, or not yet read), by file',
      labelNames: ['file'],
      registers: [registry],
    }),
    fileSourceErrors: counter(
      'file_source_errors_total',
      'file source errors by kind: unreadable (a file that cannot be opened, per attempt), pass-failed (a pass that failed and is retried); the logs say each once per -log-repeat-interval',
      ['error'],
    ),
    // Runtime events (src/runtime: KubeArmor feeder streams and JSON lines).
    runtimeLinesRead: counter('runtime_lines_read_total', 'KubeArmor JSON lines read from -kubearmor-file (a file, not stdin)'),
    runtimeBytesRead: counter('runtime_bytes_read_total', 'bytes of KubeArmor JSON lines read from -kubearmor-file (a file, not stdin)'),
    runtimeEventsReceived: counter('runtime_events_received_total', 'KubeArmor alerts and logs received and normalised, by source (grpc, file)', ['source']),
    runtimeEventsStored: counter('runtime_events_stored_total', 'runtime_events rows inserted (committed), by kind (alert, log)', ['kind']),
    runtimeEventsFiltered: counter('runtime_events_filtered_total', 'KubeArmor logs dropped before storing by the intake filter (-kubearmor-operations), by operation', ['operation']),
    runtimePartitionsDropped: counter('runtime_partitions_dropped_total', 'time partitions dropped by retention, by tier (transient: unlinked logs; kept: alerts and linked events; links)', ['tier']),
    runtimeEventsDroppedByRetention: counter('runtime_events_retention_dropped_total', 'runtime events dropped with their partition by retention (PostgreSQL\'s estimate of the rows each held), by tier', ['tier']),
    runtimeEventsDuplicate: counter('runtime_events_duplicate_total', 'runtime events already stored (same event received twice), committed as no-ops'),
    runtimeEventsPending: new Gauge({ name: 'exectrail_runtime_events_pending', help: 'runtime events received and not yet committed', registers: [registry] }),
    runtimeStreamState: new Gauge({
      name: 'exectrail_runtime_stream_state',
      help: 'feeder stream state: 1 for the state each (address, stream) is in (connecting, streaming, paused, backoff, stopped)',
      labelNames: ['address', 'stream', 'state'],
      registers: [registry],
    }),
    runtimeStreamReconnects: counter('runtime_stream_reconnects_total', 'feeder streams re-opened after an end or error, by address and stream', ['address', 'stream']),
    runtimeStreamPaused: counter('runtime_stream_paused_total', 'times a feeder stream was paused because the database fell behind (backpressure)', ['address', 'stream']),
    runtimeCommitHookErrors: counter('runtime_commit_hook_errors_total', 'after-commit hook (correlation) failures for stored runtime events'),
    webhookRequests: counter('webhook_requests_total', 'audit webhook requests answered, by path and HTTP status', ['path', 'code']),
    webhookEvents: counter('webhook_events_total', 'audit events received in acknowledged (200) webhook batches'),
    webhookBodyBytesInFlight: new Gauge({
      name: 'exectrail_webhook_body_bytes_in_flight',
      help: 'bytes of webhook request bodies being received or processed now (bounded by -webhook-max-inflight-bytes; 429 past it)',
      registers: [registry],
    }),
    // Correlation (src/correlate)
    correlationLinks: counter('correlation_links_total', 'links between exec sessions and runtime events added or changed by correlation'),
    correlationPasses: counter('correlation_passes_total', 'correlation passes over the pods that changed, by result', ['result']),
    correlationFailures: counter('correlation_failures_total', 'pod passes that failed (each pod is retried with its own backoff; the others go on)'),
    correlationFailingPods: new Gauge({ name: 'exectrail_correlation_failing_pods', help: 'pods whose last correlation pass failed, waiting for a retry', registers: [registry] }),
    correlationSeconds: new Histogram({
      name: 'exectrail_correlation_pass_seconds',
      help: 'duration of one correlation pass (load sessions and runtime events, decide, write links)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    // Export (src/export): session documents pushed to files, HTTP collectors and chat.
    exportDelivered: counter('export_delivered_total', 'session documents delivered (acknowledged with 2xx, or written and flushed), by output', ['output']),
    exportRetried: counter('export_retried_total', 'session documents whose send failed and will be retried (backoff with jitter), by output', ['output']),
    exportParked: counter('export_parked_total', 'session documents the receiver refused (4xx other than 408 and 429): logged and parked, not retried, by output', ['output']),
    exportPending: new Gauge({ name: 'exectrail_export_pending', help: 'session documents recorded and not yet delivered, by output', labelNames: ['output'], registers: [registry] }),
    exportOldestPendingSeconds: new Gauge({
      name: 'exectrail_export_oldest_undelivered_seconds',
      help: 'age of the oldest session document not yet delivered (0 when none is waiting), by output',
      labelNames: ['output'],
      registers: [registry],
    }),
    dbWriteSeconds: new Histogram({
      name: 'exectrail_db_write_seconds',
      help: 'latency of one committed database write batch',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

/** The current value of a counter (summed over labels). */
export async function counterValue(counter: Counter): Promise<number> {
  const { values } = await counter.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

/** Per-label values of a counter, e.g. bad input by reason. */
export async function counterByLabel(counter: Counter, label: string): Promise<Record<string, number>> {
  const { values } = await counter.get();
  const out: Record<string, number> = {};
  for (const v of values) {
    const key = String(v.labels[label] ?? '');
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}
