/**
 * Acceptance 3 through the real store: the stages of 1000 generated sessions, written as audit lines,
 * read back through the per-line transform, shuffled and stored in random batches by the real
 * SessionWriter give one row per session; storing them all again (another order, two concurrent
 * writers) changes nothing. On PGlite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { canonicalJson, mergeStages, type SessionRow } from '../../src/audit/session.ts';
import type { Database } from '../../src/store/database.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { generateSession, stageRowsOf } from './generate.ts';
import { seededRandom, shuffle, testSeed } from './support.ts';

const SESSIONS = 1000;

function batchesOf<T>(random: () => number, items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const size = 1 + Math.floor(random() * 150);
    out.push(items.slice(i, i + size));
    i += size;
  }
  return out;
}

/** The stored rows as a user sees them (minus bookkeeping times). */
async function storedRows(db: Database) {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT id, cluster, audit_id, to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts, operation,
            resource_kind, namespace, name, actor, source, allowed, exec_metadata
     FROM change_events WHERE cluster = 'store-prop' ORDER BY id`,
  );
  return rows;
}

for (const backend of backends) {
  describe(`stages of ${SESSIONS} sessions through the SessionWriter on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('store one row per session, and the same rows when ingested again in another order', async () => {
      const seed = testSeed();
      const random = seededRandom(seed);
      const context = { cluster: 'store-prop' };
      const sessions = Array.from({ length: SESSIONS }, () => generateSession(random));
      const stages: SessionRow[] = sessions.flatMap((s) => stageRowsOf(random, s, context));
      assert.equal(stages.length, sessions.reduce((n, s) => n + s.events.length, 0), 'every stage line extracted');

      const writer = new SessionWriter(db);
      for (const batch of batchesOf(random, shuffle(random, stages))) await writer.write(batch);
      const first = await storedRows(db);
      assert.equal(first.length, SESSIONS, `seed ${seed}: one row per session`);

      const expected = new Map(mergeStages(stages).map((row) => [row.id, row]));
      const truth = new Map(sessions.map((s) => [s.auditID, s.expected]));
      for (const row of first) {
        const want = expected.get(row.id as string)!;
        assert.equal(canonicalJson(row.exec_metadata), canonicalJson(want.execMetadata), `seed ${seed}: ${row.id} exec_metadata`);
        assert.equal(canonicalJson(row.actor), canonicalJson(want.actor), `seed ${seed}: ${row.id} actor`);
        assert.equal(canonicalJson(row.source), canonicalJson(want.source), `seed ${seed}: ${row.id} source`);
        assert.equal(row.ts, want.execMetadata.started_at, `seed ${seed}: ${row.id} timestamp with microseconds`);
        assert.equal(row.allowed, want.allowed);
        const meta = row.exec_metadata as SessionRow['execMetadata'];
        const t = truth.get(row.audit_id as string)!;
        assert.deepEqual(meta.stages, t.stages, `seed ${seed}: ${row.id} stages`);
        assert.equal(meta.ended_at, t.endedAt, `seed ${seed}: ${row.id} end`);
      }

      // Again, in another order, by two writers at once (as two webhook replicas would).
      const again = batchesOf(random, shuffle(random, stages));
      const writers = [new SessionWriter(db), new SessionWriter(db)];
      const results = await Promise.all(
        writers.map(async (w, k) => {
          let changed = 0;
          for (const batch of again.filter((_, i) => i % 2 === k)) {
            const result = await w.write(batch);
            changed += result.inserted + result.updated;
          }
          return changed;
        }),
      );
      assert.deepEqual(results, [0, 0], 'nothing inserted or updated the second time');
      assert.deepEqual(await storedRows(db), first, `seed ${seed}: same rows`);
    });
  });
}
