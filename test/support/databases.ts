/**
 * Test databases on both backends. Every test file gets its own: a fresh PostgreSQL database (created
 * from TEST_DATABASE_URL, dropped at the end) or a fresh PGlite data directory.
 *
 * Without TEST_DATABASE_URL the Postgres variants are skipped with a visible reason; with
 * REQUIRE_POSTGRES=1 a missing URL is an error, so CI cannot silently test PGlite only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/store/database.ts';

export type BackendName = 'pglite' | 'postgres';

export const testDatabaseUrl = process.env.TEST_DATABASE_URL || undefined;

if (process.env.REQUIRE_POSTGRES === '1' && !testDatabaseUrl) {
  throw new Error('REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set: point it at a PostgreSQL database');
}

/** node:test `skip` value for a backend: false to run, or the reason it is skipped. */
export function skipReason(backend: BackendName): string | false {
  if (backend === 'postgres' && !testDatabaseUrl) return 'TEST_DATABASE_URL is not set: Postgres variant skipped';
  return false;
}

export const backends: BackendName[] = ['pglite', 'postgres'];

/** A place to put a database: the flags that point audit-processor at it, and a way to open it here. */
export interface TestDatabaseTarget {
  backend: BackendName;
  /** `-database-url URL` or `-data-dir DIR`. */
  flags: string[];
  databaseUrl?: string;
  dataDir: string;
  open(): Promise<Database>;
  /** Drops the database / removes the directory. */
  destroy(): Promise<void>;
}

/** Creates an empty database (no migrations yet: openDatabase applies them). */
export async function createTestDatabaseTarget(backend: BackendName): Promise<TestDatabaseTarget> {
  const dataDir = mkdtempSync(join(tmpdir(), 'exectrail-test-'));
  if (backend === 'pglite') {
    return {
      backend,
      flags: ['-data-dir', dataDir],
      dataDir,
      open: () => openDatabase({ dataDir }),
      destroy: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  if (!testDatabaseUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `exectrail_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  return {
    backend,
    flags: ['-database-url', databaseUrl],
    databaseUrl,
    dataDir,
    open: () => openDatabase({ databaseUrl, dataDir }),
    destroy: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Runs one statement on the database TEST_DATABASE_URL names (to create or drop test databases). */
export async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A migrated database shared by the tests of one file on one backend. */
export async function createTestDatabase(backend: BackendName): Promise<{ db: Database; target: TestDatabaseTarget; close(): Promise<void> }> {
  const target = await createTestDatabaseTarget(backend);
  const db = await target.open();
  return {
    db,
    target,
    close: async () => {
      await db.close();
      await target.destroy();
    },
  };
}
