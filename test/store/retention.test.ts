/**
 * Retention drops whole partitions: unlinked runtime events go with their hour after -retention-unlinked,
 * alerts and events a session claimed stay with their day for -retention-runtime (counted from when they
 * were stored, so a backfill of an old incident stays), and sessions go in small batches when asked.
 * Everything is stored through the real writers and linked by the real correlator.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { Correlator } from '../../src/correlate/scheduler.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics, counterByLabel } from '../../src/observe/metrics.ts';
import { runtimeEventFromLine } from '../../src/runtime/json-lines.ts';
import { RuntimeEventWriter } from '../../src/runtime/writer.ts';
import type { Database } from '../../src/store/database.ts';
import { listPartitions } from '../../src/store/partitions.ts';
import { pruneOnce } from '../../src/store/retention.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { World } from '../../scenarios/correlation.ts';
import { execStages } from '../support/audit-event.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = new Date('2026-06-30T12:30:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** Adds a session in web-0 at `start`: alice's `kubectl exec -it web-0 -- bash`, bash running `ls`, and the app's own process beside it. */
function addSession(world: World, id: string, start: string): void {
  const web = world.container('worker-1', 'shop', 'web-0', 'web');
  const end = ago(now.getTime() - Date.parse(start) - 60_000);
  world.podExec({ auditId: id, user: 'alice@example.com', namespace: 'shop', pod: 'web-0', container: 'web', command: ['bash'], tty: true, start, end });
  const bash = world.runcExec(web, ago(now.getTime() - Date.parse(start) - 100), ['/usr/bin/bash'], { tty: true, truth: id });
  world.spawn(bash, ago(now.getTime() - Date.parse(start) - 5_000), ['/bin/ls', '-la']);
  const app = world.existing(web, '/usr/sbin/nginx');
  world.spawn(app, ago(now.getTime() - Date.parse(start) - 6_000), ['/bin/gzip', 'access.log'], null);
}

interface Lines {
  audit: string[];
  runtime: string[];
}

/** The lines of each session, from one world (process IDs and exec IDs are unique within a world). */
function sessionsAt(...sessions: [id: string, start: string][]): Lines[] {
  const world = new World();
  let seen: Lines = { audit: [], runtime: [] };
  return sessions.map(([id, start]) => {
    addSession(world, id, start);
    const all = { audit: world.auditLines(), runtime: world.runtimeLines().map((l) => l.line) };
    const added = { audit: all.audit.slice(seen.audit.length), runtime: all.runtime.slice(seen.runtime.length) };
    seen = all;
    return added;
  });
}

async function storeWorld(db: Database, lines: Lines, receivedAt: string, correlator: Correlator): Promise<void> {
  const sessions = new SessionWriter(db, { onCommitted: correlator.onSessionsCommitted });
  await sessions.write(lines.audit.flatMap((line) => sessionsFromLine(Buffer.from(line), { cluster: '' }).rows));
  const writer = new RuntimeEventWriter(db, { metrics: createMetrics(), logger: silentLogger, onCommitted: correlator.onRuntimeCommitted });
  const events = lines.runtime.map((line) => {
    const outcome = runtimeEventFromLine(line, { cluster: '', receivedAt });
    assert.equal(outcome.kind, 'event');
    return outcome.kind === 'event' ? outcome.event : undefined!;
  });
  await writer.write(events);
}

/** An alert of the app's (a policy match), at `time`, stored at `receivedAt`. */
async function storeAlert(db: Database, time: string, receivedAt: string): Promise<void> {
  const line = JSON.stringify({
    Timestamp: Math.floor(Date.parse(time) / 1000), UpdatedTime: time, HostName: 'worker-1', NamespaceName: 'shop', PodName: 'web-0',
    ContainerName: 'web', HostPID: 999, PID: 9, Type: 'MatchedPolicy', PolicyName: 'block-curl', Action: 'Block', Operation: 'Process',
    Resource: '/usr/bin/curl', Result: 'Permission denied',
  });
  const outcome = runtimeEventFromLine(line, { cluster: '', receivedAt });
  assert.ok(outcome.kind === 'event');
  await new RuntimeEventWriter(db, { metrics: createMetrics(), logger: silentLogger }).write([outcome.event]);
}

const count = async (db: Database, sql: string) => Number((await db.query<{ n: number }>(sql)).rows[0]!.n);

for (const backend of backends) {
  describe(`retention on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('drops unlinked events with their hour after -retention-unlinked; alerts and what a session ran stay', async () => {
      const correlator = new Correlator({ db, skewMs: 2_000, logger: silentLogger, debounceMs: 60_000, now: () => now.getTime() });
      // Ten hours ago: a session (bash, ls: linked), the app's gzip (nobody's), and an alert.
      const [old, recent] = sessionsAt(['11111111-0000-4000-8000-000000000001', ago(10 * HOUR)], ['22222222-0000-4000-8000-000000000002', ago(HOUR)]);
      await storeWorld(db, old!, ago(10 * HOUR), correlator);
      await storeAlert(db, ago(10 * HOUR - 30_000), ago(10 * HOUR));
      // An hour ago: the same, not yet past the limit.
      await storeWorld(db, recent!, ago(HOUR), correlator);
      await correlator.flush();
      const linkedBefore = await count(db, `SELECT count(*)::int AS n FROM exec_session_links`);
      assert.equal(linkedBefore, 4, 'bash and ls of each session are linked');

      const transientBefore = await listPartitions(db, 'transient');
      const metrics = createMetrics();
      const pruned = await pruneOnce(db, { unlinkedMs: 6 * HOUR, runtimeMs: 30 * DAY, sessionsMs: 0 }, now, metrics);

      // Whole hours were dropped, the ones ending before now - 6 h, and nothing else.
      const transientAfter = await listPartitions(db, 'transient');
      const cutoff = now.getTime() - 6 * HOUR;
      assert.ok(pruned.partitions.transient >= 1);
      assert.deepEqual(transientAfter.map((p) => p.name), transientBefore.filter((p) => p.toMs > cutoff).map((p) => p.name));
      assert.deepEqual(await counterByLabel(metrics.runtimePartitionsDropped, 'tier'), { transient: pruned.partitions.transient });

      const processes = async (user: string) =>
        (await db.query<{ resource: string }>(`SELECT r.resource FROM runtime_events r WHERE r.process_name IS NOT NULL AND r.resource LIKE $1 ORDER BY r.event_time`, [user])).rows.map((r) => r.resource);
      // The old session's processes and the old alert stay; the old gzip (unlinked) is gone; the recent one stays.
      assert.equal(await count(db, `SELECT count(*)::int AS n FROM exec_session_processes`), 4, 'every linked event is still there');
      assert.equal(await count(db, `SELECT count(*)::int AS n FROM runtime_events WHERE kind = 'alert'`), 1);
      assert.deepEqual(await processes('%gzip%'), ['/bin/gzip access.log']);
      assert.equal(await count(db, `SELECT count(*)::int AS n FROM runtime_events WHERE resource LIKE '%gzip%' AND event_time < '${ago(6 * HOUR)}'`), 0);
      assert.equal(await count(db, `SELECT count(*)::int AS n FROM runtime_events WHERE kept`), 5, 'four linked events and the alert are kept');
    });

    it('keeps an old hour a backfill is writing into until nothing arrived for it for -retention-unlinked', async () => {
      const correlator = new Correlator({ db, skewMs: 2_000, logger: silentLogger, debounceMs: 60_000, now: () => now.getTime() });
      // A session twenty hours ago, read from a backup only an hour ago: its unlinked gzip is still wanted.
      const [backfilled] = sessionsAt(['55555555-0000-4000-8000-000000000005', ago(20 * HOUR)]);
      await storeWorld(db, backfilled!, ago(HOUR), correlator);
      await correlator.flush();
      const gzipOfThatHour = `SELECT count(*)::int AS n FROM runtime_events WHERE resource LIKE '%gzip%' AND event_time < '${ago(19 * HOUR)}'`;
      assert.equal(await count(db, gzipOfThatHour), 1);

      await pruneOnce(db, { unlinkedMs: 6 * HOUR, runtimeMs: 30 * DAY, sessionsMs: 0 }, now, createMetrics());
      assert.equal(await count(db, gzipOfThatHour), 1, 'an hour written an hour ago stays, however old its events');

      const later = new Date(now.getTime() + 6 * HOUR);
      await pruneOnce(db, { unlinkedMs: 6 * HOUR, runtimeMs: 30 * DAY, sessionsMs: 0 }, later, createMetrics());
      assert.equal(await count(db, gzipOfThatHour), 0, 'six hours after its last write it goes');
      assert.equal(await count(db, `SELECT count(*)::int AS n FROM exec_session_processes WHERE session_id LIKE '%55555555%'`), 2, 'what the session ran stays');
    });

    it('links a session whose kept and links days were dropped while empty (by another processor) before correlation ran', async () => {
      const correlator = new Correlator({ db, skewMs: 2_000, logger: silentLogger, debounceMs: 60_000, now: () => now.getTime() });
      const [session] = sessionsAt(['66666666-0000-4000-8000-000000000006', ago(3 * DAY)]);
      await storeWorld(db, session!, ago(HOUR), correlator);
      const day = Math.floor((now.getTime() - 3 * DAY) / DAY) * DAY;
      for (const tier of ['kept', 'links'] as const) {
        for (const p of await listPartitions(db, tier)) if (p.fromMs === day) await db.query(`DROP TABLE "${p.name}"`);
      }
      await correlator.flush();
      assert.equal(await count(db, `SELECT count(*)::int AS n FROM exec_session_processes WHERE session_id LIKE '%66666666%'`), 2, 'bash and ls are linked');
    });

    it('drops kept days with their links after -retention-runtime, but not a day a backfill stored recently', async () => {
      const correlator = new Correlator({ db, skewMs: 2_000, logger: silentLogger, debounceMs: 60_000, now: () => now.getTime() });
      // A session 40 days ago, stored 40 days ago; another 50 days ago, backfilled an hour ago.
      const [stored, backfilled] = sessionsAt(['33333333-0000-4000-8000-000000000003', ago(40 * DAY)], ['44444444-0000-4000-8000-000000000004', ago(50 * DAY)]);
      await storeWorld(db, stored!, ago(40 * DAY), correlator);
      await storeWorld(db, backfilled!, ago(HOUR), correlator);
      await correlator.flush();
      const linkDays = async () => (await listPartitions(db, 'links')).map((p) => p.name);
      const before = await linkDays();
      const pruned = await pruneOnce(db, { unlinkedMs: 0, runtimeMs: 30 * DAY, sessionsMs: 0 }, now);
      assert.equal(pruned.partitions.kept, 1, 'the day stored 40 days ago');
      assert.equal(pruned.partitions.links, 1, 'and its links');
      assert.equal((await linkDays()).length, before.length - 1);
      const linkedSessions = (await db.query<{ session_id: string }>(`SELECT DISTINCT session_id FROM exec_session_processes ORDER BY 1`)).rows.map((r) => r.session_id);
      assert.ok(linkedSessions.some((id) => id.endsWith('44444444-0000-4000-8000-000000000004')), 'the backfilled session keeps its processes');
      assert.ok(!linkedSessions.some((id) => id.endsWith('33333333-0000-4000-8000-000000000003')));
    });

    it('deletes old sessions in batches when asked, never kubechronicle rows, and keeps everything when every limit is off', async () => {
      const writer = new SessionWriter(db);
      const stages = (prefix: string, n: number, at: string) =>
        Array.from({ length: n }, (_, i) => execStages({ auditID: `${prefix}-${i}`, received: at })).flat().flatMap((e) => sessionsFromLine(Buffer.from(JSON.stringify(e)), { cluster: '' }).rows);
      await writer.write(stages('old', 12, ago(100 * DAY)));
      await writer.write(stages('new', 5, ago(2 * DAY)));
      await db.query(
        `INSERT INTO change_events (id, timestamp, operation, resource_kind, namespace, name, actor, source)
         VALUES ('CREATE-ConfigMap-shop-x', $1, 'CREATE', 'ConfigMap', 'shop', 'x', '{"username":"bob"}', '{"tool":"kubectl"}')`,
        [ago(400 * DAY)],
      );
      const everything = async () => (await db.query(`SELECT id FROM change_events ORDER BY id`)).rows;
      const before = await everything();
      const off = await pruneOnce(db, { unlinkedMs: 0, runtimeMs: 0, sessionsMs: 0 }, now);
      assert.deepEqual(off, { partitions: { transient: 0, kept: 0, links: 0 }, runtimeEvents: 0, sessions: 0, links: 0 });
      assert.deepEqual(await everything(), before);

      const pruned = await pruneOnce(db, { unlinkedMs: 0, runtimeMs: 0, sessionsMs: 90 * DAY, batchSize: 5 }, now);
      assert.ok(pruned.sessions >= 12);
      assert.equal(await count(db, `SELECT count(*)::int AS n FROM change_events WHERE audit_id LIKE 'old-%'`), 0);
      assert.equal(await count(db, `SELECT count(*)::int AS n FROM change_events WHERE audit_id LIKE 'new-%'`), 5);
      assert.equal(await count(db, `SELECT count(*)::int AS n FROM change_events WHERE operation = 'CREATE'`), 1, 'kubechronicle rows are kept');
    });
  });
}
