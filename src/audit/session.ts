/**
 * The shape of one interactive-access session, declared once: the `change_events` row we store
 * (kubechronicle's columns) with its `actor`, `source` and `exec_metadata` documents. The TypeScript
 * types and the README's field table both come from these schemas.
 *
 * A session is all stages of one auditID (per cluster). Stages arrive in any order, in different files
 * or webhook batches, so `mergeSessions` is commutative, associative and idempotent: a later stage fills
 * in what an earlier one lacked and never erases it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { millisBetween } from './time.ts';

export const actorSchema = z.looseObject({
  username: z.string().describe('user.username of the request'),
  uid: z.string().optional().describe('user.uid'),
  groups: z.array(z.string()).optional().describe('user.groups'),
  service_account: z.string().optional().describe('namespace/name when the user is a service account'),
  impersonated_user: z.string().optional().describe('impersonatedUser.username when the request was impersonated'),
  source_ip: z.string().optional().describe('the LAST sourceIPs entry: the only one a client cannot forge'),
  source_ips: z.array(z.string()).optional().describe('every sourceIPs entry, as logged'),
});

export const sourceSchema = z.looseObject({
  tool: z.string().describe('kubectl, oc, k9s, lens, kubectl-cp, controller, client-go or unknown'),
  user_agent: z.string().optional().describe('the request user agent (client-controlled: a hint)'),
  client_version: z.string().optional().describe('version from the user agent, e.g. v1.30.2'),
});

export const execMetadataSchema = z.looseObject({
  command: z.array(z.string()).optional().describe('argv from the repeated command= query parameters'),
  container: z.string().optional().describe('container= (the first when repeated)'),
  stdin: z.boolean().optional().describe('stdin=true (kubelet input=1)'),
  stdout: z.boolean().optional().describe('stdout=true (kubelet output=1)'),
  stderr: z.boolean().optional().describe('stderr=true (kubelet error=1)'),
  tty: z.boolean().optional().describe('tty=true: an interactive terminal'),
  target_type: z.enum(['pod', 'node']).describe('pod for pods/*, node for nodes/proxy'),
  node_name: z.string().optional().describe('the node, without :port (nodes/proxy)'),
  subresource: z.string().optional().describe('exec, attach, portforward, ephemeralcontainers or proxy'),
  verb: z.string().optional().describe('get (WebSocket), create (SPDY), patch (debug)'),
  transport: z.enum(['websocket', 'spdy']).optional().describe('websocket for get, spdy for create'),
  response_code: z.number().int().optional().describe('responseStatus.code of the latest stage that has one'),
  decision: z.string().optional().describe('authorization.k8s.io/decision annotation'),
  reason: z.string().optional().describe('authorization.k8s.io/reason annotation'),
  started_at: z.string().describe('requestReceivedTimestamp (microseconds, UTC)'),
  ended_at: z.string().nullable().describe('stageTimestamp of ResponseComplete or Panic; null while open'),
  duration_ms: z.number().nullable().describe('ended_at - started_at in milliseconds'),
  stages: z.array(z.string()).describe('the audit stages seen for this auditID'),
});

export type Actor = z.infer<typeof actorSchema>;
export type Source = z.infer<typeof sourceSchema>;
export type ExecMetadata = z.infer<typeof execMetadataSchema>;

/** One `change_events` row with operation EXEC. */
export interface SessionRow {
  id: string;
  cluster: string;
  auditId: string;
  /** Session start (requestReceivedTimestamp), ISO 8601 with microseconds. */
  timestamp: string;
  operation: 'EXEC';
  resourceKind: 'Pod' | 'Node';
  namespace: string;
  name: string;
  actor: Actor;
  source: Source;
  allowed: boolean;
  execMetadata: ExecMetadata;
}

/** A stable row id: the same (cluster, auditID) always gives the same id, so re-ingestion is a no-op. */
export function sessionId(cluster: string, auditId: string): string {
  const id = `EXEC:${cluster}:${auditId}`;
  if (id.length <= 255) return id;
  return `EXEC:${cluster.slice(0, 100)}:sha256:${createHash('sha256').update(auditId).digest('hex')}`;
}

/** Order of stages: a later stage's values win (audit.k8s.io stage semantics). */
const stageRank: Record<string, number> = { RequestReceived: 1, ResponseStarted: 2, ResponseComplete: 3, Panic: 4 };

function rankOf(row: SessionRow): number {
  return Math.max(0, ...row.execMetadata.stages.map((s) => stageRank[s] ?? 0));
}

/** A response code means allowed when the request went through: 101 (upgraded) or 2xx. */
export function isAllowedCode(code: number | undefined): boolean {
  return code === undefined || code === 101 || (code >= 200 && code < 300);
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

/** Timestamps are canonical UTC ISO strings with six fractional digits (see normalizeTimestamp), so they sort as text. */
function earliest(a: string, b: string): string {
  return a <= b ? a : b;
}

/** Deterministic winner between two rows, so merging is commutative. */
function laterStageFirst(a: SessionRow, b: SessionRow): [SessionRow, SessionRow] {
  const diff = rankOf(a) - rankOf(b);
  if (diff !== 0) return diff > 0 ? [a, b] : [b, a];
  return JSON.stringify(a) >= JSON.stringify(b) ? [a, b] : [b, a];
}

/** Merges two partial views of one session (same id) into one. */
export function mergeSessions(a: SessionRow, b: SessionRow): SessionRow {
  const [later, earlier] = laterStageFirst(a, b);
  const stages = [...new Set([...earlier.execMetadata.stages, ...later.execMetadata.stages])].sort(
    (x, y) => (stageRank[x] ?? 0) - (stageRank[y] ?? 0) || x.localeCompare(y),
  );
  const startedAt = earliest(earlier.execMetadata.started_at, later.execMetadata.started_at);
  const endedAt = later.execMetadata.ended_at ?? earlier.execMetadata.ended_at;
  const execMetadata: ExecMetadata = {
    ...withoutUndefined(earlier.execMetadata),
    ...withoutUndefined(later.execMetadata),
    stages,
    started_at: startedAt,
    ended_at: endedAt,
    duration_ms: endedAt === null ? null : Math.max(0, millisBetween(startedAt, endedAt)),
  } as ExecMetadata;
  return {
    ...later,
    timestamp: earliest(earlier.timestamp, later.timestamp),
    actor: { ...withoutUndefined(earlier.actor), ...withoutUndefined(later.actor) } as Actor,
    source: { ...withoutUndefined(earlier.source), ...withoutUndefined(later.source) } as Source,
    execMetadata,
    allowed: isAllowedCode(execMetadata.response_code),
  };
}

/** Collapses rows with the same id into one each, keeping first-seen order. */
export function mergeById(rows: Iterable<SessionRow>): SessionRow[] {
  const byId = new Map<string, SessionRow>();
  for (const row of rows) {
    const existing = byId.get(row.id);
    byId.set(row.id, existing ? mergeSessions(existing, row) : row);
  }
  return [...byId.values()];
}
