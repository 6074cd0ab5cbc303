/**
 * A new embedded database is created by a child process (src/store/pglite-initdb.ts), so that PGlite's
 * initdb memory leaves with it; the processor then opens the directory like an existing one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openDatabase } from '../../src/store/database.ts';
import { createPgliteDataDir, isPgliteDataDir } from '../../src/store/pglite-initdb.ts';

describe('a new embedded database', () => {
  it('is made by a child process, and opens and migrates as an existing one', { timeout: 120_000 }, async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'exectrail-initdb-')), 'data');
    assert.equal(isPgliteDataDir(dir), false);
    const db = await openDatabase({ dataDir: dir });
    try {
      assert.equal(isPgliteDataDir(dir), true);
      const { rows } = await db.query<{ tables: number }>(`SELECT count(*)::int AS tables FROM pg_tables WHERE tablename IN ('change_events', 'runtime_events_kept')`);
      assert.equal(rows[0]?.tables, 2, 'migrated after the child made it');
    } finally {
      await db.close();
    }
  });

  it('says why when the child cannot make it', { timeout: 120_000 }, async () => {
    const parent = mkdtempSync(join(tmpdir(), 'exectrail-initdb-'));
    const notADirectory = join(parent, 'file');
    writeFileSync(notADirectory, 'not a directory\n');
    await assert.rejects(createPgliteDataDir(notADirectory), /^Error: creating the embedded database failed \(exit code 1\): .+/);
  });

});
