/**
 * The one config schema: every flag of `audit-processor`, its default and its help line.
 * Names and forms of the kubechronicle flags are kept verbatim (../shared/reference/kubechronicle-compat.md).
 */
import { z } from 'zod';
import { parseTimeBound, timeBoundHint } from '../time/time-bounds.ts';
import { builtinRedactionSummary, parseRedaction } from '../audit/redact.ts';
import { DEFAULT_AUDIT_DIR_PATTERNS_TEXT } from '../ingest/dir-discovery.ts';
import { flag, formatUsage, parseFlags, type FlagSpec, type FlagValues } from './flags.ts';

/** How `timeline` and `sessions` print (src/timeline/format.ts). */
export const outputFormats = ['text', 'json', 'markdown'] as const;
export type OutputFormat = (typeof outputFormats)[number];

export const processorFlags = {
  // Sources
  'audit-log-file': flag.string('', 'follow one audit log file (kube-apiserver --audit-log-path)'),
  'audit-log-dir': flag.string('', 'ingest every audit log in a directory, rotated backups included, then follow it'),
  'audit-log-dir-pattern': { ...flag.list(`file names -audit-log-dir reads, as shell globs (*.jsonl, 0*.gz); replaces the default set; files not taken are said once at start`), defaultText: DEFAULT_AUDIT_DIR_PATTERNS_TEXT },
  once: flag.boolean(false, 'read what the sources hold now, store it, print a summary and exit'),

  // Audit log files (src/ingest/file-source.ts)
  'start-at': flag.enumOf(['beginning', 'end'] as const, 'beginning', 'where to start in a log file never read before (no checkpoint) that is there at startup; files that appear later are read from the beginning'),
  'max-line-bytes': flag.number(16 * 1024 * 1024, 'longest log line kept (bytes); a longer one is skipped and counted as bad input line-too-long', { min: 1024 }),
  'progress-interval': flag.duration('5s', 'how often to report progress on stderr while a backlog is read (a live bar on a terminal); off for none'),
  'audit-log-follow-symlinks': flag.boolean(false, 'read symbolic links in -audit-log-dir that point outside it (by default they are skipped, and said so once per link)'),
  'log-repeat-interval': flag.duration('5m', 'an error that repeats on every pass (an unreadable file, a failing read) is logged the first time, then at most once per this interval with how many were held back'),

  // Audit webhook (kube-apiserver --audit-webhook-config-file points here; path /audit)
  'enable-webhook': flag.boolean(false, 'receive audit batches from the apiserver webhook backend on -webhook-port, path /audit'),
  'webhook-port': flag.number(8444, 'port of the audit webhook (also serves /healthz and /readyz)', { min: 0, max: 65535 }),
  'webhook-max-body': flag.number(16 * 1024 * 1024, 'largest accepted webhook body in bytes, compressed and decompressed (413 above)', { min: 1024 }),
  'webhook-max-inflight-bytes': flag.number(0, 'bytes of request bodies held at once across all webhook requests; past it a batch gets 429 with Retry-After before its body is read (0: four times -webhook-max-body)', { min: 0 }),
  'webhook-write-timeout': flag.duration('10s', 'answer 503 (the apiserver retries) when storing a batch takes longer; keep it under the apiserver 30s timeout'),
  'webhook-tls-cert-file': flag.string('', 'serve HTTPS with this certificate (PEM); plain HTTP without it'),
  'webhook-tls-key-file': flag.string('', 'private key (PEM) of -webhook-tls-cert-file'),
  'webhook-client-ca-file': flag.string('', 'require client certificates signed by this CA (mTLS; needs the TLS flags)'),
  'webhook-token-file': flag.string('', 'require "Authorization: Bearer <token>" with the token in this file'),

  // HTTP: health, metrics, the JSON API and the web page (src/api), in every long-running mode
  'http-port': flag.number(8080, 'port serving /healthz, /readyz, /metrics, the read-only JSON API under /api/v1 and the web page at /; 0 picks a free port', { min: 0, max: 65535 }),
  'api-token-file': flag.string('', 'require "Authorization: Bearer <token>" on /api/* with the token in this file (the page asks for it); open without it'),

  // Audit domain: which requests are sessions, and what their stored commands hide (src/audit)
  'node-proxy': flag.enumOf(['interactive', 'all'] as const, 'interactive', 'which nodes/proxy requests become sessions: interactive = kubelet exec, run, attach, portForward; all = every one, metrics and log scraping included'),
  redact: {
    ...flag.list(`hide secrets in commands before they are stored or logged: default (${builtinRedactionSummary}), none (turns the built-in set off), flag:--option, env:VARIABLE, re:REGEX (a comma inside it as \\x2c); the built-in set stays on unless none is given`),
    schema: z.array(z.string()).default([]).superRefine((entries, ctx) => {
      try {
        parseRedaction(entries);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
  } satisfies FlagSpec<string[]>,

  // Storage
  'database-url': flag.string('', 'PostgreSQL URL; without it an embedded database (PGlite) in -data-dir is used', 'DATABASE_URL'),
  'data-dir': flag.string('./exectrail-data', 'where the embedded database lives when no -database-url is given'),
  cluster: flag.string('', 'cluster name stamped on every row, so one database can serve many clusters'),

  // Retention (production)
  'retention-runtime': flag.duration('30d', 'drop alerts and runtime events linked to sessions once stored longer ago than this (whole days, a backfill of an old incident stays); off keeps them'),
  'retention-unlinked': flag.duration('6h', 'drop runtime events no session has linked (whole hours) once the hour is older than this and nothing arrived for it for as long; keep it longer than the audit log lags behind and, if the audit policy omits ResponseStarted, than your longest session; off keeps them'),
  'retention-sessions': flag.duration('off', 'delete exec sessions older than this (never kubechronicle rows); off keeps them'),

  // Correlation of sessions with runtime events (src/correlate)
  'correlation-skew': flag.duration('2s', 'clock difference allowed between the apiserver and the nodes: every session window is widened by it when runtime events are linked to sessions'),

  // Runtime events: KubeArmor's feeder (src/runtime)
  'kubearmor-addr': flag.list('stream KubeArmor alerts from this feeder, host:port (kubearmor-relay or a node daemon, port 32767)'),
  'kubearmor-logs': flag.boolean(false, 'ask WatchAlerts for "all" alerts instead of "policy" ones; process, file and network logs (WatchLogs "system", what shows the commands typed in a session) are always streamed'),
  'kubearmor-ca-file': flag.string('', "verify the feeders' TLS certificates with this CA (PEM); plaintext gRPC without it"),
  'kubearmor-discover': flag.optionalEnum(['relay', 'nodes'] as const, 'relay', 'find feeders in the cluster: relay = the kubearmor Service (else relay pods), nodes = every node daemon pod; pods are followed as they come and go'),
  kubeconfig: flag.string('', 'kubeconfig for -kubearmor-discover; without it the in-cluster service account (else KUBECONFIG or ~/.kube/config)'),
  'kubearmor-operations': { ...flag.list('store only KubeArmor logs of these operations (any of Process, File, Network, Capabilities, Syscall); alerts are always stored'), schema: z.array(z.string()).default(['Process', 'File', 'Network']), defaultText: 'Process,File,Network' },
  'kubearmor-raw': flag.enumOf(['alerts', 'all', 'none'] as const, 'alerts', 'which KubeArmor events also keep their raw JSON in runtime_events.raw (secrets redacted): the columns hold everything the answers use'),
  'kubearmor-file': flag.string('', 'read KubeArmor JSON lines (relay stdout, karmor logs --json, kubectl logs of the relay, daemon output) from this file and follow it; - reads stdin'),

  // Export: session documents pushed out exactly once through an outbox (src/export)
  'export-file': flag.repeated('write each session document as a JSON line to this file (- for stdout), for Fluent Bit, Fluentd, Vector or a cloud agent to tail'),
  'export-url': flag.repeated('POST session documents, batched, to this HTTP collector with Idempotency-Key set (Splunk HEC, Elastic, Sentinel, Logstash, a Logic App)'),
  'export-url-format': flag.enumOf(['array', 'ndjson'] as const, 'array', 'body of -export-url requests: a JSON array of documents, or one document per line (Splunk HEC raw, Vector)'),
  'export-header': flag.repeated("header for -export-url requests, 'Name: value'; 'Name: @/path' reads the value from a file (a token), 'Name: Prefix @/path' puts the file after a prefix"),
  'export-slack-url': flag.repeated('post one message per ended session to this Slack- or Mattermost-compatible incoming webhook'),
  'public-url': flag.string('', "this processor's page as people reach it (https://exectrail.example.com): Slack messages link to the session there"),
  'export-namespaces': flag.list('export only sessions into namespaces matching these globs (* and ?); default every namespace'),
  'export-denied': flag.boolean(false, 'export only denied attempts'),
  'export-alerts': flag.boolean(false, 'export only sessions with a KubeArmor alert (Block or Audit) linked, from the document that brings the first one'),
  'export-batch-size': flag.number(100, 'most session documents in one -export-url request', { min: 1, max: 10_000 }),
  'export-batch-delay': flag.duration('1s', 'a smaller -export-url batch is sent once its oldest document has waited this long'),
  'export-timeout': flag.duration('10s', 'longest wait for one export send; after it the documents are retried'),

  // Lifecycle (production)
  'shutdown-timeout': flag.duration('25s', 'on SIGTERM/SIGINT: stop intake, finish in-flight batches, commit checkpoints, close the pool, and exit within this long'),

  // Behaviour
  'log-level': flag.enumOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info', 'log level'),
};

export type ProcessorFlags = typeof processorFlags;
export type ProcessorConfig = FlagValues<ProcessorFlags>;

export function parseProcessorArgs(argv: readonly string[], env?: Record<string, string | undefined>) {
  return parseFlags(processorFlags, argv, env);
}

export function processorUsage(): string {
  return formatUsage('audit-processor', processorFlags, subcommandSynopsis);
}

// Subcommands `timeline` and `sessions` (src/timeline/commands.ts): answers read from the same database.
const databaseFlags = { 'database-url': processorFlags['database-url'], 'data-dir': processorFlags['data-dir'] };

/** A time as people type it: RFC 3339, or a duration before now (resolved when the command runs). */
const timeFlag = (def: string, help: string): FlagSpec<string> => ({
  kind: 'string',
  schema: z.string().default(def).refine((text) => text === '' || parseTimeBound(text) !== undefined, { message: `not a time: ${timeBoundHint}` }),
  defaultText: def,
  help,
});

export const timelineCommandFlags = {
  namespace: flag.string('', 'namespace of the pod (required)'),
  pod: flag.string('', 'the pod (required)'),
  since: timeFlag('', 'start of the window, a duration before now or a time (1h when neither -since nor -from is given)'),
  from: timeFlag('', 'start of the window (RFC 3339 or a duration before now); instead of -since'),
  to: timeFlag('', 'end of the window (default now)'),
  cluster: flag.string('', 'only this cluster (default every cluster)'),
  format: flag.enumOf(outputFormats, 'text', 'output: text for a terminal, json, markdown for an incident report'),
  ...databaseFlags,
};

export const sessionsCommandFlags = {
  user: flag.string('', 'only sessions of users whose name contains this, any case (alice finds alice@example.com)'),
  namespace: flag.string('', 'only sessions into this namespace'),
  pod: flag.string('', 'only sessions into this pod'),
  since: timeFlag('', 'only sessions started since (a duration before now or a time); without it the newest sessions, however old'),
  cluster: flag.string('', 'only this cluster (default every cluster)'),
  limit: flag.number(100, 'at most this many sessions, newest first', { min: 1, max: 10_000 }),
  format: flag.enumOf(outputFormats, 'text', 'output: text for a terminal, json, markdown for an incident report'),
  ...databaseFlags,
};

/** `serve`: the main HTTP port over a database another process fills, with no ingestion. */
export const serveCommandFlags = {
  'http-port': processorFlags['http-port'],
  'api-token-file': processorFlags['api-token-file'],
  ...databaseFlags,
  'shutdown-timeout': processorFlags['shutdown-timeout'],
  'log-level': processorFlags['log-level'],
};

export const subcommandSynopsis = [
  'serve [-http-port 8080] [-database-url URL | -data-dir DIR] [-api-token-file PATH]',
  'timeline -namespace NS -pod POD [-since 1h | -from T -to T] [-format text|json|markdown]',
  'sessions [-user U] [-since 7d] [-format text|json|markdown]',
];
