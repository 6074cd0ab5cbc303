/**
 * The database side of correlation, kept thin: load the sessions and runtime events of one pod around a
 * time range, call the pure `correlate`, and replace those sessions' links in the same transaction.
 *
 * A pass over a pod is closed under overlap: the sessions whose windows touch the range are loaded, the
 * range grows to cover their windows (and their debug episodes), and again, so two overlapping sessions
 * are always decided together whichever side arrived last. A transaction-scoped advisory lock per pod
 * keeps two passes (two replicas) from interleaving their writes.
 */
import type { Queryable, Database } from '../store/database.ts';
import type { SessionChangeHook } from '../store/session-changes.ts';
import { correlate, endOf, FRESH_CONTAINER_US, reachOf } from './decide.ts';
import { selectColumns } from '../store/columns.ts';
import { claimedDays, makePartitions } from '../store/partitions.ts';
import { changeEvents, runtimeEvents, type RuntimeEventRow } from '../store/schema.ts';
import { isoToMicros, microsToIso } from '../time/micros.ts';
import type { CorrelateOptions, CorrelationEvent, CorrelationSession, Link } from './model.ts';
import { correlationSession, storedSessionKeys, type StoredSession } from './session-target.ts';

/** A pod and a time range in it where something new arrived. */
export interface CorrelationScope {
  cluster: string;
  namespace: string;
  pod: string;
  fromUs: number;
  toUs: number;
}

export interface PodPassResult {
  sessions: number;
  events: number;
  links: number;
  /** Links added or changed by this pass (unchanged ones are kept as they are). */
  linksMade: number;
}

const MAX_WIDENINGS = 8;


// Sessions of the pod whose window may touch [$4, $5]: started before its end and not ended before its
// start. Debug patches and attaches are always taken: a debug container outlives its patch, and the attach
// that owns its processes may have started long before.
// Two indexed lookups instead of one OR: the planner cannot use an index for the OR, and in a table
// filled since the last ANALYZE it scanned every exec row (31 ms at 9k rows vs 1.5 ms, bench).
/** The change_events columns correlation reads, as StoredSession. */
export const sessionColumnsSql = (alias: string) => selectColumns(changeEvents, storedSessionKeys, alias);
const sessionColumns = sessionColumnsSql('change_events');
const sessionStillRelevant = `"timestamp" <= $5::timestamptz
    AND (exec_metadata->>'ended_at' IS NULL
      OR (exec_metadata->>'ended_at')::timestamptz >= $4::timestamptz
      OR exec_metadata->>'subresource' IN ('ephemeralcontainers', 'attach'))`;
const selectSessions = `
  SELECT ${sessionColumns} FROM change_events
  WHERE operation = 'EXEC' AND cluster = $1 AND resource_kind = 'Pod' AND namespace = $2 AND name = $3
    AND ${sessionStillRelevant}
  UNION ALL
  SELECT ${sessionColumns} FROM change_events
  WHERE operation = 'EXEC' AND cluster = $1 AND resource_kind = 'Node'
    AND exec_metadata @> jsonb_build_object('target', jsonb_build_object('namespace', $2::text, 'pod', $3::text))
    AND ${sessionStillRelevant}
  ORDER BY "timestamp", id`;

/** The runtime event columns correlation reads (src/store/schema.ts declares them). */
const eventKeys = [
  'eventKey', 'eventTime', 'cluster', 'kind', 'hostName', 'namespace', 'pod', 'containerName', 'containerId', 'pid', 'ppid',
  'hostPid', 'hostPpid', 'processName', 'parentProcessName', 'resource', 'operation', 'data', 'tty', 'execId',
] as const satisfies readonly (keyof RuntimeEventRow)[];

export type EventRow = Pick<RuntimeEventRow, (typeof eventKeys)[number]>;

/** `alias.event_key AS "eventKey", ...`: what correlation reads of a runtime event, as an EventRow. */
export const eventColumnsSql = (alias: string) => selectColumns(runtimeEvents, eventKeys, alias);

const selectEvents = `
  SELECT ${eventColumnsSql('r')} FROM runtime_events r
  WHERE r.cluster = $1 AND r.namespace = $2 AND r.pod = $3 AND r.event_time >= $4::timestamptz AND r.event_time <= $5::timestamptz`;

const recordColumns = 'session_id text, event_key text, event_time timestamptz, cluster text, link_method text';

// Keep links that still hold (their linked_at too), drop the others, add the new ones.
const deleteStale = `
  DELETE FROM exec_session_links l
  WHERE l.session_id = ANY($1::text[])
    AND NOT EXISTS (
      SELECT 1 FROM jsonb_to_recordset($2::jsonb) AS r(${recordColumns})
      WHERE r.session_id = l.session_id AND r.event_key = l.event_key AND r.event_time = l.event_time AND r.link_method = l.link_method)
  RETURNING l.session_id`;

const insertLinks = `
  INSERT INTO exec_session_links (session_id, event_key, event_time, cluster, link_method)
  SELECT session_id, event_key, event_time, cluster, link_method FROM jsonb_to_recordset($1::jsonb) AS r(${recordColumns})
  ON CONFLICT (session_id, event_key, event_time) DO UPDATE SET link_method = EXCLUDED.link_method, linked_at = now()
  WHERE exec_session_links.link_method <> EXCLUDED.link_method
  RETURNING session_id`;

// A linked event stays for the sessions' retention: it moves from the transient partitions (dropped
// after -retention-unlinked) to the kept ones. Once kept, it stays kept even if a later pass unlinks it.
const keepLinked = `
  UPDATE runtime_events SET kept = true
  WHERE NOT kept AND (event_key, event_time) IN (SELECT r.event_key, r.event_time FROM jsonb_to_recordset($1::jsonb) AS r(${recordColumns}))`;

const opt = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

/** A runtime_events row as the pure correlation sees it. */
export function toCorrelationEvent(row: EventRow): CorrelationEvent {
  return {
    key: row.eventKey,
    time: row.eventTime,
    us: isoToMicros(row.eventTime),
    cluster: row.cluster,
    kind: row.kind,
    host: opt(row.hostName),
    namespace: opt(row.namespace),
    pod: opt(row.pod),
    container: opt(row.containerName),
    containerId: opt(row.containerId),
    pid: opt(row.pid),
    ppid: opt(row.ppid),
    hostPid: opt(row.hostPid),
    hostPpid: opt(row.hostPpid),
    processName: opt(row.processName),
    parentProcessName: opt(row.parentProcessName),
    resource: opt(row.resource),
    operation: opt(row.operation),
    data: opt(row.data),
    tty: opt(row.tty),
    execId: opt(row.execId),
  };
}

/**
 * Recomputes the links of every session of one pod around a range, in one transaction. `inTransaction`
 * (the export outbox) hears, in that transaction, of each session whose links changed.
 */
export async function runPodPass(db: Database, scope: CorrelationScope, options: CorrelateOptions, inTransaction?: SessionChangeHook): Promise<PodPassResult> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7263549))', [`${scope.cluster}/${scope.namespace}/${scope.pod}`]);
    // A session takes events from [start - skew, end + skew]: an event at t concerns the sessions that
    // started before t + skew and ended after t - skew (a node clock behind puts t before the start).
    let from = scope.fromUs - options.skewUs;
    let to = scope.toUs + options.skewUs;
    let rows: StoredSession[] = [];
    let sessions: CorrelationSession[] = [];
    for (let i = 0; i < MAX_WIDENINGS; i++) {
      rows = (await tx.query<StoredSession>(selectSessions, [scope.cluster, scope.namespace, scope.pod, microsToIso(from), microsToIso(to)])).rows;
      sessions = rows.map(correlationSession).filter((s): s is CorrelationSession => s !== undefined);
      const reach = [...reachOf(sessions, options).values()];
      const wider = {
        from: Math.min(from, ...reach.map((w) => w.fromUs)),
        to: Math.max(to, ...reach.map((w) => w.toUs)),
      };
      if (wider.from === from && wider.to === to) break;
      from = wider.from;
      to = wider.to;
    }
    if (rows.length === 0) return { sessions: 0, events: 0, links: 0, linksMade: 0 };
    const eventRows = (await tx.query<EventRow>(selectEvents, [scope.cluster, scope.namespace, scope.pod, microsToIso(from), microsToIso(to)])).rows;
    const links = correlate(sessions, eventRows.map(toCorrelationEvent), options);
    const changed = await writeLinks(tx, rows.map((r) => r.id), links);
    if (inTransaction && changed.sessions.size > 0) await inTransaction(tx, [...changed.sessions].sort().map((sessionId) => ({ sessionId, event: 'updated' as const })));
    const linksMade = changed.made;
    return { sessions: rows.length, events: eventRows.length, links: links.length, linksMade };
  });
}

/** Replaces the links of these sessions; returns how many were added or changed, and the sessions whose links changed. */
async function writeLinks(tx: Queryable, sessionIds: string[], links: Link[]): Promise<{ made: number; sessions: Set<string> }> {
  const records = JSON.stringify(
    links.map((l) => ({ session_id: l.sessionId, event_key: l.eventKey, event_time: l.eventTime, cluster: l.cluster, link_method: l.method })),
  );
  const sessions = new Set<string>();
  for (const row of (await tx.query<{ session_id: string }>(deleteStale, [sessionIds, records])).rows) sessions.add(row.session_id);
  if (links.length === 0) return { made: 0, sessions };
  // Retention may have dropped an empty day since the writer made it: make the days the links need.
  await makePartitions(tx, claimedDays(links.map((l) => Date.parse(l.eventTime))));
  const inserted = await tx.query<{ session_id: string }>(insertLinks, [records]);
  for (const row of inserted.rows) sessions.add(row.session_id);
  await tx.query(keepLinked, [records]);
  return { made: inserted.rows.length, sessions };
}

// A pod needs a pass when some session may concern the range, and there is something to link (runtime
// events of the pod around it) or to unlink (links of the pod's sessions).
const selectScopesToCorrelate = `
  SELECT s.i::int AS i
  FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) WITH ORDINALITY AS s(cluster, namespace, pod, from_t, to_t, i)
  WHERE EXISTS (
    SELECT 1 FROM change_events c
    WHERE c.operation = 'EXEC' AND c.cluster = s.cluster
      AND ((c.resource_kind = 'Pod' AND c.namespace = s.namespace AND c.name = s.pod)
        OR (c.resource_kind = 'Node' AND c.exec_metadata @> jsonb_build_object('target', jsonb_build_object('namespace', s.namespace, 'pod', s.pod))))
      AND c."timestamp" <= s.to_t
      AND (c.exec_metadata->>'ended_at' IS NULL
        OR (c.exec_metadata->>'ended_at')::timestamptz >= s.from_t
        OR c.exec_metadata->>'subresource' IN ('ephemeralcontainers', 'attach')))
  AND (
    EXISTS (SELECT 1 FROM runtime_events r
            WHERE r.cluster = s.cluster AND r.namespace = s.namespace AND r.pod = s.pod
              AND r.event_time >= s.from_t - make_interval(secs => $6) AND r.event_time <= s.to_t)
    OR EXISTS (SELECT 1 FROM exec_session_links l JOIN change_events c ON c.id = l.session_id
               WHERE l.cluster = s.cluster AND c.cluster = s.cluster
                 AND ((c.resource_kind = 'Pod' AND c.namespace = s.namespace AND c.name = s.pod)
                   OR (c.resource_kind = 'Node' AND c.exec_metadata @> jsonb_build_object('target', jsonb_build_object('namespace', s.namespace, 'pod', s.pod))))))`;

/**
 * The scopes worth a pass, in one query. Runtime events stream from every pod all the time and sessions
 * are rare; without KubeArmor, sessions come with no runtime event at all: either way most scopes need
 * no pass, and a pass costs a transaction (which on PGlite holds the only connection).
 */
export async function scopesToCorrelate(db: Queryable, scopes: readonly CorrelationScope[], skewUs: number): Promise<CorrelationScope[]> {
  if (scopes.length === 0) return [];
  const { rows } = await db.query<{ i: number }>(selectScopesToCorrelate, [
    scopes.map((s) => s.cluster),
    scopes.map((s) => s.namespace),
    scopes.map((s) => s.pod),
    scopes.map((s) => microsToIso(s.fromUs - skewUs)),
    scopes.map((s) => microsToIso(s.toUs + skewUs)),
    // An attach may own a container that started just before it (FRESH_CONTAINER_US).
    FRESH_CONTAINER_US / 1_000_000,
  ]);
  return rows.map((r) => scopes[r.i - 1]!);
}

/** The pods and time ranges that sessions touch, for a pass after they were written (read back by id). */
export async function scopesOfSessions(db: Queryable, ids: readonly string[], nowUs: number): Promise<CorrelationScope[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<StoredSession>(
    `SELECT ${sessionColumns} FROM change_events WHERE id = ANY($1::text[])`,
    [ids],
  );
  const scopes: CorrelationScope[] = [];
  for (const row of rows) {
    const session = scopedSession(row);
    if (session) scopes.push(scopeOfSession(session, nowUs));
  }
  return scopes;
}

/** What a stored session's scope is made of; undefined for one that reaches no pod. */
export function scopedSession(row: StoredSession): CorrelationSession | undefined {
  // A denied session has no links, but may have had some while it looked allowed: its pod is still a scope.
  return correlationSession(row.allowed ? row : { ...row, allowed: true });
}

/** The pod and time range a session touches, an open one up to `nowUs`. */
export function scopeOfSession(session: CorrelationSession, nowUs: number): CorrelationScope {
  return {
    cluster: session.cluster,
    namespace: session.namespace,
    pod: session.pod,
    fromUs: session.startUs,
    toUs: Math.max(endOf(session, { nowUs, skewUs: 0 }), session.startUs),
  };
}
