/**
 * Retention. Runtime events are the volume (thousands a second per node), so they go by whole partition
 * (src/store/partitions.ts), never by DELETE, which could not keep up:
 *   - unlinked logs (the transient hourly partitions) after -retention-unlinked: an hour goes once it is
 *     that old and nothing was written into it for that long (a backfill of an old incident stays until
 *     correlation has claimed what its sessions ran); by then no session has claimed them, and none will;
 *   - alerts and linked events (the kept daily partitions) with their links after -retention-runtime,
 *     counted from when they were stored: a day is dropped only once every event in it was stored that
 *     long ago, so a backfill of last year's incident stays. An empty day a write has just made for
 *     correlation to move events into stays too (runtime_partition_writes says when one was last wanted).
 * Sessions are kept forever unless asked, deleted in small batches (they are few), and only exectrail's
 * own EXEC rows are ever pruned (kubechronicle's admission rows in the same table are not ours).
 */
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { Database } from './database.ts';
import { dropPartition, lastWrites, listPartitions, PartitionKeeper, type Partition } from './partitions.ts';

export interface RetentionPolicy {
  /** Keep alerts and linked runtime events this long after they were stored (ms); 0 keeps them forever. */
  runtimeMs: number;
  /** Keep runtime events no session links this long after their time (ms); 0 keeps them forever. */
  unlinkedMs: number;
  /** Keep exec sessions this long (ms); 0 keeps them forever. */
  sessionsMs: number;
  /** Sessions deleted per statement. */
  batchSize?: number;
}

export interface PruneResult {
  /** Partitions dropped, by tier. */
  partitions: { transient: number; kept: number; links: number };
  /** Runtime events dropped with them (PostgreSQL's estimate). */
  runtimeEvents: number;
  sessions: number;
  /** Links of pruned sessions. */
  links: number;
}

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

/** The kept days whose every event was stored before the cutoff (a kept partition is small: alerts and linked events). */
async function keptDaysToDrop(db: Database, cutoffMs: number, written: Map<string, number>): Promise<Partition[]> {
  const days = (await listPartitions(db, 'kept')).filter((p) => p.toMs <= cutoffMs && (written.get(p.name) ?? 0) <= cutoffMs);
  const doomed: Partition[] = [];
  for (const day of days) {
    const { rows } = await db.query<{ newest: string | null }>(`SELECT max(received_at)::text AS newest FROM "${day.name}"`);
    const newest = rows[0]?.newest;
    if (!newest || Date.parse(newest) < cutoffMs) doomed.push(day);
  }
  return doomed;
}

/** Drops and deletes everything past the policy's limits, measured back from `now`. */
export async function pruneOnce(db: Database, policy: RetentionPolicy, now = new Date(), metrics?: Metrics): Promise<PruneResult> {
  const result: PruneResult = { partitions: { transient: 0, kept: 0, links: 0 }, runtimeEvents: 0, sessions: 0, links: 0 };
  const drop = async (partition: Partition) => {
    const rows = await dropPartition(db, partition);
    result.partitions[partition.tier]++;
    metrics?.runtimePartitionsDropped.inc({ tier: partition.tier });
    if (partition.tier !== 'links') {
      result.runtimeEvents += rows;
      metrics?.runtimeEventsDroppedByRetention.inc({ tier: partition.tier }, rows);
    }
  };
  // When events for each partition last arrived: none is dropped while a backfill may still claim it.
  const written = await lastWrites(db);
  const quiet = (partition: Partition, cutoffMs: number) => partition.toMs <= cutoffMs && (written.get(partition.name) ?? 0) <= cutoffMs;
  if (policy.unlinkedMs > 0) {
    const cutoffMs = now.getTime() - policy.unlinkedMs;
    for (const hour of await listPartitions(db, 'transient')) {
      if (quiet(hour, cutoffMs)) await drop(hour);
    }
  }
  if (policy.runtimeMs > 0) {
    const cutoffMs = now.getTime() - policy.runtimeMs;
    const days = await keptDaysToDrop(db, cutoffMs, written);
    const dropped = new Set(days.map((d) => d.fromMs));
    const remaining = new Set((await listPartitions(db, 'kept')).map((d) => d.fromMs));
    for (const day of days) await drop(day);
    // A day's links go with its kept events; links of a day that has no kept events left go too.
    for (const links of await listPartitions(db, 'links')) {
      if (quiet(links, cutoffMs) && (dropped.has(links.fromMs) || !remaining.has(links.fromMs))) await drop(links);
    }
  }
  if (policy.sessionsMs > 0) {
    const batchSize = policy.batchSize ?? 5000;
    const cutoff = new Date(now.getTime() - policy.sessionsMs).toISOString();
    result.links += await deleteInBatches(db, pruneSessionLinksBatch, cutoff, batchSize);
    result.sessions += await deleteInBatches(db, pruneSessionsBatch, cutoff, batchSize);
  }
  return result;
}

/**
 * Every `intervalMs` until stopped: makes the partitions of the hours coming (so that writes rarely make
 * one), then prunes. Failures are logged and retried next time.
 */
export function startRetention(db: Database, policy: RetentionPolicy, logger: Logger, metrics?: Metrics, intervalMs = 15 * 60_000): { stop(): Promise<void> } {
  const partitions = new PartitionKeeper(db);
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = (async () => {
      await partitions.ensureAhead(Date.now());
      if (policy.runtimeMs === 0 && policy.unlinkedMs === 0 && policy.sessionsMs === 0) return;
      const pruned = await pruneOnce(db, policy, new Date(), metrics);
      const dropped = pruned.partitions.transient + pruned.partitions.kept + pruned.partitions.links;
      if (dropped || pruned.sessions) logger.info({ pruned }, `retention: dropped ${dropped} partitions (about ${pruned.runtimeEvents} runtime events) and ${pruned.sessions} sessions`);
    })().catch((error: Error) => logger.warn({ err: error.message }, 'retention: prune failed; it is tried again at the next interval'));
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
