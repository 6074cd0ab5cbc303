/**
 * Retention: deletes rows older than a limit in small batches, so a prune never holds long locks or
 * bloats one transaction while ingestion goes on. Runtime events (thousands per second per node,
 * ../shared/reference/kubearmor-feeder.md "Visibility and volume") default to 30 days; sessions are
 * kept forever unless asked, and only exectrail's own EXEC rows are ever pruned (kubechronicle's
 * admission rows in the same table are not ours to delete).
 */
import type { Logger } from '../observe/log.ts';
import type { Database } from './database.ts';

export interface RetentionPolicy {
  /** Keep runtime events this long (ms); 0 keeps them forever. */
  runtimeMs: number;
  /** Keep exec sessions this long (ms); 0 keeps them forever. */
  sessionsMs: number;
  /** Rows deleted per statement. */
  batchSize?: number;
}

export interface PruneResult {
  runtimeEvents: number;
  sessions: number;
  /** Links of pruned sessions (a pruned runtime event's links go with it, uncounted). */
  links: number;
}

// Each statement deletes at most $2 rows, chosen by a time index; callers loop until a batch is short.
// Runtime events age from when they were stored (received_at), not from when they happened: a backfill
// of last year's incident must not vanish at the next prune. Their links go in the same statement.
const pruneRuntimeBatch = `
  WITH doomed AS (
    SELECT event_key, event_time FROM runtime_events WHERE received_at < $1::timestamptz ORDER BY received_at LIMIT $2
  ), unlinked AS (
    DELETE FROM exec_session_links l USING doomed d WHERE l.event_key = d.event_key AND l.event_time = d.event_time
  )
  DELETE FROM runtime_events r USING doomed d WHERE r.event_key = d.event_key AND r.event_time = d.event_time`;
const pruneSessionLinksBatch = `
  DELETE FROM exec_session_links WHERE session_id IN (
    SELECT id FROM change_events WHERE operation = 'EXEC' AND audit_id IS NOT NULL AND "timestamp" < $1::timestamptz LIMIT $2)`;
const pruneSessionsBatch = `
  DELETE FROM change_events WHERE id IN (
    SELECT id FROM change_events WHERE operation = 'EXEC' AND audit_id IS NOT NULL AND "timestamp" < $1::timestamptz
    ORDER BY "timestamp" LIMIT $2)`;

async function deleteInBatches(db: Database, statement: string, cutoff: string, batchSize: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.query(statement, [cutoff, batchSize]);
    total += rowCount;
    if (rowCount < batchSize) return total;
    // Let ingestion's transactions in between batches.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Deletes everything older than the policy's limits, measured back from `now`. */
export async function pruneOnce(db: Database, policy: RetentionPolicy, now = new Date()): Promise<PruneResult> {
  const batchSize = policy.batchSize ?? 5000;
  const result: PruneResult = { runtimeEvents: 0, sessions: 0, links: 0 };
  if (policy.runtimeMs > 0) {
    const cutoff = new Date(now.getTime() - policy.runtimeMs).toISOString();
    result.runtimeEvents += await deleteInBatches(db, pruneRuntimeBatch, cutoff, batchSize);
  }
  if (policy.sessionsMs > 0) {
    const cutoff = new Date(now.getTime() - policy.sessionsMs).toISOString();
    result.links += await deleteInBatches(db, pruneSessionLinksBatch, cutoff, batchSize);
    result.sessions += await deleteInBatches(db, pruneSessionsBatch, cutoff, batchSize);
  }
  return result;
}

/** Prunes now and then every `intervalMs` until stopped. Failures are logged and retried next time. */
export function startRetention(db: Database, policy: RetentionPolicy, logger: Logger, intervalMs = 3_600_000): { stop(): Promise<void> } {
  if (policy.runtimeMs === 0 && policy.sessionsMs === 0) return { stop: async () => undefined };
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = pruneOnce(db, policy).then(
      (pruned) => {
        if (pruned.runtimeEvents || pruned.sessions || pruned.links) logger.info({ pruned }, 'retention: deleted old rows');
      },
      (error: Error) => logger.warn({ err: error.message }, 'retention: prune failed; will retry at the next interval'),
    );
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
