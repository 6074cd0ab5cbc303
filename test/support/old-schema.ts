/**
 * A database as an older exectrail left it: migrated up to (not including) a given migration and filled
 * the way that version's writers filled it, so that a test can open it with today's code and check what
 * the next migrations keep.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { migrationsFolder } from '../../src/store/database.ts';
import type { TestDatabaseTarget } from './databases.ts';

/** A copy of migrations/ that ends before the migration named `tag`. */
function migrationsBefore(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'exectrail-migrations-'));
  cpSync(migrationsFolder(), dir, { recursive: true });
  const journalPath = join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
  const index = journal.entries.findIndex((e) => e.tag === tag);
  assert.ok(index > 0, `migration ${tag} exists`);
  journal.entries = journal.entries.slice(0, index);
  writeFileSync(journalPath, JSON.stringify(journal));
  return dir;
}

/** Migrates an empty target up to before `tag`, then runs `statements` (with their parameters) on it. */
export async function fillOldSchema(target: TestDatabaseTarget, tag: string, statements: [sql: string, params: unknown[]][]): Promise<void> {
  const folder = migrationsBefore(tag);
  try {
    if (target.backend === 'pglite') {
      const lite = new PGlite(target.dataDir);
      await migratePglite(drizzlePglite(lite), { migrationsFolder: folder });
      for (const [sql, params] of statements) await lite.query(sql, params);
      await lite.close();
    } else {
      const client = new pg.Client({ connectionString: target.databaseUrl });
      await client.connect();
      await migratePg(drizzlePg(client), { migrationsFolder: folder });
      for (const [sql, params] of statements) await client.query(sql, params);
      await client.end();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
