/**
 * The read side: SQL over change_events, runtime_events, exec_session_links and the view
 * exec_session_processes, shared by the HTTP API and the CLI. Read-only; plain SQL that runs on
 * PostgreSQL 15 and PGlite.
 *
 * Lists page by keyset on (time, id), newest first: a cursor names the last row seen, so a page costs
 * the same at any depth and rows inserted meanwhile neither repeat nor vanish (OFFSET does both).
 */
import type { Queryable } from '../store/database.ts';
import { assembleTimeline, type Timeline, type TimelineTarget } from './assemble.ts';
import { buildProcessTree, type ProcessTreeNode } from './process-tree.ts';
import { isRealTimestamp } from '../time/micros.ts';
import {
  runtimeColumnsSql,
  runtimeEventFromRow,
  sessionColumnsSql,
  sessionCountsJoinSql,
  sessionFromRow,
  type RuntimeEventRecord,
  type RuntimeSqlRow,
  type SessionSqlRow,
  type SessionSummary,
} from './records.ts';

/** WHERE clauses with numbered parameters. */
class Conditions {
  readonly clauses: string[] = [];
  readonly params: unknown[] = [];
  /** `clause` receives the placeholder of `value`; nothing is added when value is undefined. */
  add(value: unknown, clause: (placeholder: string) => string): this {
    if (value === undefined) return this;
    this.params.push(value);
    this.clauses.push(clause(`$${this.params.length}`));
    return this;
  }
  addRaw(clause: string): this {
    this.clauses.push(clause);
    return this;
  }
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
  get sql(): string {
    return this.clauses.length ? `WHERE ${this.clauses.join(' AND ')}` : '';
  }
}

/** A position in a newest-first list: the time and id of the last row of the previous page. */
export interface Cursor {
  time: string;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.time, cursor.id])).toString('base64url');
}

/** The cursor, or undefined when the text is not one of ours. */
export function decodeCursor(text: string): Cursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') {
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(value[0]) || !isRealTimestamp(value[0])) return undefined;
      return { time: value[0], id: value[1] };
    }
  } catch {
    // not base64url JSON
  }
  return undefined;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** One page of `limit` items from a query that asked for limit + 1 rows: the extra row says there is a next page. */
function pageOf<Row, T>(rows: readonly Row[], limit: number, toItem: (row: Row) => T, cursorOf: (row: Row) => Cursor): Page<T> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(toItem), nextCursor: rows.length > limit && last ? encodeCursor(cursorOf(last)) : null };
}

export interface SessionFilter {
  cluster?: string;
  user?: string;
  namespace?: string;
  pod?: string;
  allowed?: boolean;
  /** Inclusive bounds on the session start, canonical UTC text. */
  since?: string;
  until?: string;
  limit: number;
  cursor?: Cursor;
}

/** `text` as a LIKE pattern matching itself: its wildcards and the escape character escaped. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Exec sessions, newest first. */
export async function listSessions(db: Queryable, filter: SessionFilter): Promise<Page<SessionSummary>> {
  const where = new Conditions()
    .addRaw(`c.operation = 'EXEC'`)
    .add(filter.cluster, (p) => `c.cluster = ${p}`)
    // A part of the name, any case: `alice` finds alice@example.com. % and _ typed by the user are literal.
    .add(filter.user === undefined ? undefined : `%${escapeLike(filter.user)}%`, (p) => `c.actor->>'username' ILIKE ${p} ESCAPE '\\'`)
    // nodes/proxy sessions name their pod in exec_metadata.target (the kubelet path).
    .add(filter.namespace, (p) => `(c.namespace = ${p} OR c.exec_metadata->'target'->>'namespace' = ${p})`)
    .add(filter.pod, (p) => `((c.resource_kind = 'Pod' AND c.name = ${p}) OR c.exec_metadata->'target'->>'pod' = ${p})`)
    .add(filter.allowed, (p) => `c.allowed = ${p}`)
    .add(filter.since, (p) => `c."timestamp" >= ${p}::timestamptz`)
    .add(filter.until, (p) => `c."timestamp" <= ${p}::timestamptz`);
  if (filter.cursor) where.addRaw(`(c."timestamp", c.id) < (${where.param(filter.cursor.time)}::timestamptz, ${where.param(filter.cursor.id)})`);
  const { rows } = await db.query<SessionSqlRow>(
    `SELECT ${sessionColumnsSql} FROM change_events c ${sessionCountsJoinSql}
     ${where.sql}
     -- NULLS LAST as in idx_change_events_timestamp: with the default (NULLS FIRST) Postgres cannot use the
     -- index and sorts every session (130 ms among 100k instead of 0.4 ms).
     ORDER BY c."timestamp" DESC NULLS LAST, c.id DESC
     LIMIT ${where.param(filter.limit + 1)}`,
    where.params,
  );
  return pageOf(rows, filter.limit, sessionFromRow, (row) => ({ time: row.timestamp, id: row.id }));
}

export interface SessionDetail {
  session: SessionSummary;
  /** Every runtime event linked to the session, in time order (microseconds). */
  activity: RuntimeEventRecord[];
  /** The processes as a tree; `event` is an index into `activity`. */
  processTree: ProcessTreeIndexNode[];
  /** True when `activity` hit the row limit. */
  truncated: boolean;
}

export interface ProcessTreeIndexNode {
  event: number;
  children: ProcessTreeIndexNode[];
}

/** One session with its processes and alerts (from the view exec_session_processes), or undefined. */
export async function findSession(db: Queryable, id: string, options: { maxEvents?: number } = {}): Promise<SessionDetail | undefined> {
  const maxEvents = options.maxEvents ?? 10_000;
  const { rows } = await db.query<SessionSqlRow>(
    `SELECT ${sessionColumnsSql} FROM change_events c ${sessionCountsJoinSql} WHERE c.id = $1 AND c.operation = 'EXEC'`,
    [id],
  );
  const row = rows[0];
  if (!row) return undefined;
  const events = await db.query<RuntimeSqlRow>(
    `SELECT ${runtimeColumnsSql}
     FROM exec_session_processes p
     JOIN runtime_events r ON r.event_key = p.event_key AND r.event_time = p.event_time AND r.kept
     WHERE p.session_id = $1
     ORDER BY r.event_time, r.host_pid, r.event_key
     LIMIT $2`,
    [id, maxEvents + 1],
  );
  const activity = events.rows.slice(0, maxEvents).map(runtimeEventFromRow);
  const index = new Map(activity.map((event, i) => [event, i]));
  const toIndex = (nodes: ProcessTreeNode[]): ProcessTreeIndexNode[] =>
    nodes.map((node) => ({ event: index.get(node.event)!, children: toIndex(node.children) }));
  return {
    session: sessionFromRow(row),
    activity,
    processTree: toIndex(buildProcessTree(activity)),
    truncated: events.rows.length > maxEvents,
  };
}

// Every cluster runtime_events holds, by a loose index scan on the indexes that lead with cluster: one
// index descent per cluster instead of a pass over the table. Evaluated once per statement (an InitPlan).
const allRuntimeClustersSql = `ARRAY(
  WITH RECURSIVE seen AS (
    (SELECT cluster FROM runtime_events ORDER BY cluster LIMIT 1)
    UNION ALL
    SELECT (SELECT r.cluster FROM runtime_events r WHERE r.cluster > seen.cluster ORDER BY r.cluster LIMIT 1)
    FROM seen WHERE seen.cluster IS NOT NULL)
  SELECT cluster FROM seen WHERE cluster IS NOT NULL)`;

/**
 * `r.cluster` in the one asked for, else in every cluster there is. The runtime_events indexes lead with
 * cluster, so a pod lookup without it walks the whole index (76 ms instead of 0.7 ms for one pod among 1M
 * events); `cluster = ANY(all of them)` keeps it to the pod's range in each.
 */
function runtimeClusterClause(where: Conditions, cluster: string | undefined): string {
  return cluster === undefined ? `r.cluster = ANY(${allRuntimeClustersSql})` : `r.cluster = ${where.param(cluster)}`;
}

/**
 * The timeline of one pod: sessions into it (pods/exec, attach, debug, and nodes/proxy sessions whose
 * kubelet path names it or whose processes ran in it) overlapping the window, the runtime events in the
 * pod attributed to a session, and every alert in the pod, attributed or not.
 */
export async function loadTimeline(db: Queryable, target: TimelineTarget, options: { maxEvents?: number } = {}): Promise<Timeline> {
  const maxEvents = options.maxEvents ?? 5_000;
  const inPod = new Conditions();
  inPod
    .addRaw(runtimeClusterClause(inPod, target.cluster))
    .add(target.namespace, (p) => `r.namespace = ${p}`)
    .add(target.pod, (p) => `r.pod = ${p}`)
    .add(target.from, (p) => `r.event_time >= ${p}::timestamptz`)
    .add(target.to, (p) => `r.event_time <= ${p}::timestamptz`)
    // Alerts and linked events are kept ones: `r.kept` keeps the scan to the kept partitions.
    .addRaw(`r.kept AND (r.kind = 'alert' OR EXISTS (SELECT 1 FROM exec_session_links l WHERE l.event_key = r.event_key AND l.event_time = r.event_time))`);

  const eventsSql = `SELECT ${runtimeColumnsSql} FROM runtime_events r ${inPod.sql}
     ORDER BY r.event_time, r.host_pid, r.event_key
     LIMIT ${inPod.param(maxEvents + 1)}`;

  const sessions = new Conditions().addRaw(`c.operation = 'EXEC'`).add(target.cluster, (p) => `c.cluster = ${p}`);
  const from = sessions.param(target.from);
  const to = sessions.param(target.to);
  const namespace = sessions.param(target.namespace);
  const pod = sessions.param(target.pod);
  const runtimeCluster = runtimeClusterClause(sessions, target.cluster);
  sessions
    .addRaw(`c."timestamp" <= ${to}::timestamptz`)
    .addRaw(`COALESCE((c.exec_metadata->>'ended_at')::timestamptz, 'infinity'::timestamptz) >= ${from}::timestamptz`)
    // A UNION of three indexed lookups (resource index, exec_metadata GIN, links): an OR of them would
    // make Postgres read every session (1.5 s among 100k sessions instead of milliseconds).
    .addRaw(
      `c.id IN (
         SELECT p.id FROM change_events p WHERE p.resource_kind = 'Pod' AND p.namespace = ${namespace} AND p.name = ${pod}
         UNION
         SELECT n.id FROM change_events n
         WHERE n.exec_metadata @> jsonb_build_object('target', jsonb_build_object('namespace', ${namespace}::text, 'pod', ${pod}::text))
         UNION
         SELECT l.session_id FROM exec_session_links l
         JOIN runtime_events r ON r.event_key = l.event_key AND r.event_time = l.event_time AND r.kept
         WHERE ${runtimeCluster} AND r.namespace = ${namespace} AND r.pod = ${pod}
           AND r.event_time BETWEEN ${from}::timestamptz AND ${to}::timestamptz)`,
    );
  // Two independent reads: on PostgreSQL they run side by side on two pool connections.
  const [events, sessionRows] = await Promise.all([
    db.query<RuntimeSqlRow>(eventsSql, inPod.params),
    db.query<SessionSqlRow>(`SELECT ${sessionColumnsSql} FROM change_events c ${sessionCountsJoinSql} ${sessions.sql} ORDER BY c."timestamp", c.id`, sessions.params),
  ]);

  return assembleTimeline(target, sessionRows.rows.map(sessionFromRow), events.rows.slice(0, maxEvents).map(runtimeEventFromRow), {
    truncated: events.rows.length > maxEvents,
  });
}

export interface RuntimeEventFilter {
  cluster?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  operation?: string;
  action?: string;
  type?: string;
  policy?: string;
  kind?: 'alert' | 'log';
  /** Minimum KubeArmor severity (1-10); events without a numeric severity are left out. */
  severity?: number;
  since?: string;
  until?: string;
  limit: number;
  cursor?: Cursor;
}

/** Runtime events, newest first, filtered as `karmor logs` filters them (names case-insensitive). */
export async function listRuntimeEvents(db: Queryable, filter: RuntimeEventFilter): Promise<Page<RuntimeEventRecord>> {
  const where = new Conditions();
  // With a namespace the (cluster, namespace, pod, ...) indexes apply, given the cluster (runtimeClusterClause).
  if (filter.namespace !== undefined || filter.cluster !== undefined) where.addRaw(runtimeClusterClause(where, filter.cluster));
  where
    .add(filter.namespace, (p) => `r.namespace = ${p}`)
    .add(filter.pod, (p) => `r.pod = ${p}`)
    .add(filter.container, (p) => `r.container_name = ${p}`)
    .add(filter.operation, (p) => `lower(r.operation) = lower(${p})`)
    .add(filter.action, (p) => `lower(r.action) = lower(${p})`)
    .add(filter.type, (p) => `lower(r.type) = lower(${p})`)
    .add(filter.policy, (p) => `r.policy_name = ${p}`)
    .add(filter.kind, (p) => `r.kind = ${p}`)
    // Severity is text in KubeArmor's protocol; CASE keeps the cast away from non-numeric values.
    .add(filter.severity, (p) => `(CASE WHEN r.severity ~ '^[0-9]{1,9}$' THEN r.severity::int END) >= ${p}`)
    .add(filter.since, (p) => `r.event_time >= ${p}::timestamptz`)
    .add(filter.until, (p) => `r.event_time <= ${p}::timestamptz`);
  if (filter.cursor) where.addRaw(`(r.event_time, r.event_key) < (${where.param(filter.cursor.time)}::timestamptz, ${where.param(filter.cursor.id)})`);
  const { rows } = await db.query<RuntimeSqlRow>(
    `SELECT ${runtimeColumnsSql} FROM runtime_events r ${where.sql}
     ORDER BY r.event_time DESC, r.event_key DESC
     LIMIT ${where.param(filter.limit + 1)}`,
    where.params,
  );
  return pageOf(rows, filter.limit, runtimeEventFromRow, (row) => ({ time: row.eventTime, id: row.eventKey }));
}
