/**
 * Migration 0007 turns runtime_events and exec_session_links into partitioned tables and keeps every row
 * and link: on a database filled as exectrail stored it before (64-hex keys, raw always, one table), on
 * both backends. Reading the same KubeArmor events again afterwards stores nothing new.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { runtimeEventFromLine } from '../../src/runtime/json-lines.ts';
import { RuntimeEventWriter } from '../../src/runtime/writer.ts';
import { listPartitions } from '../../src/store/partitions.ts';
import { backends, createTestDatabaseTarget, skipReason, type TestDatabaseTarget } from '../support/databases.ts';
import { kubeArmorLog } from '../support/hostile-input.ts';
import { fillOldSchema } from '../support/old-schema.ts';

/** Events over two days and several hours; every fifth an alert. */
const lines = Array.from({ length: 40 }, (_, n) => {
  const event = kubeArmorLog(n, `/app/${n}`);
  event.UpdatedTime = `2025-10-${n < 20 ? '19' : '20'}T${String(8 + (n % 5)).padStart(2, '0')}:15:00.${String(n).padStart(6, '0')}Z`;
  if (n % 5 === 0) Object.assign(event, { Type: 'MatchedPolicy', PolicyName: 'audit-ls', Action: 'Audit' });
  return JSON.stringify(event);
});
const events = lines.map((line) => {
  const outcome = runtimeEventFromLine(line, { cluster: 'old', raw: 'all' });
  assert.ok(outcome.kind === 'event');
  return outcome.event;
});
/** Links of a session to three logs (n = 1, 2, 21). */
const linked = [1, 2, 21];

// As the writer before 0007 stored them: the whole SHA-256 as key (the first 32 hex are today's key).
const oldKey = (key: string) => `${key}${'0'.repeat(32)}`;
const insertOldEvents = `
  INSERT INTO runtime_events (event_key, event_time, received_at, cluster, kind, host_name, namespace, pod, container_name, pid, ppid,
    host_pid, host_ppid, process_name, parent_process_name, type, operation, resource, data, result, policy_name, action, raw)
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(event_key text, event_time timestamptz, received_at timestamptz, cluster text, kind text,
    host_name text, namespace text, pod text, container_name text, pid int, ppid int, host_pid int, host_ppid int, process_name text,
    parent_process_name text, type text, operation text, resource text, data text, result text, policy_name text, action text, raw jsonb)`;
const insertOldLinks = `
  INSERT INTO exec_session_links (session_id, event_key, event_time, cluster, link_method)
  SELECT 'EXEC:old:s-1', r.event_key, r.event_time, 'old', 'process-tree' FROM jsonb_to_recordset($1::jsonb) AS r(event_key text, event_time timestamptz)`;

for (const backend of backends) {
  describe(`runtime events stored before partitioning, on ${backend}`, { skip: skipReason(backend) }, () => {
    let target: TestDatabaseTarget | undefined;
    after(() => target?.destroy());

    it('are all kept, in the partitions their time and links say, and reading them again stores nothing', async () => {
      target = await createTestDatabaseTarget(backend, { state: 'empty' });
      const records = events.map((e) => ({
        event_key: oldKey(e.eventKey), event_time: e.eventTime, received_at: e.receivedAt, cluster: e.cluster, kind: e.kind, host_name: e.hostName,
        namespace: e.namespace, pod: e.pod, container_name: e.containerName, pid: e.pid, ppid: e.ppid, host_pid: e.hostPid, host_ppid: e.hostPpid,
        process_name: e.processName, parent_process_name: e.parentProcessName, type: e.type, operation: e.operation, resource: e.resource,
        data: e.data, result: e.result, policy_name: e.policyName, action: e.action, raw: e.raw,
      }));
      const links = linked.map((n) => ({ event_key: oldKey(events[n]!.eventKey), event_time: events[n]!.eventTime }));
      await fillOldSchema(target, '0007_runtime_events_partitioned', [
        [insertOldEvents, [JSON.stringify(records)]],
        [insertOldLinks, [JSON.stringify(links)]],
      ]);

      const db = await target.open();
      try {
        const { rows } = await db.query<{ event_key: string; kept: boolean; resource: string }>(`SELECT event_key, kept, resource FROM runtime_events ORDER BY resource`);
        assert.equal(rows.length, 40, 'every row is kept');
        const byKey = new Map(rows.map((r) => [r.event_key, r]));
        for (const [n, event] of events.entries()) {
          const row = byKey.get(event.eventKey);
          assert.ok(row, `event ${n} under its new key`);
          assert.equal(row.kept, event.kind === 'alert' || linked.includes(n), `event ${n} kept as an alert or a linked event`);
        }
        // The links are whole, and point at kept events (what exec_session_processes joins).
        const { rows: view } = await db.query<{ resource: string }>(
          `SELECT r.resource FROM exec_session_links l JOIN runtime_events r ON r.event_key = l.event_key AND r.event_time = l.event_time AND r.kept
           WHERE l.session_id = 'EXEC:old:s-1' ORDER BY r.resource`,
        );
        assert.deepEqual(view.map((r) => r.resource), linked.map((n) => events[n]!.resource).sort());
        // Partitioned as declared: hours of the transient logs, days of the kept events and links.
        assert.deepEqual((await listPartitions(db, 'kept')).map((p) => p.name), ['runtime_events_kept_p20251019', 'runtime_events_kept_p20251020']);
        assert.deepEqual((await listPartitions(db, 'links')).map((p) => p.name), ['exec_session_links_p20251019', 'exec_session_links_p20251020']);
        const transientHours = new Set(events.filter((e, n) => e.kind !== 'alert' && !linked.includes(n)).map((e) => e.eventTime.slice(0, 13)));
        assert.deepEqual((await listPartitions(db, 'transient')).map((p) => new Date(p.fromMs).toISOString().slice(0, 13)), [...transientHours].sort());

        const again = await new RuntimeEventWriter(db, { metrics: createMetrics(), logger: silentLogger }).write(events);
        assert.equal(again.inserted, 0, 'read again, nothing new');
        assert.equal(Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM runtime_events`)).rows[0]!.n), 40);
      } finally {
        await db.close();
      }
    });
  });
}
