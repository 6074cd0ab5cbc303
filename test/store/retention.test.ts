import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isAllowedCode, requestKeyOf, sessionId, type SessionRow } from '../../src/audit/session.ts';
import { normalizeTimestamp } from '../../src/audit/time.ts';
import type { Database } from '../../src/store/database.ts';
import { pruneOnce } from '../../src/store/retention.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';

const DAY = 86_400_000;
const now = new Date('2026-06-30T12:00:00.000Z');
const daysAgo = (days: number) => normalizeTimestamp(new Date(now.getTime() - days * DAY).toISOString())!;

function session(auditId: string, startedAt: string): SessionRow {
  const row: SessionRow = {
    id: sessionId('', auditId), cluster: '', auditId, requestKey: '', timestamp: startedAt, operation: 'EXEC', resourceKind: 'Pod',
    namespace: 'shop', name: 'web-0', actor: { username: 'alice' }, source: { tool: 'kubectl' }, allowed: isAllowedCode(101),
    execMetadata: { target_type: 'pod', started_at: startedAt, ended_at: null, duration_ms: null, stages: ['ResponseStarted'], response_code: 101 },
  };
  return { ...row, requestKey: requestKeyOf(row) };
}

/** Counts the DELETE statements a prune issues and the most rows one of them removed. */
function countingDeletes(db: Database) {
  const seen = { statements: 0, largest: 0 };
  const wrapped: Database = {
    ...db,
    query: async (text, params) => {
      const result = await db.query(text, params);
      if (/\bDELETE FROM\b/i.test(text)) {
        seen.statements++;
        seen.largest = Math.max(seen.largest, result.rowCount);
      }
      return result as never;
    },
  };
  return { wrapped, seen };
}

for (const backend of backends) {
  describe(`retention on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('removes only rows older than the limit, in batches, while ingestion continues', async () => {
      // 40 runtime events stored 40 days ago, 25 yesterday, and 10 of last year's stored today (a
      // backfill: they stay); 12 sessions 100 days old, 5 recent; one kubechronicle admission row 400
      // days old, which is never ours to prune.
      const insertEvents = (prefix: string, count: number, days: number) =>
        db.query(
          `INSERT INTO runtime_events (event_key, event_time, received_at, kind, namespace, pod, raw)
           SELECT $1 || g, $2::timestamptz + (g || ' seconds')::interval, $4::timestamptz, 'log', 'shop', 'web-0', '{}'::jsonb FROM generate_series(1, $3) g`,
          [prefix, daysAgo(days), count, daysAgo(days)],
        );
      await insertEvents('old-', 40, 40);
      await insertEvents('new-', 25, 1);
      await db.query(
        `INSERT INTO runtime_events (event_key, event_time, received_at, kind, namespace, pod, raw)
         SELECT 'backfill-' || g, $1::timestamptz, $2::timestamptz, 'log', 'shop', 'web-0', '{}'::jsonb FROM generate_series(1, 10) g`,
        [daysAgo(365), daysAgo(0)],
      );
      const writer = new SessionWriter(db);
      await writer.write(Array.from({ length: 12 }, (_, i) => session(`old-${i}`, daysAgo(100))));
      await writer.write(Array.from({ length: 5 }, (_, i) => session(`new-${i}`, daysAgo(2))));
      await db.query(
        `INSERT INTO change_events (id, timestamp, operation, resource_kind, namespace, name, actor, source)
         VALUES ('CREATE-ConfigMap-shop-x', $1, 'CREATE', 'ConfigMap', 'shop', 'x', '{"username":"bob"}', '{"tool":"kubectl"}')`,
        [daysAgo(400)],
      );
      await db.query(`INSERT INTO exec_session_links (session_id, event_key, event_time, link_method)
                      SELECT $1, event_key, event_time, 'process-tree' FROM runtime_events WHERE event_key LIKE 'old-%'`, [sessionId('', 'old-0')]);

      const { wrapped, seen } = countingDeletes(db);
      const ingestion = writer.write(Array.from({ length: 30 }, (_, i) => session(`during-${i}`, daysAgo(0))));
      const pruned = await pruneOnce(wrapped, { runtimeMs: 30 * DAY, sessionsMs: 90 * DAY, batchSize: 7 }, now);
      await ingestion;

      assert.deepEqual(pruned, { runtimeEvents: 40, sessions: 12, links: 0 });
      assert.ok(seen.statements > 4 && seen.largest <= 7, `deleted in batches of at most 7 (${JSON.stringify(seen)})`);
      const count = async (sql: string) => Number((await db.query<{ n: number }>(sql)).rows[0]!.n);
      assert.equal(await count(`SELECT count(*)::int AS n FROM runtime_events WHERE event_key LIKE 'new-%'`), 25);
      assert.equal(await count(`SELECT count(*)::int AS n FROM runtime_events`), 35);
      assert.equal(await count(`SELECT count(*)::int AS n FROM change_events WHERE operation = 'EXEC'`), 35);
      assert.equal(await count(`SELECT count(*)::int AS n FROM change_events WHERE operation = 'CREATE'`), 1, 'kubechronicle rows are kept');
      assert.equal(await count(`SELECT count(*)::int AS n FROM exec_session_links`), 0);
    });

    it('keeps everything when both limits are off', async () => {
      const before = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM change_events`)).rows[0]!.n);
      assert.deepEqual(await pruneOnce(db, { runtimeMs: 0, sessionsMs: 0 }, now), { runtimeEvents: 0, sessions: 0, links: 0 });
      assert.equal(Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM change_events`)).rows[0]!.n), before);
    });
  });
}
