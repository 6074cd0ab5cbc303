/**
 * What the answers are made of: an exec session as people read it (who, when, from where, with what
 * tool, into what, with which command) and a runtime event (a process, a file or network access, an
 * alert). Both are plain JSON, the same for the HTTP API, the CLI's `-format json` and the web page.
 *
 * The SQL fragments here select the columns these records need; times come out of Postgres as canonical
 * UTC text with microseconds (`2025-10-21T09:00:00.100000Z`) so they sort as text and lose nothing.
 */
import type { ExecMetadata } from '../audit/session-documents.ts';
import { selectColumns } from '../store/columns.ts';
import { changeEvents, runtimeEvents, type ChangeEventRow, type RuntimeEventRow } from '../store/schema.ts';

export interface SessionSummary {
  /** `EXEC:<cluster>:<auditID>` (change_events.id); `...:reuse-<key>` for a request that reused an Audit-ID. */
  id: string;
  cluster: string;
  auditId: string | null;
  /** Another request carried the same Audit-ID (a client sets that header): a tampering signal. */
  auditIdReused: boolean;
  startedAt: string;
  /** null while the session is open (no ResponseComplete stage yet). */
  endedAt: string | null;
  durationMs: number | null;
  user: string;
  groups: string[];
  impersonatedUser: string | null;
  /** The last sourceIPs entry: the one a client cannot forge. */
  sourceIp: string | null;
  tool: string;
  userAgent: string | null;
  clientVersion: string | null;
  targetType: 'pod' | 'node';
  /** The pod's namespace; for nodes/proxy, the one the kubelet path names ('' when it names none). */
  namespace: string;
  /** The pod; for nodes/proxy, the one the kubelet path names. */
  pod: string | null;
  /** The node, for nodes/proxy targets. */
  node: string | null;
  /** The container; for kubectl debug, the ephemeral container. */
  container: string | null;
  command: string[];
  tty: boolean;
  stdin: boolean;
  /** exec, attach, portforward, ephemeralcontainers, proxy. */
  subresource: string | null;
  allowed: boolean;
  responseCode: number | null;
  /** Why it was refused or allowed: responseStatus.message of a refusal, else the authorizer's reason. */
  reason: string | null;
  /** Runtime events linked to the session (src/correlate), by kind. */
  processCount: number;
  alertCount: number;
  blockCount: number;
}

export interface SessionLink {
  sessionId: string;
  /** 'process-tree' or 'window'. */
  linkMethod: string;
}

/** The stored fields of a runtime event (declared in src/store/schema.ts) that answers show. */
const shownRuntimeKeys = [
  'eventKey', 'eventTime', 'cluster', 'kind', 'hostName', 'namespace', 'pod', 'containerName', 'processName', 'parentProcessName',
  'pid', 'ppid', 'hostPid', 'hostPpid', 'uid', 'cwd', 'tty', 'execId', 'type', 'operation', 'resource', 'data', 'result',
  'policyName', 'severity', 'tags', 'message', 'action', 'enforcer',
] as const satisfies readonly (keyof RuntimeEventRow)[];

type ShownRuntimeFields = Exclude<(typeof shownRuntimeKeys)[number], 'eventTime' | 'containerName'>;

export type RuntimeEventRecord = Pick<RuntimeEventRow, ShownRuntimeFields> & {
  /** UpdatedTime (microseconds), as stored (event_time). */
  time: string;
  container: string | null;
  /** The sessions this event is attributed to; empty when it belongs to none. */
  links: SessionLink[];
};

const sessionKeys = ['id', 'cluster', 'auditId', 'timestamp', 'resourceKind', 'namespace', 'name', 'actor', 'source', 'allowed', 'execMetadata'] as const;

/** Columns of change_events c that make a SessionSummary, with the link counts of each session. */
export const sessionColumnsSql = `
  ${selectColumns(changeEvents, sessionKeys, 'c')},
  COALESCE(counts.processes, 0) AS "processCount", COALESCE(counts.alerts, 0) AS "alertCount",
  COALESCE(counts.blocks, 0) AS "blockCount"`;

/** Joins the per-session counts of linked runtime events (uses the links' primary key). */
export const sessionCountsJoinSql = `
  LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE r.operation = 'Process' AND r.kind = 'log') AS processes,
           count(*) FILTER (WHERE r.kind = 'alert') AS alerts,
           count(*) FILTER (WHERE r.kind = 'alert' AND lower(r.action) = 'block') AS blocks
    FROM exec_session_links l
    JOIN runtime_events r ON r.event_key = l.event_key AND r.event_time = l.event_time
    WHERE l.session_id = c.id
  ) counts ON true`;

/** A change_events row as sessionColumnsSql reads it: the schema's row, with the link counts (bigint: text on pg). */
export type SessionSqlRow = Pick<ChangeEventRow, (typeof sessionKeys)[number]> & {
  processCount: number | string;
  alertCount: number | string;
  blockCount: number | string;
};

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** One change_events row (with its counts) as people read it. */
export function sessionFromRow(row: SessionSqlRow): SessionSummary {
  const meta: Partial<ExecMetadata> = row.execMetadata ?? {};
  const isNode = row.resourceKind === 'Node' || meta.target_type === 'node';
  const refused = !row.allowed && text(meta.response_message);
  return {
    id: row.id,
    cluster: row.cluster,
    auditId: row.auditId,
    auditIdReused: meta.audit_id_reused === true,
    startedAt: meta.started_at ?? row.timestamp,
    endedAt: meta.ended_at ?? null,
    durationMs: meta.duration_ms ?? null,
    user: row.actor?.username ?? '',
    groups: row.actor?.groups ?? [],
    impersonatedUser: text(row.actor?.impersonated_user),
    sourceIp: text(row.actor?.source_ip),
    tool: row.source?.tool ?? 'unknown',
    userAgent: text(row.source?.user_agent),
    clientVersion: text(row.source?.client_version),
    targetType: isNode ? 'node' : 'pod',
    namespace: isNode ? (meta.target?.namespace ?? '') : row.namespace,
    pod: isNode ? (text(meta.target?.pod) ?? null) : row.name,
    node: isNode ? (text(meta.node_name) ?? row.name) : null,
    container: text(meta.container),
    command: meta.command ?? [],
    tty: meta.tty === true,
    stdin: meta.stdin === true,
    subresource: text(meta.subresource),
    allowed: row.allowed,
    responseCode: meta.response_code ?? null,
    reason: refused || text(meta.reason),
    processCount: Number(row.processCount),
    alertCount: Number(row.alertCount),
    blockCount: Number(row.blockCount),
  };
}

/** Columns of runtime_events r that make a RuntimeEventRecord, with the sessions each event is linked to. */
export const runtimeColumnsSql = `
  ${selectColumns(runtimeEvents, shownRuntimeKeys, 'r')},
  COALESCE((SELECT json_agg(json_build_object('sessionId', sl.session_id, 'linkMethod', sl.link_method) ORDER BY sl.session_id)
            FROM exec_session_links sl WHERE sl.event_key = r.event_key AND sl.event_time = r.event_time), '[]'::json) AS links`;

export type RuntimeSqlRow = Pick<RuntimeEventRow, (typeof shownRuntimeKeys)[number]> & { links: SessionLink[] | string };

export function runtimeEventFromRow(row: RuntimeSqlRow): RuntimeEventRecord {
  const { eventTime, containerName, links, ...shown } = row;
  return { ...shown, time: eventTime, container: containerName, links: typeof links === 'string' ? (JSON.parse(links) as SessionLink[]) : links };
}

/** An alert whose action stopped something: Block ("Audit (Block)" only says it would have). Same test as the SQL counts. */
export function isBlockAlert(event: Pick<RuntimeEventRecord, 'kind' | 'action'>): boolean {
  return event.kind === 'alert' && /^block$/i.test(event.action ?? '');
}
