/**
 * The time partitions of runtime_events and exec_session_links (migrations/0007): made before rows need
 * them, and dropped whole by retention, which is what lets runtime storage keep up with tens of
 * thousands of events a second (a DELETE of as many rows cannot).
 *
 *   runtime_events_transient   one partition per hour   logs no session has claimed (kept = false)
 *   runtime_events_kept        one partition per day    alerts and events linked to a session
 *   exec_session_links         one partition per day    beside the kept events
 *
 * Names and bounds come from one SQL function, exectrail_time_partition (the migration defines it):
 * `<parent>_p<YYYYMMDD>` or `_p<YYYYMMDDHH>`, UTC. Creating a partition locks its parent for a moment,
 * so it is done in a statement of its own, never inside a write's transaction, and ahead of time for
 * the hours and days coming.
 */
import type { Queryable } from './database.ts';

export type PartitionTier = 'transient' | 'kept' | 'links';

export const partitionTiers: Record<PartitionTier, { parent: string; width: 'hour' | 'day'; widthMs: number }> = {
  transient: { parent: 'runtime_events_transient', width: 'hour', widthMs: 3_600_000 },
  kept: { parent: 'runtime_events_kept', width: 'day', widthMs: 86_400_000 },
  links: { parent: 'exec_session_links', width: 'day', widthMs: 86_400_000 },
};

export interface Partition {
  tier: PartitionTier;
  name: string;
  /** Bounds in ms since the epoch: [fromMs, toMs). */
  fromMs: number;
  toMs: number;
}

const startOf = (ms: number, widthMs: number) => Math.floor(ms / widthMs) * widthMs;
const HOUR_MS = 3_600_000;

/** The distinct hours (their starts) of some times; times that are not finite are left out (no row needs them). */
function hoursOf(timesMs: Iterable<number>): Set<number> {
  const hours = new Set<number>();
  for (const ms of timesMs) if (Number.isFinite(ms)) hours.add(startOf(ms, HOUR_MS));
  return hours;
}

/** How often a partition's last write is recorded at most: retention counts in hours, not seconds. */
const WRITE_NOTE_INTERVAL_MS = 60_000;

/** Remembers which partitions exist, so a write asks the database only for new hours and days. */
export class PartitionKeeper {
  private readonly known = new Set<string>();
  private readonly notedAt = new Map<string, number>();

  constructor(private readonly db: Queryable) {}

  /**
   * Makes the partitions rows at these times may need: the transient hour, and the kept and links days
   * (correlation moves a linked event to its kept day). Run outside any transaction.
   */
  async ensureFor(eventTimesMs: Iterable<number>): Promise<void> {
    const wanted: { tier: PartitionTier; startMs: number }[] = [];
    const add = (tier: PartitionTier, ms: number) => {
      const startMs = startOf(ms, partitionTiers[tier].widthMs);
      const key = `${tier}@${startMs}`;
      if (this.known.has(key)) return;
      this.known.add(key);
      wanted.push({ tier, startMs });
    };
    // Every tier's partition holds whole hours: a batch's thousands of times are a few hours.
    for (const hourMs of hoursOf(eventTimesMs)) {
      add('transient', hourMs);
      add('kept', hourMs);
      add('links', hourMs);
    }
    if (wanted.length === 0) return;
    try {
      await makePartitions(this.db, wanted);
    } catch (error) {
      for (const w of wanted) this.known.delete(`${w.tier}@${w.startMs}`);
      throw error;
    }
  }

  /** The hours and days coming (and the current ones), so that writes rarely create one themselves. */
  async ensureAhead(nowMs: number, hours = 3): Promise<void> {
    const times: number[] = [];
    for (let h = 0; h <= hours; h++) times.push(nowMs + h * 3_600_000);
    await this.ensureFor(times);
  }

  /**
   * Records when the partitions of these events (their transient hour, and the kept and links days that
   * correlation moves them to) were last written for, by the time each event was received, after the
   * write committed, at most once a minute per partition. Retention keeps a partition until nothing
   * arrived for it for its limit, so a backfill of an old incident stays until correlation claims what
   * its sessions ran, and the days it will move that to are not dropped as empty meanwhile.
   */
  async noteWrites(events: Iterable<{ eventTimeMs: number; receivedAtMs: number }>): Promise<void> {
    // The latest receipt per hour first: a batch's thousands of events are a few hours.
    const byHour = new Map<number, number>();
    for (const { eventTimeMs, receivedAtMs } of events) {
      if (!Number.isFinite(eventTimeMs) || !Number.isFinite(receivedAtMs)) continue;
      const hourMs = startOf(eventTimeMs, HOUR_MS);
      if (!(receivedAtMs <= (byHour.get(hourMs) ?? -Infinity))) byHour.set(hourMs, receivedAtMs);
    }
    const latest = new Map<string, { tier: PartitionTier; startMs: number; receivedAtMs: number }>();
    for (const [eventTimeMs, receivedAtMs] of byHour) {
      for (const tier of ['transient', 'kept', 'links'] as const) {
        const startMs = startOf(eventTimeMs, partitionTiers[tier].widthMs);
        const key = `${tier}@${startMs}`;
        if (receivedAtMs - (this.notedAt.get(key) ?? -Infinity) < WRITE_NOTE_INTERVAL_MS) continue;
        const seen = latest.get(key);
        if (!seen || seen.receivedAtMs < receivedAtMs) latest.set(key, { tier, startMs, receivedAtMs });
      }
    }
    if (latest.size === 0) return;
    for (const [key, note] of latest) this.notedAt.set(key, note.receivedAtMs);
    const notes = [...latest.values()];
    await this.db.query(
      `INSERT INTO runtime_partition_writes (partition, written_at)
       SELECT exectrail_time_partition(p, t, w), r FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::timestamptz[]) AS x(p, t, w, r)
       ON CONFLICT (partition) DO UPDATE SET written_at = greatest(runtime_partition_writes.written_at, EXCLUDED.written_at)`,
      [
        notes.map((n) => partitionTiers[n.tier].parent),
        notes.map((n) => new Date(n.startMs).toISOString()),
        notes.map((n) => partitionTiers[n.tier].width),
        notes.map((n) => new Date(n.receivedAtMs).toISOString()),
      ],
    );
  }

  /** After retention dropped partitions (or a write found one missing): ask again next time. */
  forget(): void {
    this.known.clear();
    this.notedAt.clear();
  }
}

const nameSuffix = /_p(\d{4})(\d{2})(\d{2})(\d{2})?$/;

/** The partitions of a tier that exist now, oldest first. */
export async function listPartitions(db: Queryable, tier: PartitionTier): Promise<Partition[]> {
  const { parent, widthMs } = partitionTiers[tier];
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1)`,
    [parent],
  );
  const partitions: Partition[] = [];
  for (const { name } of rows) {
    const m = nameSuffix.exec(name);
    if (!m) continue;
    const fromMs = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0));
    partitions.push({ tier, name, fromMs, toMs: fromMs + widthMs });
  }
  return partitions.sort((a, b) => a.fromMs - b.fromMs);
}

/** Creates these partitions where missing (idempotent, safe beside another processor doing the same). */
export async function makePartitions(db: Queryable, wanted: readonly { tier: PartitionTier; startMs: number }[]): Promise<void> {
  if (wanted.length === 0) return;
  await db.query(`SELECT exectrail_time_partition(p, t, w) FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS x(p, t, w)`, [
    wanted.map((w) => partitionTiers[w.tier].parent),
    wanted.map((w) => new Date(w.startMs).toISOString()),
    wanted.map((w) => partitionTiers[w.tier].width),
  ]);
}

/** The kept and links days events at these times are moved into when a session claims them. */
export function claimedDays(eventTimesMs: Iterable<number>): { tier: PartitionTier; startMs: number }[] {
  const days = new Set<number>();
  for (const ms of eventTimesMs) if (Number.isFinite(ms)) days.add(startOf(ms, partitionTiers.kept.widthMs));
  return [...days].flatMap((startMs) => [{ tier: 'kept' as const, startMs }, { tier: 'links' as const, startMs }]);
}

/** When each partition was last written (PartitionKeeper.noteWrites), by name, in ms. */
export async function lastWrites(db: Queryable): Promise<Map<string, number>> {
  const { rows } = await db.query<{ partition: string; written_at: string }>(`SELECT partition, written_at FROM runtime_partition_writes`);
  return new Map(rows.map((r) => [r.partition, new Date(r.written_at).getTime()]));
}

/** Drops one partition; returns PostgreSQL's estimate of the rows it held (counting them would read them all). */
export async function dropPartition(db: Queryable, partition: Partition): Promise<number> {
  const { rows } = await db.query<{ estimate: number }>(`SELECT greatest(reltuples, 0)::bigint AS estimate FROM pg_class WHERE oid = to_regclass($1)`, [partition.name]);
  await db.query(`DROP TABLE IF EXISTS "${partition.name.replace(/"/g, '')}"`);
  await db.query(`DELETE FROM runtime_partition_writes WHERE partition = $1`, [partition.name]);
  return Number(rows[0]?.estimate ?? 0);
}
