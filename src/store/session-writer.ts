/**
 * The one writer of exec sessions into change_events. A call stores a batch and resolves only after
 * COMMIT, so a source may checkpoint (or a webhook acknowledge) exactly what this returns. Idempotent:
 * writing the same stages again leaves the same rows.
 *
 * A session is (cluster, audit_id, request_key): the Audit-ID header is client-set, so two requests may
 * carry one ID, and each is its own row. The first stored keeps kubechronicle's id `EXEC:<cluster>:<ID>`;
 * a later one gets `...:reuse-<key>` (src/audit/session.ts reusedSessionId), and every row of that ID is
 * marked `exec_metadata.audit_id_reused`.
 *
 * Stages of one session may be split across batches and across processes (webhook replicas), so each
 * round of a batch's transaction does, set-based:
 *   1. INSERT ... ON CONFLICT DO NOTHING with each session's candidate id: new sessions are done (a
 *      concurrent inserter of the same id or key waits for our commit, then sees the row);
 *   2. SELECT ... FOR UPDATE the rest by their key, fold them with mergeSessions(), UPDATE;
 *   3. a session neither inserted nor found lost its id to another request with the same auditID: it
 *      takes the next candidate id and goes round again.
 * Rows are handled in id order so two writers lock in the same order and cannot deadlock.
 *
 * One refused value must not fail everything else: a batch the database refuses for its content is
 * split in halves, down to single sessions; a single one still refused is counted and skipped.
 */
import { mergeSessions, mergeStages, reusedSessionId, sameJson, sessionIdentity, type SessionRow } from '../audit/session.ts';
import { recordset, selectColumns } from './columns.ts';
import type { Database, Queryable } from './database.ts';
import { changeEvents } from './schema.ts';
import type { SessionChange, SessionChangeHook } from './session-changes.ts';
import { storeSplitting } from './split-on-refusal.ts';

export interface SessionWriteResult {
  /** Distinct sessions in the batch. */
  sessions: number;
  inserted: number;
  updated: number;
  /** New sessions stored under a reused auditID (a second request with the same Audit-ID). */
  auditIdReused: number;
  /** Sessions the database refused even alone: not stored (the caller counts them as bad input). */
  refused: number;
  /** The SQLSTATE of each refusal (error messages may quote the refused value, so only the code is kept). */
  refusedCodes: string[];
}

// What the writer stores of a session: every column of SessionRow, named as the schema names them.
const SESSION_KEYS = [
  'id', 'cluster', 'auditId', 'requestKey', 'timestamp', 'operation', 'resourceKind', 'namespace', 'name', 'actor', 'source', 'allowed', 'execMetadata',
] as const satisfies readonly (keyof SessionRow)[];
// The batch travels as one jsonb parameter: one round trip whatever its size, on Postgres 15 and PGlite.
const records = recordset(changeEvents, SESSION_KEYS);

const insertNew = `
  INSERT INTO change_events (${records.names})
  SELECT ${records.values('r')} FROM jsonb_to_recordset($1::jsonb) AS r(${records.definition})
  ORDER BY r."id"
  -- No conflict target: the row is unique on id AND on (cluster, audit_id, request_key); a concurrent
  -- first insert of the same session can trip either index, and another request holding the id trips
  -- the first: the rows not returned are sorted out by key below.
  ON CONFLICT DO NOTHING
  RETURNING cluster, audit_id AS "auditId", request_key AS "requestKey"`;

const lockExisting = `
  SELECT ${selectColumns(changeEvents, SESSION_KEYS, 'c')} FROM change_events c
  WHERE (c.cluster, c.audit_id, c.request_key) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
  ORDER BY c.id FOR UPDATE`;

const updateMerged = `
  UPDATE change_events AS c SET
    "timestamp" = r."timestamp", namespace = r."namespace", name = r."name", actor = r."actor", source = r."source",
    allowed = r."allowed", exec_metadata = r."execMetadata", updated_at = now()
  FROM jsonb_to_recordset($1::jsonb) AS r(${records.definition})
  WHERE c.id = r."id"`;

// Every row of an auditID that another request reused says so (a tampering signal the API and page show).
const markReused = `
  UPDATE change_events SET exec_metadata = exec_metadata || '{"audit_id_reused": true}'::jsonb, updated_at = now()
  WHERE (cluster, audit_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
    AND operation = 'EXEC' AND NOT coalesce((exec_metadata->>'audit_id_reused')::boolean, false)
  RETURNING id`;

/** Rounds of step 3 per batch: each takes the next candidate id; only a deliberate collision needs more than one. */
const MAX_ID_ROUNDS = 8;

export interface SessionWriterOptions {
  /**
   * Called after every COMMIT with the stored row of every session in the batch, changed or not (so links
   * missed when the process stopped between a commit and correlation are made when the lines are read
   * again). src/correlate's Correlator.onSessionsCommitted: it notes what it needs and returns, without
   * reading the rows back. A throw is ignored: the rows are committed whatever the hook does.
   */
  onCommitted?: (sessions: readonly SessionRow[]) => void;
  /**
   * Called inside each batch's transaction with the sessions it opened, ended or changed (the export
   * outbox, src/export/outbox.ts): its rows commit with the sessions or not at all.
   */
  inTransaction?: SessionChangeHook;
}

export class SessionWriter {
  constructor(
    private readonly db: Database,
    private readonly options: SessionWriterOptions = {},
  ) {}

  /** Stores a batch of session stages; resolves after COMMIT. Throws only when the database is unreachable or busy. */
  async write(rows: readonly SessionRow[]): Promise<SessionWriteResult> {
    const sessions = mergeStages(rows);
    const total: SessionWriteResult = { sessions: sessions.length, inserted: 0, updated: 0, auditIdReused: 0, refused: 0, refusedCodes: [] };
    if (sessions.length === 0) return total;
    const committed: SessionRow[] = [];
    await this.writeSplitting(sessions, total, committed);
    try {
      if (committed.length) this.options.onCommitted?.(committed);
    } catch {
      // The hook's failure is its own (the Correlator logs and retries); the write stands.
    }
    return total;
  }

  /** One transaction per batch; a batch refused for its content is split down to the session at fault. */
  private async writeSplitting(sessions: SessionRow[], total: SessionWriteResult, committed: SessionRow[]): Promise<void> {
    await storeSplitting(
      sessions,
      async (batch) => {
        // Sorted and serialised before BEGIN: 13 % of pg_stat_activity samples of an exec-heavy run found
        // the backend idle in transaction right after BEGIN while the writer did this.
        const sorted = [...batch].sort(byId);
        const json = JSON.stringify(sorted);
        const outcome = await withRetryOnConflict(() => this.db.transaction((tx) => writeSessions(tx, sorted, json, this.options.inTransaction)));
        total.inserted += outcome.inserted;
        total.updated += outcome.updated;
        total.auditIdReused += outcome.auditIdReused;
        for (const row of outcome.stored) committed.push(row);
      },
      (_session, sqlstate) => {
        total.refused++;
        total.refusedCodes.push(sqlstate);
      },
    );
  }
}

interface BatchOutcome {
  inserted: number;
  updated: number;
  auditIdReused: number;
  /** The stored row of every session of the batch (as this transaction left it). */
  stored: SessionRow[];
}

/** A session is over once it has its end or was refused (a refusal has no later stage). */
const isOver = (s: SessionRow) => !s.allowed || Boolean(s.execMetadata?.ended_at);

const byId = (a: SessionRow, b: SessionRow) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Stores `batch` (sorted by id, and `json` is its JSON) in the transaction `tx`. */
async function writeSessions(tx: Queryable, batch: SessionRow[], json: string, inTransaction?: SessionChangeHook): Promise<BatchOutcome> {
  const outcome: BatchOutcome = { inserted: 0, updated: 0, auditIdReused: 0, stored: [] };
  const changes: SessionChange[] = [];
  // Each session's first candidate id, for the rare one whose id another request holds.
  let firstIds: Map<string, string> | undefined;
  const reusedIds: SessionRow[] = [];
  let pending = batch;
  for (let round = 0; pending.length > 0; round++) {
    if (round > MAX_ID_ROUNDS) throw new Error(`could not give ${pending.length} sessions an id after ${MAX_ID_ROUNDS} rounds`);
    if (round > 0) pending.sort(byId);
    // Two requests of one auditID in the same batch share a candidate id: only one of them is inserted,
    // so what was inserted is told by key, not by id.
    const insertedRows = await tx.query<Pick<SessionRow, 'cluster' | 'auditId' | 'requestKey'>>(insertNew, [round === 0 ? json : JSON.stringify(pending)]);
    const inserted = new Set(insertedRows.rows.map(sessionIdentity));
    const rest: SessionRow[] = [];
    for (const session of pending) {
      if (!inserted.has(sessionIdentity(session))) rest.push(session);
      else {
        outcome.inserted++;
        outcome.stored.push(session);
        // Seen whole at once (a log read after the fact), a session's first document is already its end.
        changes.push({ sessionId: session.id, event: isOver(session) ? 'ended' : 'opened' });
        if (round > 0) reusedIds.push(session);
      }
    }
    if (rest.length === 0) break;

    const existing = await tx.query<SessionRow>(lockExisting, [rest.map((s) => s.cluster), rest.map((s) => s.auditId), rest.map((s) => s.requestKey)]);
    const stored = new Map(existing.rows.map((row) => [sessionIdentity(row), row]));
    const changed: SessionRow[] = [];
    pending = [];
    for (const session of rest) {
      const before = stored.get(sessionIdentity(session));
      if (!before) {
        // Its id belongs to another request with the same auditID.
        firstIds ??= new Map(batch.map((s) => [sessionIdentity(s), s.id]));
        pending.push({ ...session, id: reusedSessionId(firstIds.get(sessionIdentity(session))!, session.requestKey, round) });
        continue;
      }
      const merged = mergeSessions(before, { ...session, id: before.id });
      // Compared as canonical JSON: jsonb reorders keys, so plain JSON.stringify cannot tell "unchanged".
      if (sameJson(merged, before)) outcome.stored.push(before);
      else {
        outcome.stored.push(merged);
        changed.push(merged);
        changes.push({ sessionId: before.id, event: isOver(merged) && !isOver(before) ? 'ended' : 'updated' });
      }
    }
    if (changed.length > 0) {
      await tx.query(updateMerged, [JSON.stringify(changed)]);
      outcome.updated += changed.length;
    }
  }
  if (reusedIds.length > 0) {
    outcome.auditIdReused = reusedIds.length;
    const marked = await tx.query<{ id: string }>(markReused, [reusedIds.map((s) => s.cluster), reusedIds.map((s) => s.auditId)]);
    for (const { id } of marked.rows) changes.push({ sessionId: id, event: 'updated' });
  }
  if (inTransaction && changes.length > 0) await inTransaction(tx, changes);
  return outcome;
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
