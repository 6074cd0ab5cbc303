import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { SessionRow } from '../../src/audit/session.ts';
import { isAllowedCode, requestKeyOf, sessionId } from '../../src/audit/session.ts';
import type { Database } from '../../src/store/database.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { backends, createTestDatabase, createTestDatabaseTarget, skipReason } from '../support/databases.ts';

function stage(auditId: string, stageName: string, extra: Partial<SessionRow['execMetadata']> = {}): SessionRow {
  const startedAt = '2024-05-02T09:15:01.104512Z';
  const row: SessionRow = {
    id: sessionId('', auditId),
    cluster: '',
    auditId,
    requestKey: '',
    timestamp: startedAt,
    operation: 'EXEC',
    resourceKind: 'Pod',
    namespace: 'shop',
    name: 'web-0',
    actor: { username: 'alice', source_ip: '192.0.2.10' },
    source: { tool: 'kubectl' },
    allowed: isAllowedCode(extra.response_code),
    execMetadata: { command: ['/bin/sh'], target_type: 'pod', started_at: startedAt, ended_at: null, duration_ms: null, stages: [stageName], ...extra },
  };
  return { ...row, requestKey: requestKeyOf(row) };
}

async function execRows(db: Database) {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT id, audit_id, allowed, exec_metadata, updated_at FROM change_events WHERE operation = 'EXEC' ORDER BY id`,
  );
  return rows;
}

for (const backend of backends) {
  describe(`storage on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it("creates change_events with kubechronicle's columns, types and NOT NULLs", async () => {
      const { rows } = await db.query<{ column_name: string; data_type: string; is_nullable: string }>(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'change_events'`,
      );
      const columns = new Map(rows.map((r) => [r.column_name, r]));
      const expected: [string, string, 'YES' | 'NO'][] = [
        ['id', 'character varying', 'NO'],
        ['timestamp', 'timestamp with time zone', 'NO'],
        ['operation', 'character varying', 'NO'],
        ['resource_kind', 'character varying', 'NO'],
        ['namespace', 'character varying', 'NO'],
        ['name', 'character varying', 'NO'],
        ['actor', 'jsonb', 'NO'],
        ['source', 'jsonb', 'NO'],
        ['diff', 'jsonb', 'YES'],
        ['object_snapshot', 'jsonb', 'YES'],
        ['allowed', 'boolean', 'NO'],
        ['block_pattern', 'character varying', 'YES'],
        ['exec_metadata', 'jsonb', 'YES'],
        ['created_at', 'timestamp with time zone', 'YES'],
        ['audit_id', 'character varying', 'YES'],
        ['cluster', 'character varying', 'NO'],
      ];
      for (const [name, type, nullable] of expected) {
        assert.equal(columns.get(name)?.data_type, type, `${name} type`);
        assert.equal(columns.get(name)?.is_nullable, nullable, `${name} nullable`);
      }
    });

    it('merges the stages of one session written in separate batches, in any order, into one row', async () => {
      const writer = new SessionWriter(db);
      await writer.write([stage('s-order', 'ResponseComplete', { response_code: 101, ended_at: '2024-05-02T09:20:00.000001Z' })]);
      await writer.write([stage('s-order', 'RequestReceived')]);
      await writer.write([stage('s-order', 'ResponseStarted', { response_code: 101 })]);
      const row = (await execRows(db)).find((r) => r.audit_id === 's-order')!;
      const meta = row.exec_metadata as SessionRow['execMetadata'];
      assert.deepEqual(meta.stages, ['RequestReceived', 'ResponseStarted', 'ResponseComplete']);
      assert.equal(meta.ended_at, '2024-05-02T09:20:00.000001Z', 'a later-arriving earlier stage never erases the end');
      assert.equal(meta.response_code, 101);
    });

    it('records a forbidden attempt with allowed = false', async () => {
      await new SessionWriter(db).write([stage('s-denied', 'ResponseComplete', { response_code: 403 })]);
      const row = (await execRows(db)).find((r) => r.audit_id === 's-denied')!;
      assert.equal(row.allowed, false);
    });

    it('is idempotent: writing the same stages again changes no row, not even updated_at', async () => {
      const writer = new SessionWriter(db);
      const batch = [stage('s-idem', 'ResponseStarted', { response_code: 101 }), stage('s-idem', 'ResponseComplete', { response_code: 101, ended_at: '2024-05-02T09:16:00.000000Z' })];
      await writer.write(batch);
      const first = await execRows(db);
      const again = await writer.write([...batch].reverse());
      assert.equal(again.updated, 0);
      assert.deepEqual(await execRows(db), first);
    });

    it('lets concurrent writers of the same session both land (no lost stage)', async () => {
      const writer = new SessionWriter(db);
      await Promise.all([
        writer.write([stage('s-race', 'ResponseStarted', { response_code: 101 })]),
        writer.write([stage('s-race', 'ResponseComplete', { response_code: 101, ended_at: '2024-05-02T09:17:00.000000Z' })]),
        writer.write([stage('s-race', 'RequestReceived')]),
      ]);
      const row = (await execRows(db)).find((r) => r.audit_id === 's-race')!;
      assert.deepEqual((row.exec_metadata as SessionRow['execMetadata']).stages, ['RequestReceived', 'ResponseStarted', 'ResponseComplete']);
    });
  });

  describe(`migrating a kubechronicle database on ${backend}`, { skip: skipReason(backend) }, () => {
    it('adopts the existing table: the admission row survives and exec rows land beside it', async () => {
      const target = await createTestDatabaseTarget(backend, { state: 'empty' });
      try {
        // kubechronicle ran first: its schema and one admission row. Run its SQL through a migrated-less
        // connection by opening the raw backend.
        await runRawSql(target, readFileSync(new URL('../fixtures/kubechronicle-schema.sql', import.meta.url), 'utf8') +
          `;INSERT INTO change_events (id, timestamp, operation, resource_kind, namespace, name, actor, source, allowed)
            VALUES ('CREATE-Deployment-shop-web-1', now(), 'CREATE', 'Deployment', 'shop', 'web', '{"username":"bob"}', '{"tool":"kubectl"}', true)`);
        const db = await target.open();
        try {
          await new SessionWriter(db).write([stage('s-kc', 'ResponseComplete', { response_code: 101 })]);
          const { rows } = await db.query<{ id: string; operation: string; cluster: string }>(`SELECT id, operation, cluster FROM change_events ORDER BY operation`);
          assert.deepEqual(rows.map((r) => [r.operation, r.cluster]), [['CREATE', ''], ['EXEC', '']]);
          assert.equal(rows[0]!.id, 'CREATE-Deployment-shop-web-1');
        } finally {
          await db.close();
        }
      } finally {
        await target.destroy();
      }
    });
  });
}

/** Runs SQL on a target before exectrail ever opened it. */
async function runRawSql(target: Awaited<ReturnType<typeof createTestDatabaseTarget>>, sql: string) {
  if (target.backend === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: target.databaseUrl });
    await client.connect();
    await client.query(sql);
    await client.end();
  } else {
    const { PGlite } = await import('@electric-sql/pglite');
    const lite = new PGlite(target.dataDir);
    await lite.exec(sql);
    await lite.close();
  }
}
