/**
 * The one writer of the export outbox tables (src/store/schema.ts: export_sequences, export_documents,
 * export_deliveries). Two sides:
 *   - record(): inside the transaction of a session or link change, one document per changed session
 *     (its next sequence, a fresh deliveryId) and one pending delivery per configured output;
 *   - the delivery loop's claim, render and settle calls (src/export/delivery.ts).
 *
 * Plain SQL that runs on PostgreSQL 15 and PGlite.
 */
import type { Queryable } from '../store/database.ts';
import type { SessionChange, SessionChangeEvent } from '../store/session-changes.ts';

/** Documents wait this long before their first claim: correlation links what a session ran about 0.5 s after it is stored (src/correlate/scheduler.ts debounce). */
export const SETTLE_MS = 1000;

const recordColumns = 'session_id text, event text';

// One statement: the upsert on export_sequences locks each session's counter until COMMIT, so two
// transactions changing one session (the session writer and correlation) take consecutive numbers.
// Sessions are taken in id order, as the session writer locks its rows: two writers cannot deadlock.
const recordSql = `
  WITH changes AS (
    SELECT session_id, event FROM jsonb_to_recordset($1::jsonb) AS r(${recordColumns})),
  numbered AS (
    INSERT INTO export_sequences (session_id, last_sequence)
    SELECT session_id, 1 FROM changes ORDER BY session_id
    ON CONFLICT (session_id) DO UPDATE SET last_sequence = export_sequences.last_sequence + 1
    RETURNING session_id, last_sequence),
  documents AS (
    INSERT INTO export_documents (session_id, sequence, event, delivery_id)
    SELECT n.session_id, n.last_sequence, c.event, gen_random_uuid() FROM numbered n JOIN changes c USING (session_id)
    RETURNING session_id, sequence)
  INSERT INTO export_deliveries (output, session_id, sequence, next_attempt_at)
  SELECT o.output, d.session_id, d.sequence, now() + make_interval(secs => $3)
  FROM documents d CROSS JOIN unnest($2::text[]) AS o(output)`;

/** The strongest event per session when one batch reports a session twice. */
const strength: Record<SessionChangeEvent, number> = { updated: 0, opened: 1, ended: 2 };

/** Records one document per changed session for every output, in the caller's transaction. */
export async function recordChanges(tx: Queryable, changes: readonly SessionChange[], outputs: readonly string[], settleMs = SETTLE_MS): Promise<void> {
  if (changes.length === 0 || outputs.length === 0) return;
  const bySession = new Map<string, SessionChangeEvent>();
  for (const change of changes) {
    const before = bySession.get(change.sessionId);
    if (before === undefined || strength[change.event] > strength[before]) bySession.set(change.sessionId, change.event);
  }
  const records = [...bySession].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([session_id, event]) => ({ session_id, event }));
  await tx.query(recordSql, [JSON.stringify(records), outputs, settleMs / 1000]);
}

/** Pending rows of an output that may go now: due, and no earlier document of their session still pending on it. */
const claimableSql = `
  FROM export_deliveries d
  WHERE d.output = $1 AND d.state = 'pending' AND d.next_attempt_at <= now()
    AND NOT EXISTS (
      SELECT 1 FROM export_deliveries e
      WHERE e.output = d.output AND e.session_id = d.session_id AND e.sequence < d.sequence AND e.state = 'pending')`;

// How many could go now, and how long the oldest has waited: a batch goes when it is full or old enough.
const readySql = `
  SELECT count(*)::int AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age
  FROM (SELECT d.created_at ${claimableSql} ORDER BY d.created_at LIMIT $2) x`;

// Claimed rows are leased: next_attempt_at moves past the send's timeout, so another process (or this
// one after a restart) takes them again only if this one never settled them. SKIP LOCKED: two
// processes claiming at once take different rows instead of waiting for each other.
const claimSql = `
  WITH claimed AS (
    SELECT d.output, d.session_id, d.sequence ${claimableSql}
    ORDER BY d.created_at, d.session_id, d.sequence
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED)
  UPDATE export_deliveries d SET next_attempt_at = now() + make_interval(secs => $3), attempts = d.attempts + 1
  FROM claimed c
  WHERE d.output = c.output AND d.session_id = c.session_id AND d.sequence = c.sequence
  RETURNING d.session_id, d.sequence, d.attempts, d.created_at`;

export interface ClaimedDelivery {
  sessionId: string;
  sequence: number;
  attempts: number;
  createdAt: string;
}

export interface StoredDocument {
  sessionId: string;
  sequence: number;
  event: SessionChangeEvent;
  deliveryId: string;
  /** Null until rendered. */
  document: Record<string, unknown> | null;
  selected: boolean | null;
}

const keysJson = (rows: readonly { sessionId: string; sequence: number }[]) =>
  JSON.stringify(rows.map((r) => ({ session_id: r.sessionId, sequence: r.sequence })));
const keyColumns = 'session_id text, sequence int';

const selectDocumentsSql = `
  SELECT x.session_id AS "sessionId", x.sequence, x.event, x.delivery_id::text AS "deliveryId", x.document, x.selected
  FROM export_documents x JOIN jsonb_to_recordset($1::jsonb) AS k(${keyColumns}) ON k.session_id = x.session_id AND k.sequence = x.sequence
  ORDER BY x.session_id, x.sequence`;

// The first renderer wins: a document rendered by another output or process meanwhile is kept as it is.
// json, not jsonb, all the way: jsonb would reorder the document's keys.
const storeRenderedSql = `
  UPDATE export_documents x SET document = r.document, selected = r.selected
  FROM json_to_recordset($1::json) AS r(session_id text, sequence int, document json, selected boolean)
  WHERE x.session_id = r.session_id AND x.sequence = r.sequence AND x.selected IS NULL`;

const settleSql = (set: string) => `
  UPDATE export_deliveries d SET ${set}
  FROM jsonb_to_recordset($2::jsonb) AS k(${keyColumns})
  WHERE d.output = $1 AND d.session_id = k.session_id AND d.sequence = k.sequence`;

export interface OutputBacklog {
  pending: number;
  parked: number;
  /** Seconds since the oldest pending document was recorded; 0 when none is pending. */
  oldestPendingSeconds: number;
}

/** How long settled documents are kept (for a look at what was sent) before they are deleted. */
export const KEEP_SETTLED_DAYS = 7;

// Documents none of whose deliveries is pending and whose last one settled long enough ago; their
// deliveries go with them. export_sequences stays: a session's next document continues its numbering.
const pruneSql = `
  WITH old AS (
    SELECT x.session_id, x.sequence FROM export_documents x
    WHERE x.created_at < now() - make_interval(days => $1)
      AND NOT EXISTS (
        SELECT 1 FROM export_deliveries d
        WHERE d.session_id = x.session_id AND d.sequence = x.sequence
          AND (d.state = 'pending' OR d.done_at >= now() - make_interval(days => $1)))
    LIMIT 1000),
  gone AS (
    DELETE FROM export_deliveries d USING old WHERE d.session_id = old.session_id AND d.sequence = old.sequence)
  DELETE FROM export_documents x USING old WHERE x.session_id = old.session_id AND x.sequence = old.sequence`;

/** The delivery loop's side of the outbox, for one database. */
export class OutboxStore {
  constructor(private readonly db: Queryable) {}

  /** How many documents could go now on `output` (up to `limit`), and the age of the oldest. */
  async ready(output: string, limit: number): Promise<{ count: number; oldestSeconds: number }> {
    const { rows } = await this.db.query<{ n: number; age: number }>(readySql, [output, limit]);
    return { count: rows[0]?.n ?? 0, oldestSeconds: Number(rows[0]?.age ?? 0) };
  }

  /** Leases up to `limit` documents of `output` for `leaseMs`. */
  async claim(output: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const { rows } = await this.db.query<{ session_id: string; sequence: number; attempts: number; created_at: string }>(claimSql, [output, limit, leaseMs / 1000]);
    return rows
      .map((r) => ({ sessionId: r.session_id, sequence: r.sequence, attempts: r.attempts, createdAt: r.created_at }))
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : a.sequence - b.sequence));
  }

  async documents(keys: readonly { sessionId: string; sequence: number }[]): Promise<StoredDocument[]> {
    if (keys.length === 0) return [];
    return (await this.db.query<StoredDocument>(selectDocumentsSql, [keysJson(keys)])).rows;
  }

  /** Keeps rendered documents (unless another renderer was first) and returns what is stored. */
  async storeRendered(rendered: readonly { sessionId: string; sequence: number; document: Record<string, unknown> | null; selected: boolean }[]): Promise<StoredDocument[]> {
    if (rendered.length === 0) return [];
    const records = rendered.map((r) => ({ session_id: r.sessionId, sequence: r.sequence, document: r.document, selected: r.selected }));
    await this.db.query(storeRenderedSql, [JSON.stringify(records)]);
    return this.documents(rendered);
  }

  /** Which of these sessions already had a document delivered on `output`. */
  async sessionsDelivered(output: string, sessionIds: readonly string[]): Promise<Set<string>> {
    if (sessionIds.length === 0) return new Set();
    const { rows } = await this.db.query<{ session_id: string }>(
      `SELECT DISTINCT session_id FROM export_deliveries WHERE output = $1 AND session_id = ANY($2::text[]) AND state = 'delivered'`,
      [output, [...new Set(sessionIds)]],
    );
    return new Set(rows.map((r) => r.session_id));
  }

  async delivered(output: string, keys: readonly { sessionId: string; sequence: number }[]): Promise<void> {
    if (keys.length) await this.db.query(settleSql(`state = 'delivered', done_at = now(), last_error = NULL`), [output, keysJson(keys)]);
  }

  async skipped(output: string, keys: readonly { sessionId: string; sequence: number }[]): Promise<void> {
    if (keys.length) await this.db.query(settleSql(`state = 'skipped', done_at = now()`), [output, keysJson(keys)]);
  }

  async parked(output: string, keys: readonly { sessionId: string; sequence: number }[], error: string): Promise<void> {
    if (keys.length) await this.db.query(settleSql(`state = 'parked', done_at = now(), last_error = $3`), [output, keysJson(keys), error]);
  }

  /** A failed send: the rows go again after `delayMs`. */
  async retryLater(output: string, keys: readonly { sessionId: string; sequence: number }[], delayMs: number, error: string): Promise<void> {
    if (keys.length) {
      await this.db.query(settleSql(`next_attempt_at = now() + make_interval(secs => $3), last_error = $4`), [output, keysJson(keys), delayMs / 1000, error]);
    }
  }

  /** Deletes up to 1000 documents settled more than KEEP_SETTLED_DAYS ago; returns how many. */
  async prune(days = KEEP_SETTLED_DAYS): Promise<number> {
    return (await this.db.query(pruneSql, [days])).rowCount;
  }

  /** Pending and parked counts and the oldest pending age of each output. */
  async backlog(outputs: readonly string[]): Promise<Map<string, OutputBacklog>> {
    const { rows } = await this.db.query<{ output: string; pending: number; parked: number; oldest: number | null }>(
      `SELECT o.output,
         (SELECT count(*)::int FROM export_deliveries d WHERE d.output = o.output AND d.state = 'pending') AS pending,
         (SELECT count(*)::int FROM export_deliveries d WHERE d.output = o.output AND d.state = 'parked') AS parked,
         (SELECT EXTRACT(EPOCH FROM now() - min(d.created_at))::float8 FROM export_deliveries d WHERE d.output = o.output AND d.state = 'pending') AS oldest
       FROM unnest($1::text[]) AS o(output)`,
      [outputs],
    );
    return new Map(rows.map((r) => [r.output, { pending: r.pending, parked: r.parked, oldestPendingSeconds: Math.max(0, Number(r.oldest ?? 0)) }]));
  }
}
