import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/observe/log.ts';
import { counterByLabel, counterValue, createMetrics } from '../../src/observe/metrics.ts';
import { normalizeRuntimeEvent, type RuntimeEvent } from '../../src/runtime/event.ts';
import { RuntimeEventQueue } from '../../src/runtime/queue.ts';
import { RuntimeEventWriter, type RuntimeCommit } from '../../src/runtime/writer.ts';
import type { Database } from '../../src/store/database.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { kubeArmorFixture, sessionExecId } from './fixtures.ts';
import { captureLogger } from './log-capture.ts';

function eventOf(object: Record<string, unknown>, cluster = 'writer'): RuntimeEvent {
  const outcome = normalizeRuntimeEvent(object, { cluster });
  assert.ok(outcome.ok);
  return outcome.event;
}

/** A synthetic container log n, all in one exec session. */
function sessionLog(n: number, cluster: string): RuntimeEvent {
  return eventOf(sessionLogObject(n), cluster);
}

/** The JSON the relay prints for sessionLog n. */
function sessionLogObject(n: number): Record<string, unknown> {
  return {
    Timestamp: 1765218527,
    UpdatedTime: `2025-12-08T18:28:47.${String(n).padStart(6, '0')}Z`,
    HostName: 'archlinux',
    NamespaceName: 'default',
    PodName: 'nginx-779797d5bd-wlrsn',
    ContainerName: 'nginx',
    HostPID: 250000 + n,
    HostPPID: 247074,
    PID: 100 + n,
    PPID: 41,
    Type: 'ContainerLog',
    Operation: 'Process',
    Resource: `/bin/echo ${n}`,
    ExecEvent: { ExecID: '1078688820741427', ExecutableName: 'echo' },
  };
}

async function count(db: Database, cluster: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM runtime_events WHERE cluster = $1', [cluster]);
  return rows[0]!.n;
}

for (const backend of backends) {
  describe(`runtime events writer on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('stores every column, the time with microseconds, and the raw event', async () => {
      const metrics = createMetrics();
      const writer = new RuntimeEventWriter(db, { metrics, logger: silentLogger });
      const fixture = kubeArmorFixture('relay-alerts.jsonl', 1);
      const result = await writer.write([eventOf(fixture.object, 'columns')]);
      assert.deepEqual(result, { events: 1, inserted: 1, duplicates: 0, rejected: 0 });
      const { rows } = await db.query<Record<string, unknown>>(
        `SELECT to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t, kind, host_name, namespace, pod, container_name,
                pid, ppid, host_pid, host_ppid, uid, tty, cwd, exec_id, executable_name, owner, policy_name, action, enforcer, raw
         FROM runtime_events WHERE cluster = 'columns'`,
      );
      const row = rows[0]!;
      assert.equal(row.t, '2025-03-11T08:04:10.773210Z');
      assert.deepEqual(
        [row.kind, row.host_name, row.namespace, row.pod, row.container_name, row.tty, row.cwd, row.exec_id, row.executable_name],
        ['alert', 'worker-2', 'payments', 'checkout-5f7b9c8d6-q2w9z', 'app', 'pts0', '/', sessionExecId, 'bash'],
      );
      assert.deepEqual([row.pid, row.ppid, row.host_pid, row.host_ppid, row.uid], [75, 48211, 48275, 48211, 0]);
      assert.deepEqual(row.owner, { kind: 'Deployment', name: 'checkout', namespace: 'payments' });
      assert.deepEqual([row.policy_name, row.action, row.enforcer], ['block-package-managers', 'Block', 'BPFLSM']);
      assert.deepEqual(row.raw, fixture.object);
      assert.equal(await counterValue(metrics.runtimeEventsStored), 1);
    });

    it('stores only the logs of the operations asked for (alerts always), counts what it dropped, and keeps raw for alerts only', async () => {
      const metrics = createMetrics();
      const writer = new RuntimeEventWriter(db, { metrics, logger: silentLogger, operations: ['process', 'File'] });
      const log = (n: number, operation: string) => eventOf({ ...sessionLogObject(n), Operation: operation }, 'intake');
      const alert = eventOf({ ...sessionLogObject(9), Operation: 'Syscall', Type: 'MatchedPolicy', PolicyName: 'audit-syscalls', Action: 'Audit' }, 'intake');
      const result = await writer.write([log(1, 'Process'), log(2, 'File'), log(3, 'Network'), log(4, 'Syscall'), log(5, 'Syscall'), alert]);
      assert.equal(result.inserted, 3);
      const { rows } = await db.query<{ operation: string; kind: string; has_raw: boolean }>(
        `SELECT operation, kind, raw IS NOT NULL AS has_raw FROM runtime_events WHERE cluster = 'intake' ORDER BY operation`,
      );
      assert.deepEqual(rows, [
        { operation: 'File', kind: 'log', has_raw: false },
        { operation: 'Process', kind: 'log', has_raw: false },
        { operation: 'Syscall', kind: 'alert', has_raw: true },
      ]);
      assert.deepEqual(await counterByLabel(metrics.runtimeEventsFiltered, 'operation'), { Network: 1, Syscall: 2 });
    });

    it('stores an event received twice once, and tells the after-commit hook what is new', async () => {
      const commits: RuntimeCommit[] = [];
      const metrics = createMetrics();
      const writer = new RuntimeEventWriter(db, { metrics, logger: silentLogger, onCommitted: (c) => void commits.push(c) });
      const events = [sessionLog(1, 'twice'), sessionLog(2, 'twice'), sessionLog(1, 'twice')];
      assert.deepEqual(await writer.write(events), { events: 2, inserted: 2, duplicates: 1, rejected: 0 });
      assert.deepEqual(await writer.write(events.slice(1)), { events: 2, inserted: 0, duplicates: 2, rejected: 0 });
      assert.equal(await count(db, 'twice'), 2);
      assert.deepEqual(commits.map((c) => [c.events.length, c.inserted.length]), [[2, 2], [2, 0]]);
      assert.equal(await counterValue(metrics.runtimeEventsDuplicate), 3);
    });

    it('stores the new events of a batch that repeats stored ones, from any writer and at once, each once', async () => {
      const [a, b, c, d] = [1, 2, 3, 4].map((n) => sessionLog(n, 'mixed'));
      // A new writer tries a batch straight; a stored event in it sends it the careful way.
      assert.equal((await new RuntimeEventWriter(db, { metrics: createMetrics(), logger: silentLogger }).write([a!])).inserted, 1);
      const writer = new RuntimeEventWriter(db, { metrics: createMetrics(), logger: silentLogger });
      assert.deepEqual(await writer.write([b!, a!, c!]), { events: 3, inserted: 2, duplicates: 1, rejected: 0 });
      assert.equal((await writer.write([d!])).inserted, 1, 'after a batch that was all new, the next is stored too');
      assert.equal(await count(db, 'mixed'), 4);
      // Two writers with the same batch at once (two relays): one stores it, the other finds it stored.
      const same = [5, 6, 7].map((n) => sessionLog(n, 'mixed'));
      const results = await Promise.all([1, 2].map(() => new RuntimeEventWriter(db, { metrics: createMetrics(), logger: silentLogger }).write(same)));
      assert.equal(results[0]!.inserted + results[1]!.inserted, 3);
      assert.equal(await count(db, 'mixed'), 7);
    });

    it('stores the rest of a batch when the database refuses one row, and says which', async () => {
      const metrics = createMetrics();
      const { logger, lines } = captureLogger();
      const writer = new RuntimeEventWriter(db, { metrics, logger });
      // Normalising repairs what a workload can send; a row built past it stands for whatever the
      // database may still refuse (here a date that does not exist).
      const bad = { ...sessionLog(3, 'refused'), eventTime: '2025-13-45T99:00:00.000000Z', eventKey: 'f'.repeat(32) };
      // An alert, so that its raw form is kept too.
      const nul = eventOf({ ...sessionLogObject(4), Type: 'MatchedPolicy', PolicyName: 'audit-exec', Action: 'Audit', Data: 'argv=a\u0000b', Note: 'a literal \\u0000 stays' }, 'refused');
      const result = await writer.write([sessionLog(5, 'refused'), bad, nul]);
      assert.deepEqual(result, { events: 3, inserted: 2, duplicates: 0, rejected: 1 });
      assert.equal(await count(db, 'refused'), 2);
      const { rows } = await db.query<{ raw: Record<string, string>; data: string }>(`SELECT raw, data FROM runtime_events WHERE cluster = 'refused' AND raw ? 'Note'`);
      assert.equal(rows[0]?.raw.Data, 'argv=a\uFFFDb', 'NUL (which jsonb refuses) is replaced visibly, the event kept');
      assert.equal(rows[0]?.data, 'argv=a\uFFFDb');
      assert.equal(rows[0]?.raw.Note, 'a literal \\u0000 stays');
      assert.ok(lines().some((l) => l.msg.includes('refused one runtime event') && l.eventKey === 'f'.repeat(32)));
      assert.equal(await counterValue(metrics.badInput), 1);
    });

    it('keeps events queued while the database fails and stores them all when it is back', async () => {
      const metrics = createMetrics();
      const { logger, lines } = captureLogger();
      const writer = new RuntimeEventWriter(db, { metrics, logger });
      const queue = new RuntimeEventQueue({ writer, metrics, logger, maxBatch: 50, retryInitialMs: 50, retryMaxMs: 200 });
      await db.query('ALTER TABLE runtime_events RENAME TO runtime_events_away');
      try {
        for (let n = 0; n < 120; n++) queue.offer([sessionLog(n, 'outage')]);
        const deadline = Date.now() + 5000;
        while (!lines().some((l) => l.msg.startsWith('cannot store runtime events')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.ok(lines().some((l) => l.msg.startsWith('cannot store runtime events') && /check the database/.test(l.msg)));
        assert.equal(queue.pending, 120, 'nothing is dropped while the database is away');
      } finally {
        await db.query('ALTER TABLE runtime_events_away RENAME TO runtime_events');
      }
      await queue.flushed();
      assert.equal(queue.pending, 0);
      assert.equal(await count(db, 'outage'), 120);
      assert.ok(lines().some((l) => l.msg === 'storing runtime events again'));
    });

    it('on close, counts and logs the events the database did not take before the deadline as lost', async () => {
      const metrics = createMetrics();
      const { logger, lines } = captureLogger();
      const writer = new RuntimeEventWriter(db, { metrics, logger });
      const queue = new RuntimeEventQueue({ writer, metrics, logger, maxBatch: 50, retryInitialMs: 50, retryMaxMs: 100 });
      await db.query('ALTER TABLE runtime_events RENAME TO runtime_events_gone');
      try {
        for (let n = 0; n < 7; n++) queue.offer([sessionLog(n, 'lost')]);
        assert.deepEqual(await queue.close(300), { unwritten: 7 });
      } finally {
        await db.query('ALTER TABLE runtime_events_gone RENAME TO runtime_events');
      }
      assert.equal(await counterValue(metrics.eventsDropped), 7);
      assert.ok(lines().some((l) => l.unwritten === 7 && /7 runtime events not written.*they are lost/.test(l.msg)));
      assert.equal(await count(db, 'lost'), 0);
    });

    it('asks its source to pause above high water and calls back when drained', async () => {
      const metrics = createMetrics();
      const writer = new RuntimeEventWriter(db, { metrics, logger: silentLogger });
      const queue = new RuntimeEventQueue({ writer, metrics, logger: silentLogger, maxBatch: 20, highWater: 30, lowWater: 10 });
      let drained = 0;
      queue.onDrain(() => drained++);
      // Hold the table so writes wait, as a slow database would.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const lock = db.transaction(async (tx) => {
        await tx.query('LOCK TABLE runtime_events IN ACCESS EXCLUSIVE MODE');
        locked();
        await held;
      });
      await isLocked;
      const answers: boolean[] = [];
      for (let n = 0; n < 40; n++) answers.push(queue.offer([sessionLog(n, 'pressure')]));
      assert.equal(answers.indexOf(false), 30, 'the 31st waiting event asks for a pause');
      assert.equal(drained, 0);
      release();
      await lock;
      await queue.flushed();
      assert.equal(drained, 1);
      assert.equal(await count(db, 'pressure'), 40);
    });
  });
}
