/**
 * The database schema (drizzle). `npm run db:generate` turns changes here into SQL in migrations/.
 *
 * change_events keeps kubechronicle's columns, names, types and NOT NULLs verbatim
 * (../shared/reference/kubechronicle-compat.md) so its users' SQL and dashboards keep working; the
 * columns after `created_at` are ours. The first migration is edited by hand to be additive
 * (IF NOT EXISTS everywhere) because kubechronicle may have created the table already.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  json,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import type { Actor, ExecMetadata, Source } from '../audit/session-documents.ts';

export const changeEvents = pgTable(
  'change_events',
  {
    id: varchar('id', { length: 255 }).primaryKey(),
    timestamp: timestamp('timestamp', { withTimezone: true, mode: 'string', precision: 6 }).notNull(),
    operation: varchar('operation', { length: 50 }).notNull(),
    resourceKind: varchar('resource_kind', { length: 100 }).notNull(),
    namespace: varchar('namespace', { length: 255 }).notNull(),
    name: varchar('name', { length: 255 }).notNull(),
    // kubechronicle's admission rows hold other documents here; an EXEC row holds ours (src/audit/session-documents.ts).
    actor: jsonb('actor').$type<Actor>().notNull(),
    source: jsonb('source').$type<Source>().notNull(),
    diff: jsonb('diff'),
    objectSnapshot: jsonb('object_snapshot'),
    allowed: boolean('allowed').notNull().default(true),
    blockPattern: varchar('block_pattern', { length: 255 }),
    execMetadata: jsonb('exec_metadata').$type<ExecMetadata>(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'string' }).defaultNow(),
    // exectrail's own columns. NULL for kubechronicle's admission rows.
    auditId: varchar('audit_id', { length: 255 }),
    /** SHA-256 of what every stage of one request shares (src/audit/session.ts requestKeyOf): two requests reusing one auditID are two rows. */
    requestKey: varchar('request_key', { length: 64 }),
    cluster: varchar('cluster', { length: 255 }).notNull().default(''),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).defaultNow(),
  },
  (t) => [
    // A session is one request: the Audit-ID header is client-set, so the ID alone is not unique.
    uniqueIndex('change_events_session_key').on(t.cluster, t.auditId, t.requestKey),
    index('idx_change_events_timestamp').on(t.timestamp.desc()),
    index('idx_change_events_resource').on(t.resourceKind, t.namespace, t.name),
    index('idx_change_events_operation').on(t.operation),
    index('idx_change_events_actor_username').on(sql`(${t.actor}->>'username')`),
    index('idx_change_events_source_tool').on(sql`(${t.source}->>'tool')`),
    index('idx_change_events_allowed').on(t.allowed),
    index('idx_change_events_actor_gin').using('gin', t.actor),
    index('idx_change_events_source_gin').using('gin', t.source),
    index('idx_change_events_exec_metadata_gin').using('gin', t.execMetadata),
  ],
);

/** A change_events row as the schema declares it (src/audit/session.ts SessionRow is the EXEC row). */
export type ChangeEventRow = typeof changeEvents.$inferSelect;

/**
 * Read positions of audit log files, keyed by a fingerprint of the file's content (not its path:
 * lumberjack renames the live file and gzips it later, ../shared/reference/kubernetes-audit.md).
 * A row advances only after the rows read up to `offset` are committed.
 */
export const fileCheckpoints = pgTable(
  'file_checkpoints',
  {
    cluster: varchar('cluster', { length: 255 }).notNull().default(''),
    fingerprint: varchar('fingerprint', { length: 128 }).notNull(),
    path: text('path').notNull(),
    offset: bigint('offset', { mode: 'number' }).notNull(),
    /** The file is finished (a gzipped backup read to its end, or a renamed backup drained). */
    completed: boolean('completed').notNull().default(false),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'string' }).defaultNow().notNull(),
  },
  (t) => [primaryKey({ columns: [t.cluster, t.fingerprint] })],
);

/** KubeArmor's `Podowner`: the workload that owns the pod. */
export interface RuntimeEventOwner {
  kind: string | null;
  name: string | null;
  namespace: string | null;
}

/**
 * One row per KubeArmor alert or log (../shared/reference/kubearmor-feeder.md): the one declaration of a
 * runtime event. src/runtime/event.ts builds it, src/runtime/writer.ts stores it, correlation and the
 * answers read it, each through the columns of this table (src/store/columns.ts).
 *
 * In PostgreSQL and PGlite the table is partitioned (migrations/0007_runtime_events_partitioned.sql,
 * src/store/partitions.ts): by LIST on `kept`, then by RANGE on `event_time`, hourly for what may go
 * (`kept = false`: logs no session has claimed, dropped whole after -retention-unlinked) and daily for
 * what stays (alerts, and events linked to a session, dropped whole after -retention-runtime).
 */
export const runtimeEvents = pgTable(
  'runtime_events',
  {
    /** 32 hex: the first 128 bits of a SHA-256 of the event's identity (src/runtime/event-key.ts), so the same event from two relays or a re-read file is one row. */
    eventKey: varchar('event_key', { length: 32 }).notNull(),
    /** UpdatedTime (microseconds), else Timestamp (whole seconds), clamped into the stored range; `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
    eventTime: timestamp('event_time', { withTimezone: true, mode: 'string', precision: 6 }).notNull(),
    /** When exectrail received it. */
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'string', precision: 6 }).defaultNow().notNull(),
    /** Kept for the sessions' retention (an alert, or linked to a session); false: dropped after -retention-unlinked. */
    kept: boolean('kept').notNull().default(false),
    /** exectrail's `-cluster` (the same name as change_events.cluster, so the two join); KubeArmor's ClusterName is not kept. */
    cluster: varchar('cluster', { length: 255 }).notNull().default(''),
    kind: varchar('kind', { length: 8 }).$type<'alert' | 'log'>().notNull(),
    hostName: text('host_name'),
    nodeId: text('node_id'),
    namespace: text('namespace'),
    pod: text('pod'),
    containerName: text('container_name'),
    containerId: text('container_id'),
    containerImage: text('container_image'),
    labels: text('labels'),
    /** The pod's owner (`Podowner`), null when KubeArmor sent none. */
    owner: jsonb('owner').$type<RuntimeEventOwner>(),
    processName: text('process_name'),
    parentProcessName: text('parent_process_name'),
    pid: integer('pid'),
    ppid: integer('ppid'),
    hostPid: integer('host_pid'),
    hostPpid: integer('host_ppid'),
    uid: integer('uid'),
    cwd: text('cwd'),
    tty: text('tty'),
    /** `ExecEvent.ExecID`: set when the process entered the container via setns (kubectl exec); KubeArmor's "0" is stored as null. */
    execId: text('exec_id'),
    executableName: text('executable_name'),
    type: text('type'),
    operation: text('operation'),
    /** The command line of a process event (secrets redacted), the path of a file event, the address of a network event. */
    resource: text('resource'),
    source: text('source'),
    data: text('data'),
    result: text('result'),
    policyName: text('policy_name'),
    severity: text('severity'),
    tags: text('tags'),
    message: text('message'),
    action: text('action'),
    enforcer: text('enforcer'),
    /** The event as received (sanitised, secrets redacted), for alerts; for logs only with -kubearmor-raw=all. */
    raw: jsonb('raw').$type<Record<string, unknown>>(),
  },
  (t) => [
    // The partition keys are part of the key (PostgreSQL requires it); an event's key and time decide its kept value once stored.
    // Time first (migration 0009): inserts land at the end of the index instead of at a random place of
    // a hash-ordered one (30 % less insert time measured), and the key serves the runtime events API,
    // which lists newest first across pods, so no index on the time alone is needed.
    primaryKey({ columns: [t.eventTime, t.eventKey, t.kept] }),
    // Correlation and the timeline load one pod's events between two times, whatever the container.
    index('idx_runtime_events_pod_time').on(t.cluster, t.namespace, t.pod, t.eventTime),
  ],
);

export type RuntimeEventRow = typeof runtimeEvents.$inferSelect;

/**
 * When each time partition of runtime_events was last written (src/store/partitions.ts). Retention keeps
 * a partition until nothing was written into it for its tier's limit, so that a backfill of an old
 * incident stays long enough for correlation to claim what its sessions ran.
 */
export const runtimePartitionWrites = pgTable('runtime_partition_writes', {
  partition: text('partition').primaryKey(),
  writtenAt: timestamp('written_at', { withTimezone: true, mode: 'string' }).defaultNow().notNull(),
});

/**
 * Which runtime events an exec session caused (src/correlate). Recomputed idempotently whenever either
 * side arrives. The view `exec_session_processes` (hand-written migration) joins it for SQL users.
 * Partitioned by RANGE on `event_time`, daily, beside the kept runtime events it points at.
 */
export const execSessionLinks = pgTable(
  'exec_session_links',
  {
    sessionId: varchar('session_id', { length: 255 }).notNull(),
    eventKey: varchar('event_key', { length: 32 }).notNull(),
    eventTime: timestamp('event_time', { withTimezone: true, mode: 'string', precision: 6 }).notNull(),
    cluster: varchar('cluster', { length: 255 }).notNull().default(''),
    /** 'process-tree' or 'window'. */
    linkMethod: varchar('link_method', { length: 32 }).notNull(),
    linkedAt: timestamp('linked_at', { withTimezone: true, mode: 'string' }).defaultNow().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.sessionId, t.eventKey, t.eventTime] }),
    index('idx_exec_session_links_event').on(t.eventKey, t.eventTime),
  ],
);

/**
 * The export outbox (src/export): one row per session document, written in the same transaction as the
 * session or link change that causes it (src/store/session-writer.ts, src/correlate/pod-pass.ts), so a
 * committed change always has its document and a rolled-back one never does.
 *
 * `sequence` counts a session's documents from 1 (export_sequences holds the last one given: its
 * upsert locks the session's counter, so two writers of one session take turns). The content is
 * rendered once, when the document is first claimed for delivery, and kept: every output and every
 * re-send carries the same bytes for one `delivery_id`.
 */
export const exportSequences = pgTable('export_sequences', {
  sessionId: varchar('session_id', { length: 255 }).primaryKey(),
  lastSequence: integer('last_sequence').notNull(),
});

export const exportDocuments = pgTable(
  'export_documents',
  {
    sessionId: varchar('session_id', { length: 255 }).notNull(),
    sequence: integer('sequence').notNull(),
    /** opened, ended or updated. */
    event: varchar('event', { length: 16 }).$type<'opened' | 'ended' | 'updated'>().notNull(),
    deliveryId: uuid('delivery_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'string', precision: 6 }).defaultNow().notNull(),
    /** Null until first claimed; then the session document as delivered (src/export/document.ts). json, not jsonb: its keys keep the API's order. */
    document: json('document'),
    /** Null until rendered; false when the export selection (-export-namespaces, -export-denied, -export-alerts) leaves it out. */
    selected: boolean('selected'),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.sequence] }), uniqueIndex('export_documents_delivery_id').on(t.deliveryId)],
);

/**
 * The delivery state of each document on each output (-export-file, -export-url, -export-slack-url),
 * so outputs are independent: a receiver that is down holds up only its own rows. `next_attempt_at`
 * is both the backoff and the lease of a claimed row (a process that dies mid-send lets it expire).
 */
export const exportDeliveries = pgTable(
  'export_deliveries',
  {
    output: varchar('output', { length: 255 }).notNull(),
    sessionId: varchar('session_id', { length: 255 }).notNull(),
    sequence: integer('sequence').notNull(),
    /** pending, delivered, skipped (not for this output, or not selected), parked (refused by the receiver). */
    state: varchar('state', { length: 16 }).$type<'pending' | 'delivered' | 'skipped' | 'parked'>().notNull().default('pending'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'string', precision: 6 }).defaultNow().notNull(),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'string', precision: 6 }).defaultNow().notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** The last failure: an HTTP status or an error code, never the receiver's body. */
    lastError: text('last_error'),
    doneAt: timestamp('done_at', { withTimezone: true, mode: 'string', precision: 6 }),
  },
  (t) => [
    primaryKey({ columns: [t.output, t.sessionId, t.sequence] }),
    // The delivery loop's claim: the pending rows of one output, oldest first.
    index('idx_export_deliveries_pending').on(t.output, t.createdAt).where(sql`state = 'pending'`),
  ],
);
