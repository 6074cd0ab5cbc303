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

/** Remembers which partitions exist, so a write asks the database only for new hours and days. */
export class PartitionKeeper {
  private readonly known = new Set<string>();

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
    for (const ms of eventTimesMs) {
      // A time the database will refuse anyway (the writer then skips that row) needs no partition.
      if (!Number.isFinite(ms)) continue;
      add('transient', ms);
      add('kept', ms);
      add('links', ms);
    }
    if (wanted.length === 0) return;
    try {
      await this.db.query(`SELECT exectrail_time_partition(p, t, w) FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS x(p, t, w)`, [
        wanted.map((w) => partitionTiers[w.tier].parent),
        wanted.map((w) => new Date(w.startMs).toISOString()),
        wanted.map((w) => partitionTiers[w.tier].width),
      ]);
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

  /** After retention dropped partitions (or a write found one missing): ask again next time. */
  forget(): void {
    this.known.clear();
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

/** Drops one partition; returns PostgreSQL's estimate of the rows it held (counting them would read them all). */
export async function dropPartition(db: Queryable, partition: Partition): Promise<number> {
  const { rows } = await db.query<{ estimate: number }>(`SELECT greatest(reltuples, 0)::bigint AS estimate FROM pg_class WHERE oid = to_regclass($1)`, [partition.name]);
  await db.query(`DROP TABLE IF EXISTS "${partition.name.replace(/"/g, '')}"`);
  return Number(rows[0]?.estimate ?? 0);
}
