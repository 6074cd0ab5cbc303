/**
 * The one writer of exec sessions into change_events. A call stores a whole batch in one transaction
 * and resolves only after COMMIT, so a source may checkpoint (or a webhook acknowledge) exactly what
 * this returns. Idempotent: writing the same stages again leaves the same rows.
 *
 * Stages of one session may be split across batches and across processes (webhook replicas), so the
 * merge is done row by row under a lock:
 *   1. INSERT ... ON CONFLICT DO NOTHING: new sessions are done (a concurrent inserter of the same id
 *      waits for our commit, then sees the row);
 *   2. SELECT ... FOR UPDATE the rest, fold them with mergeSessions(), UPDATE.
 * Rows are handled in id order so two writers lock in the same order and cannot deadlock.
 */
import { canonicalJson, mergeById, mergeSessions, type SessionRow } from '../audit/session.ts';
import type { Database, Queryable } from './database.ts';

export interface SessionWriteResult {
  /** Distinct sessions in the batch. */
  sessions: number;
  inserted: number;
  updated: number;
}

interface StoredRow {
  id: string;
  cluster: string;
  audit_id: string;
  timestamp: string;
  operation: 'EXEC';
  resource_kind: 'Pod' | 'Node';
  namespace: string;
  name: string;
  actor: SessionRow['actor'];
  source: SessionRow['source'];
  allowed: boolean;
  exec_metadata: SessionRow['execMetadata'];
}

const toStored = (row: SessionRow): StoredRow => ({
  id: row.id,
  cluster: row.cluster,
  audit_id: row.auditId,
  timestamp: row.timestamp,
  operation: row.operation,
  resource_kind: row.resourceKind,
  namespace: row.namespace,
  name: row.name,
  actor: row.actor,
  source: row.source,
  allowed: row.allowed,
  exec_metadata: row.execMetadata,
});

const fromStored = (row: StoredRow): SessionRow => ({
  id: row.id,
  cluster: row.cluster,
  auditId: row.audit_id,
  timestamp: row.exec_metadata?.started_at ?? row.timestamp,
  operation: 'EXEC',
  resourceKind: row.resource_kind,
  namespace: row.namespace,
  name: row.name,
  actor: row.actor,
  source: row.source,
  allowed: row.allowed,
  execMetadata: row.exec_metadata,
});

// The batch travels as one jsonb parameter: one round trip whatever its size, on Postgres 15 and PGlite.
const recordColumns = `id text, cluster text, audit_id text, "timestamp" timestamptz, operation text,
  resource_kind text, namespace text, name text, actor jsonb, source jsonb, allowed boolean, exec_metadata jsonb`;

const insertNew = `
  INSERT INTO change_events (id, cluster, audit_id, "timestamp", operation, resource_kind, namespace, name,
                             actor, source, allowed, exec_metadata)
  SELECT id, cluster, audit_id, "timestamp", operation, resource_kind, namespace, name, actor, source, allowed, exec_metadata
  FROM jsonb_to_recordset($1::jsonb) AS r(${recordColumns})
  ORDER BY id
  -- No conflict target: the row is unique on id AND on (cluster, audit_id); a concurrent first insert
  -- of the same session can trip either index, and both mean "someone else inserted it".
  ON CONFLICT DO NOTHING
  RETURNING id`;

const lockExisting = `
  SELECT id, cluster, audit_id, "timestamp", operation, resource_kind, namespace, name, actor, source, allowed, exec_metadata
  FROM change_events WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`;

const updateMerged = `
  UPDATE change_events AS c SET
    "timestamp" = r."timestamp", namespace = r.namespace, name = r.name, actor = r.actor, source = r.source,
    allowed = r.allowed, exec_metadata = r.exec_metadata, updated_at = now()
  FROM jsonb_to_recordset($1::jsonb) AS r(${recordColumns})
  WHERE c.id = r.id`;

export interface SessionWriterOptions {
  /**
   * Called after every COMMIT with the ids of all sessions in the batch, changed or not (so links missed
   * when the process stopped between a commit and correlation are made when the lines are read again).
   * src/correlate's Correlator.noteSessions: it only notes the ids and returns. A throw is ignored: the
   * rows are committed whatever the hook does.
   */
  onCommitted?: (sessionIds: string[]) => void;
}

export class SessionWriter {
  constructor(
    private readonly db: Database,
    private readonly options: SessionWriterOptions = {},
  ) {}

  /** Stores a batch of session stages; resolves after COMMIT. */
  async write(rows: readonly SessionRow[]): Promise<SessionWriteResult> {
    const sessions = mergeById(rows).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (sessions.length === 0) return { sessions: 0, inserted: 0, updated: 0 };
    const result = await withRetryOnConflict(() => this.db.transaction((tx) => writeSessions(tx, sessions)));
    try {
      this.options.onCommitted?.(sessions.map((s) => s.id));
    } catch {
      // The hook's failure is its own (the Correlator logs and retries); the write stands.
    }
    return result;
  }
}

async function writeSessions(tx: Queryable, sessions: SessionRow[]): Promise<SessionWriteResult> {
  const inserted = await tx.query<{ id: string }>(insertNew, [JSON.stringify(sessions.map(toStored))]);
  const insertedIds = new Set(inserted.rows.map((r) => r.id));
  const rest = sessions.filter((s) => !insertedIds.has(s.id));
  if (rest.length === 0) return { sessions: sessions.length, inserted: insertedIds.size, updated: 0 };

  const existing = await tx.query<StoredRow>(lockExisting, [rest.map((s) => s.id)]);
  const stored = new Map(existing.rows.map((row) => [row.id, fromStored(row)]));
  const changed: SessionRow[] = [];
  for (const session of rest) {
    const before = stored.get(session.id);
    const merged = before ? mergeSessions(before, session) : session;
    // canonicalJson sorts keys: jsonb reorders them, so plain JSON.stringify cannot tell "unchanged".
    if (!before || canonicalJson(merged) !== canonicalJson(before)) changed.push(merged);
  }
  if (changed.length > 0) await tx.query(updateMerged, [JSON.stringify(changed.map(toStored))]);
  return { sessions: sessions.length, inserted: insertedIds.size, updated: changed.length };
}

// Serialization failures and deadlocks are safe to retry: the transaction rolled back whole.
const retryableCodes = new Set(['40001', '40P01']);

async function withRetryOnConflict<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= attempts || !code || !retryableCodes.has(code)) throw error;
      await new Promise((r) => setTimeout(r, 5 * attempt));
    }
  }
}
