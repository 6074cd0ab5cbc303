/**
 * Sessions stored before sessions were keyed by request (migration 0006) get the request key the
 * ingestion computes today, so reading the same log again after the upgrade finds them instead of
 * storing them twice. On both backends: a database migrated up to 0005 and filled the way the old
 * writer filled it, then opened by today's code.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { mergeStages, type SessionRow } from '../../src/audit/session.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { execStages } from '../support/audit-event.ts';
import { fillOldSchema } from '../support/old-schema.ts';
import { backends, createTestDatabaseTarget, skipReason, type TestDatabaseTarget } from '../support/databases.ts';

/** The rows the old writer stored: keyed by (cluster, audit_id), no request_key column. */
const insertOld = `
  INSERT INTO change_events (id, cluster, audit_id, "timestamp", operation, resource_kind, namespace, name, actor, source, allowed, exec_metadata)
  SELECT id, cluster, audit_id, "timestamp", operation, resource_kind, namespace, name, actor, source, allowed, exec_metadata
  FROM jsonb_to_recordset($1::jsonb) AS r(id text, cluster text, audit_id text, "timestamp" timestamptz, operation text,
    resource_kind text, namespace text, name text, actor jsonb, source jsonb, allowed boolean, exec_metadata jsonb)`;

function oldRows(sessions: SessionRow[]): [string, unknown[]][] {
  const records = JSON.stringify(
    sessions.map((s) => ({
      id: s.id, cluster: s.cluster, audit_id: s.auditId, timestamp: s.timestamp, operation: 'EXEC', resource_kind: s.resourceKind,
      namespace: s.namespace, name: s.name, actor: s.actor, source: s.source, allowed: s.allowed, exec_metadata: s.execMetadata,
    })),
  );
  return [[insertOld, [records]]];
}

const events = [
  ...execStages({ auditID: 'old-1', user: 'alice@example.com', namespace: 'shop', pod: 'web-0', command: ['sh', '-c', 'écho ünïcode'] }),
  ...execStages({ auditID: 'old-2', user: 'bob@example.com', namespace: 'prod', pod: 'db-0', code: 403, received: '2025-10-19T14:42:00.000001Z' }),
  {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: 'old-3', stage: 'ResponseComplete',
    requestURI: '/api/v1/nodes/worker-1/proxy/exec/shop/web-0/web?command=id&output=1', verb: 'create',
    user: { username: 'system:admin' }, sourceIPs: ['10.0.0.1'], objectRef: { resource: 'nodes', name: 'worker-1', apiVersion: 'v1', subresource: 'proxy' },
    responseStatus: { code: 101 }, requestReceivedTimestamp: '2025-10-19T14:43:00.000001Z', stageTimestamp: '2025-10-19T14:43:01.000001Z',
  },
];

for (const backend of backends) {
  describe(`sessions stored before request keys, on ${backend}`, { skip: skipReason(backend) }, () => {
    let target: TestDatabaseTarget | undefined;
    after(() => target?.destroy());

    it('get the key ingestion computes, so the same log read again after the upgrade changes nothing', async () => {
      target = await createTestDatabaseTarget(backend, { state: 'empty' });
      const sessions = mergeStages(events.flatMap((e) => sessionsFromLine(Buffer.from(JSON.stringify(e)), { cluster: '' }).rows));
      assert.equal(sessions.length, 3);
      await fillOldSchema(target, '0006_session_request_key', oldRows(sessions));

      const db = await target.open();
      try {
        const { rows } = await db.query<{ id: string; request_key: string }>(`SELECT id, request_key FROM change_events ORDER BY id`);
        assert.deepEqual(rows, sessions.map((s) => ({ id: s.id, request_key: s.requestKey })).sort((a, b) => (a.id < b.id ? -1 : 1)));

        const again = await new SessionWriter(db).write(sessions);
        assert.deepEqual({ inserted: again.inserted, updated: again.updated }, { inserted: 0, updated: 0 });
        const { rows: count } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM change_events`);
        assert.equal(count[0]!.n, 3);
      } finally {
        await db.close();
      }
    });
  });
}
