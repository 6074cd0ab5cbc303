/**
 * Readiness: the database answers and every migration this build ships is applied. The database's
 * part of `/readyz` (src/observe/readiness.ts puts the answer together, on every port), so a load
 * balancer or the kubelet only sends traffic to a process that can store it.
 *
 * "Applied" is judged the way drizzle's migrator judges it: a migration is pending when its journal
 * `when` is newer than the newest `created_at` in drizzle.__drizzle_migrations.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReadinessContributor } from '../observe/readiness.ts';
import { migrationsFolder, type Queryable } from './database.ts';

export interface ReadinessDetail {
  /** Whether a query reached the database in time. */
  database: 'reachable' | 'unreachable';
  /** Migrations this build ships, how many the database has, and the tags still missing. */
  migrations?: { expected: number; applied: number; pending: string[] };
  /** Why it is not ready, and what to do about it. */
  error?: string;
  /** How long the check took. */
  elapsedMs: number;
}

export interface Readiness {
  ready: boolean;
  detail: ReadinessDetail;
}

export interface ReadinessOptions {
  /** Give up (not ready) after this long: a probe must answer even when the database hangs. */
  timeoutMs?: number;
}

interface JournalEntry {
  tag: string;
  when: number;
}

let shippedMigrations: JournalEntry[] | undefined;

/** The migrations this build ships, from migrations/meta/_journal.json (read once). */
function shippedJournal(): JournalEntry[] {
  shippedMigrations ??= (
    JSON.parse(readFileSync(join(migrationsFolder(), 'meta', '_journal.json'), 'utf8')) as { entries: JournalEntry[] }
  ).entries;
  return shippedMigrations;
}

const appliedQuery = `SELECT count(*)::int AS applied, max(created_at)::text AS latest FROM drizzle.__drizzle_migrations`;

/** Is the database reachable with every shipped migration applied? Never throws. */
export async function checkReadiness(db: Queryable, options: ReadinessOptions = {}): Promise<Readiness> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const expected = shippedJournal();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref();
  });
  try {
    const answer = await Promise.race([db.query<{ applied: number; latest: string | null }>(appliedQuery), timeout]);
    if (answer === 'timeout') {
      return notReady('unreachable', `the database did not answer within ${timeoutMs} ms; check that it is running and reachable`, elapsed());
    }
    const row = answer.rows[0];
    const latest = row?.latest === null || row?.latest === undefined ? -Infinity : Number(row.latest);
    const pending = expected.filter((m) => m.when > latest).map((m) => m.tag);
    const migrations = { expected: expected.length, applied: row?.applied ?? 0, pending };
    if (pending.length > 0) {
      return {
        ready: false,
        detail: {
          database: 'reachable',
          migrations,
          error: `${pending.length} migration(s) not applied (${pending.join(', ')}); restart audit-processor, which applies them at start`,
          elapsedMs: elapsed(),
        },
      };
    }
    return { ready: true, detail: { database: 'reachable', migrations, elapsedMs: elapsed() } };
  } catch (error) {
    const code = (error as { code?: string }).code;
    // 3F000 invalid_schema_name, 42P01 undefined_table: the migrator never ran here.
    if (code === '3F000' || code === '42P01') {
      return {
        ready: false,
        detail: {
          database: 'reachable',
          migrations: { expected: expected.length, applied: 0, pending: expected.map((m) => m.tag) },
          error: 'no migrations applied to this database; start audit-processor against it once to create the tables',
          elapsedMs: elapsed(),
        },
      };
    }
    return notReady('unreachable', `the database query failed: ${(error as Error).message}; check that it is running and reachable`, elapsed());
  } finally {
    clearTimeout(timer);
  }
}

function notReady(database: ReadinessDetail['database'], error: string, elapsedMs: number): Readiness {
  return { ready: false, detail: { database, error, elapsedMs } };
}

/** The database's part of /readyz: fields `database` and `migrations`; not ready with the reason and what to do. */
export function databaseReadiness(db: Queryable, options: ReadinessOptions = {}): ReadinessContributor {
  return async () => {
    const { ready, detail } = await checkReadiness(db, options);
    return {
      ready,
      reasons: detail.error ? [detail.error] : [],
      fields: { database: detail.database, ...(detail.migrations ? { migrations: detail.migrations } : {}) },
    };
  };
}
