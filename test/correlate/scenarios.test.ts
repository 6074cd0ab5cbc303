/**
 * Acceptance 1-6 of correlation through the real tables, on PGlite and PostgreSQL: audit lines go through
 * the audit line sink and the SessionWriter, KubeArmor JSON lines through the KubeArmor line sink and the
 * RuntimeEventWriter (as -audit-log-file and -kubearmor-file store them), the Correlator is woken by both
 * writers' hooks, and the answer is read back from the view exec_session_processes as a user would, then
 * scored against the scenario's truth.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Correlator } from '../../src/correlate/scheduler.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics, counterValue } from '../../src/observe/metrics.ts';
import type { Database, Queryable } from '../../src/store/database.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { shuffled, World } from '../../scenarios/correlation.ts';
import { nodeProxyAndDebug, overlappingSessions, samePodTwoNamespaces } from '../../scenarios/correlation-cases.ts';
import { eventKeyOf, scenarioWriters, score, truthByKey, type ScenarioWriters, type Score } from './support.ts';

interface ViewRow {
  /** session_id and event_key again, named as the scorer reads links. */
  sessionId: string;
  eventKey: string;
  session_id: string;
  event_key: string;
  link_method: string;
  user_name: string;
  namespace: string;
  pod: string;
  container: string;
}

/** A processor's ingestion side for one cluster: the real readers and writers with the correlator on their hooks. */
class Ingestion {
  readonly correlator: Correlator;
  private readonly writers: ScenarioWriters;
  clockMs: number;

  constructor(
    readonly db: Database,
    readonly cluster: string,
    nowIso: string,
  ) {
    this.clockMs = Date.parse(nowIso);
    this.correlator = new Correlator({ db, skewMs: 2_000, logger: silentLogger, debounceMs: 60_000, now: () => this.clockMs });
    this.writers = scenarioWriters(db, cluster, { onSessionsCommitted: this.correlator.onSessionsCommitted, onRuntimeCommitted: this.correlator.onRuntimeCommitted });
  }

  async audit(lines: readonly string[], batchSize = 5) {
    await this.writers.audit(lines, batchSize);
    assert.deepEqual(await this.writers.badInput(), {}, 'every audit line is read');
  }

  async runtime(lines: readonly string[], batchSize = 17) {
    await this.writers.runtime(lines, batchSize);
    assert.deepEqual(await this.writers.badInput(), {}, 'every KubeArmor line is read');
  }
}

async function viewRows(db: Queryable, cluster: string): Promise<ViewRow[]> {
  const { rows } = await db.query<Omit<ViewRow, 'sessionId' | 'eventKey'>>(
    `SELECT session_id, event_key, link_method, user_name, namespace, pod, container FROM exec_session_processes
     WHERE cluster = $1 ORDER BY session_id, event_time, event_key`,
    [cluster],
  );
  return rows.map((r) => ({ ...r, sessionId: r.session_id, eventKey: r.event_key }));
}

function truthOf(world: World, cluster: string): Map<string, string | null> {
  return truthByKey(world.runtimeLines(), cluster);
}

const measured: { name: string; backend: string; score: Score }[] = [];

function assertPerfect(name: string, backend: string, result: Score) {
  measured.push({ name, backend, score: result });
  assert.deepEqual(result.wrong, [], 'no event linked to the wrong session');
  assert.deepEqual(result.missed, [], 'no event of a session left out');
  assert.equal(result.precision, 1);
  assert.equal(result.recall, 1);
  assert.ok(result.expected > 0);
}

for (const backend of backends) {
  describe(`correlation acceptance on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(async () => {
      for (const m of measured.filter((x) => x.backend === backend))
        console.log(`# ${backend} ${m.name}: precision ${m.score.precision * 100} %, recall ${m.score.recall * 100} % (${m.score.truePositives}/${m.score.expected} links)`);
      await close?.();
    });

    it('1. two overlapping sessions, an exec probe and the app: every process to the right session or none', async () => {
      const world = new World();
      const { A, B } = overlappingSessions(world);
      const ingest = new Ingestion(db, 'acceptance-1', '2025-10-21T12:00:00Z');
      await ingest.audit(world.auditLines());
      await ingest.runtime(world.runtimeLines().map((l) => l.line));
      const pass = await ingest.correlator.flush();
      assert.equal(pass.failedPods, 0);
      const rows = await viewRows(db, 'acceptance-1');
      assertPerfect('1 overlapping sessions', backend, score(rows, truthOf(world, 'acceptance-1'), 'acceptance-1'));
      // What a user reads in the view.
      const alice = rows.filter((r) => r.session_id.endsWith(A));
      assert.ok(alice.every((r) => r.user_name === 'alice@example.com' && r.namespace === 'shop' && r.pod === 'web-0' && r.container === 'web'));
      assert.ok(rows.some((r) => r.session_id.endsWith(B) && r.user_name === 'bob@example.com'));
      const { rows: blocked } = await db.query<{ user_name: string; resource: string }>(
        `SELECT user_name, resource FROM exec_session_processes WHERE cluster = $1 AND action = 'Block'`,
        ['acceptance-1'],
      );
      assert.deepEqual(blocked, [{ user_name: 'alice@example.com', resource: '/usr/bin/apt update' }]);
    });

    it('2. the same pod name in two namespaces at the same time: no cross-links', async () => {
      const world = new World();
      samePodTwoNamespaces(world);
      const ingest = new Ingestion(db, 'acceptance-2', '2025-10-21T12:00:00Z');
      await ingest.audit(world.auditLines());
      await ingest.runtime(world.runtimeLines().map((l) => l.line));
      await ingest.correlator.flush();
      const rows = await viewRows(db, 'acceptance-2');
      assertPerfect('2 same pod name, two namespaces', backend, score(rows, truthOf(world, 'acceptance-2'), 'acceptance-2'));
      const users = new Map<string, Set<string>>();
      for (const r of rows) users.set(r.namespace, (users.get(r.namespace) ?? new Set()).add(r.user_name));
      assert.deepEqual([...users.get('shop')!].sort(), ['alice@example.com', 'bob@example.com']);
      assert.deepEqual([...users.get('staging')!].sort(), ['dave@example.com', 'erin@example.com']);
    });

    it('3. node clock 1.5 s behind the apiserver, events delivered out of order: same result', async () => {
      const world = new World({ nodeClockOffsetMs: -1_500 });
      overlappingSessions(world);
      const ingest = new Ingestion(db, 'acceptance-3', '2025-10-21T12:00:00Z');
      await ingest.audit(shuffled(world.auditLines(), 3), 1);
      const lines = shuffled(world.runtimeLines().map((l) => l.line), 11);
      // Out of order, with a correlation pass in between the halves.
      await ingest.runtime(lines.slice(0, 40));
      await ingest.correlator.flush();
      await ingest.runtime(lines.slice(40));
      await ingest.correlator.flush();
      assertPerfect('3 clock 1.5 s behind, out of order', backend, score(await viewRows(db, 'acceptance-3'), truthOf(world, 'acceptance-3'), 'acceptance-3'));
    });

    it('4. old KubeArmor fields (no ExecID, no TTY, PPID = HostPPID): attributed by host PID ancestry', async () => {
      const world = new World({ oldKubeArmor: true });
      overlappingSessions(world);
      const ingest = new Ingestion(db, 'acceptance-4', '2025-10-21T12:00:00Z');
      await ingest.audit(world.auditLines());
      await ingest.runtime(world.runtimeLines().map((l) => l.line));
      await ingest.correlator.flush();
      const { rows: stored } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM runtime_events WHERE cluster = 'acceptance-4' AND (exec_id IS NOT NULL OR tty IS NOT NULL)`,
      );
      assert.equal(stored[0]!.n, 0);
      assertPerfect('4 old KubeArmor fields', backend, score(await viewRows(db, 'acceptance-4'), truthOf(world, 'acceptance-4'), 'acceptance-4'));
    });

    it('5. a nodes/proxy exec and a kubectl debug attach are correlated to their target containers', async () => {
      const world = new World();
      const { N, D } = nodeProxyAndDebug(world);
      const ingest = new Ingestion(db, 'acceptance-5', '2025-10-21T12:00:00Z');
      await ingest.audit(world.auditLines());
      await ingest.runtime(world.runtimeLines().map((l) => l.line));
      await ingest.correlator.flush();
      const rows = await viewRows(db, 'acceptance-5');
      assertPerfect('5 nodes/proxy exec and kubectl debug', backend, score(rows, truthOf(world, 'acceptance-5'), 'acceptance-5'));
      const node = rows.filter((r) => r.session_id.endsWith(N));
      assert.ok(node.length > 0 && node.every((r) => r.namespace === 'prod' && r.pod === 'api-0' && r.container === 'api'));
      const debug = rows.filter((r) => r.session_id.endsWith(D));
      assert.ok(debug.length > 0 && debug.every((r) => r.user_name === 'carol@example.com' && r.container === 'debugger-8xk2p'));
    });

    it('6. runtime events an hour before the audit log, and the reverse: the same links', async () => {
      const world = new World();
      overlappingSessions(world);
      const runtimeFirst = new Ingestion(db, 'acceptance-6a', '2025-10-21T09:05:00Z');
      await runtimeFirst.runtime(world.runtimeLines().map((l) => l.line));
      assert.equal((await runtimeFirst.correlator.flush()).pods, 0, 'a pod without sessions costs no pass');
      assert.equal((await viewRows(db, 'acceptance-6a')).length, 0, 'nothing to link before the sessions are known');
      runtimeFirst.clockMs += 3_600_000;
      await runtimeFirst.audit(world.auditLines());
      await runtimeFirst.correlator.flush();

      const auditFirst = new Ingestion(db, 'acceptance-6b', '2025-10-21T09:05:00Z');
      await auditFirst.audit(world.auditLines());
      assert.equal((await auditFirst.correlator.flush()).pods, 0, 'sessions with no runtime event to link cost no pass');
      auditFirst.clockMs += 3_600_000;
      await auditFirst.runtime(world.runtimeLines().map((l) => l.line));
      await auditFirst.correlator.flush();

      const a = await viewRows(db, 'acceptance-6a');
      const b = await viewRows(db, 'acceptance-6b');
      // Event keys and session ids carry the cluster: compare (auditID, KubeArmor line, method) instead.
      const comparable = (rows: ViewRow[], cluster: string) => {
        const lineOf = new Map(world.runtimeLines().map(({ line }, i) => [eventKeyOf(line, cluster), i]));
        return rows
          .map((r) => `${r.session_id.replace(/^EXEC:[^:]*:/, '')} line ${lineOf.get(r.event_key)} ${r.link_method} ${r.user_name}`)
          .sort();
      };
      assert.deepEqual(comparable(a, 'acceptance-6a'), comparable(b, 'acceptance-6b'));
      assertPerfect('6 runtime first', backend, score(a, truthOf(world, 'acceptance-6a'), 'acceptance-6a'));
      assertPerfect('6 audit first', backend, score(b, truthOf(world, 'acceptance-6b'), 'acceptance-6b'));
    });

    it('an event arriving alone, from a node whose clock is behind, still finds its session', async () => {
      const world = new World({ nodeClockOffsetMs: -1_500 });
      const c = world.container('worker-1', 'shop', 'web-5', 'web');
      const id = '16161616-0000-4000-8000-000000000016';
      world.podExec({ auditId: id, user: 'alice@example.com', namespace: 'shop', pod: 'web-5', container: 'web', command: ['id'], start: '2025-10-21T09:00:00.000000Z', end: '2025-10-21T09:00:00.200000Z' });
      world.runcExec(c, '2025-10-21T09:00:00.040000Z', ['/usr/bin/id'], { truth: id });
      const ingest = new Ingestion(db, 'alone', '2025-10-21T12:00:00Z');
      await ingest.audit(world.auditLines());
      await ingest.correlator.flush();
      // The node reports 08:59:58.54, before the session started by the apiserver's clock.
      await ingest.runtime(world.runtimeLines().map((l) => l.line));
      await ingest.correlator.flush();
      assertPerfect('lone early event', backend, score(await viewRows(db, 'alone'), truthOf(world, 'alone'), 'alone'));
    });

    it('recomputing is idempotent: a second pass changes no link', async () => {
      const world = new World();
      overlappingSessions(world);
      const ingest = new Ingestion(db, 'idempotent', '2025-10-21T12:00:00Z');
      await ingest.audit(world.auditLines());
      await ingest.runtime(world.runtimeLines().map((l) => l.line));
      await ingest.correlator.flush();
      const before = await db.query(`SELECT * FROM exec_session_links WHERE cluster = 'idempotent' ORDER BY session_id, event_key`);
      // The same lines again (a re-read file, a second relay), then a pass.
      await ingest.audit(world.auditLines());
      await ingest.runtime(world.runtimeLines().map((l) => l.line));
      const pass = await ingest.correlator.flush();
      assert.ok(pass.pods >= 1);
      const afterRows = await db.query(`SELECT * FROM exec_session_links WHERE cluster = 'idempotent' ORDER BY session_id, event_key`);
      assert.deepEqual(afterRows.rows, before.rows);
    });

    it('a failing pass never fails ingestion, and is retried until the links are made', async () => {
      const world = new World();
      overlappingSessions(world);
      let failuresLeft = 2;
      // The database itself is real; its transactions refuse to start twice, as when Postgres restarts.
      const flaky: Database = {
        ...db,
        query: (text, params) => db.query(text, params),
        transaction: (fn) => {
          if (failuresLeft > 0) {
            failuresLeft--;
            return Promise.reject(Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' }));
          }
          return db.transaction(fn);
        },
      };
      const metrics = createMetrics();
      const correlator = new Correlator({ db: flaky, skewMs: 2_000, logger: silentLogger, metrics, debounceMs: 5, maxRetryMs: 20, now: () => Date.parse('2025-10-21T12:00:00Z') });
      const writers = scenarioWriters(db, 'flaky', { onSessionsCommitted: correlator.onSessionsCommitted, onRuntimeCommitted: correlator.onRuntimeCommitted });
      await writers.audit(world.auditLines());
      const { rows: stored } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM change_events WHERE cluster = 'flaky'`);
      assert.equal(stored[0]!.n, 2, 'the sessions are stored whatever correlation does');
      await writers.runtime(world.runtimeLines().map((l) => l.line));
      // Until every link is made: a pass may run between the writer's batches and make only some of them.
      const deadline = Date.now() + 10_000;
      let rows: ViewRow[] = [];
      while (Date.now() < deadline) {
        rows = await viewRows(db, 'flaky');
        const now = score(rows, truthOf(world, 'flaky'), 'flaky');
        if (failuresLeft === 0 && now.missed.length === 0 && rows.length > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await correlator.close();
      assert.equal(failuresLeft, 0);
      assertPerfect('retried after failures', backend, score(rows, truthOf(world, 'flaky'), 'flaky'));
      const passes = await metrics.correlationPasses.get();
      assert.ok(passes.values.some((v) => v.labels.result === 'failed' && v.value >= 1));
      assert.ok((await counterValue(metrics.correlationPasses)) >= 2);
    });

    it('catches up at start with what a stopped process had not correlated yet', async () => {
      const world = new World();
      overlappingSessions(world);
      // Both sides committed, then the process stopped before its debounced pass.
      const writers = scenarioWriters(db, 'restart');
      await writers.audit(world.auditLines());
      await writers.runtime(world.runtimeLines().map((l) => l.line));
      assert.equal((await viewRows(db, 'restart')).length, 0);
      const correlator = new Correlator({ db, skewMs: 2_000, logger: silentLogger, debounceMs: 60_000, now: () => Date.parse('2025-10-21T12:00:00Z') });
      assert.ok((await correlator.catchUp()) >= 2);
      await correlator.flush();
      assertPerfect('catch-up after a restart', backend, score(await viewRows(db, 'restart'), truthOf(world, 'restart'), 'restart'));
    });

    it('a session dated year 1 and a KubeArmor event dated 9999 leave every other link unchanged', async () => {
      const world = new World();
      overlappingSessions(world);
      const cluster = 'hostile-times';
      // As a processor stored them before times were clamped: straight into the tables, one in another
      // pod, one in the pod of the real sessions.
      const ancientId = `EXEC:${cluster}:ancient`;
      await db.query(
        `INSERT INTO change_events (id, cluster, audit_id, request_key, "timestamp", operation, resource_kind, namespace, name, actor, source, allowed, exec_metadata)
         VALUES ($1, $2, 'ancient', 'k', '0001-01-01T00:00:00Z', 'EXEC', 'Pod', 'shop', 'old-0', '{"username":"x"}', '{"tool":"kubectl"}', true,
                 '{"target_type":"pod","subresource":"exec","command":["sh"],"started_at":"0001-01-01T00:00:00.000000Z","ended_at":null,"duration_ms":null,"stages":["ResponseStarted"]}')`,
        [ancientId, cluster],
      );
      await db.query(`SELECT exectrail_time_partition('runtime_events_transient', '9999-12-31T23:59:59.999999Z', 'hour')`);
      await db.query(
        `INSERT INTO runtime_events (event_key, event_time, cluster, kind, namespace, pod, container_name, operation, resource, raw)
         VALUES ('future', '9999-12-31T23:59:59.999999Z', $1, 'log', 'shop', 'web-0', 'web', 'Process', '/bin/true', '{}')`,
        [cluster],
      );
      const ingest = new Ingestion(db, cluster, '2025-10-21T12:00:00Z');
      ingest.correlator.noteSessions([ancientId]);
      ingest.correlator.noteRuntimeEvents([{ cluster, namespace: 'shop', pod: 'web-0', eventTime: '9999-12-31T23:59:59.999999Z' }]);
      await ingest.audit(world.auditLines());
      await ingest.runtime(world.runtimeLines().map((l) => l.line));
      const pass = await ingest.correlator.flush();
      assert.equal(pass.failedPods, 0);
      assert.deepEqual(ingest.correlator.status(), { failingPods: 0 });
      assertPerfect('year 1 and 9999 beside', backend, score(await viewRows(db, cluster), truthOf(world, cluster), cluster));
    });

    it('a pod whose pass keeps failing is retried on its own while every other pod is correlated', async () => {
      const world = new World();
      samePodTwoNamespaces(world);
      const cluster = 'one-pod-fails';
      // A real database whose passes over staging/web-0 fail (as a corrupt page or a bad row would).
      const failsForStaging: Database = {
        ...db,
        query: (text, params) => db.query(text, params),
        transaction: (fn) =>
          db.transaction((tx) =>
            fn({
              query: (text, params) => {
                if (params?.includes(`${cluster}/staging/web-0`)) return Promise.reject(Object.assign(new Error('could not read block 7'), { code: 'XX001' }));
                return tx.query(text, params);
              },
              copyFrom: (statement, data) => tx.copyFrom(statement, data),
            }),
          ),
      };
      const metrics = createMetrics();
      const correlator = new Correlator({ db: failsForStaging, skewMs: 2_000, logger: silentLogger, metrics, debounceMs: 60_000, now: () => Date.parse('2025-10-21T12:00:00Z') });
      const writers = scenarioWriters(db, cluster, { onSessionsCommitted: correlator.onSessionsCommitted, onRuntimeCommitted: correlator.onRuntimeCommitted });
      await writers.audit(world.auditLines());
      await writers.runtime(world.runtimeLines().map((l) => l.line));
      const pass = await correlator.flush();
      await correlator.close();
      assert.equal(pass.failedPods, 1);
      assert.equal(correlator.status().failingPods, 1);
      assert.equal(correlator.status().lastFailure?.namespace, 'staging');
      assert.equal(await counterValue(metrics.correlationFailures), 1);
      const rows = await viewRows(db, cluster);
      // shop/web-0 is correlated as if staging/web-0 did not exist.
      const shopEvents = new Set(world.runtimeLines().filter((l) => (JSON.parse(l.line) as { NamespaceName: string }).NamespaceName === 'shop').map((l) => eventKeyOf(l.line, cluster)));
      const shopTruth = new Map([...truthOf(world, cluster)].filter(([key]) => shopEvents.has(key)));
      assertPerfect('one failing pod beside', backend, score(rows, shopTruth, cluster));
      assert.ok(rows.length > 0 && rows.every((r) => r.namespace === 'shop'));
    });

    it('keeps an open session open: a command minutes later joins it when it arrives', async () => {
      const world = new World();
      const c = world.container('worker-1', 'shop', 'web-9', 'web');
      const id = '12121212-0000-4000-8000-000000000012';
      world.podExec({ auditId: id, user: 'alice@example.com', namespace: 'shop', pod: 'web-9', container: 'web', command: ['bash'], tty: true, start: '2025-10-21T09:00:00.000000Z', end: null });
      const bash = world.runcExec(c, '2025-10-21T09:00:00.040000Z', ['/bin/bash'], { tty: true, truth: id });
      const ingest = new Ingestion(db, 'open', '2025-10-21T09:01:00Z');
      await ingest.audit(world.auditLines());
      await ingest.runtime(world.runtimeLines().map((l) => l.line));
      await ingest.correlator.flush();
      assert.equal((await viewRows(db, 'open')).length, 1);
      ingest.clockMs = Date.parse('2025-10-21T09:20:00Z');
      world.runtime.length = 0;
      world.spawn(bash, '2025-10-21T09:19:00.000000Z', ['/usr/bin/whoami']);
      await ingest.runtime(world.runtimeLines().map((l) => l.line));
      await ingest.correlator.flush();
      const rows = await viewRows(db, 'open');
      assert.equal(rows.length, 2);
      assert.ok(rows.every((r) => r.session_id.endsWith(id)));
    });
  });
}

