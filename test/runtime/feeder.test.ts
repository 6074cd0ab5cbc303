import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/observe/log.ts';
import { counterValue, createMetrics } from '../../src/observe/metrics.ts';
import { feederChannelOptions } from '../../src/runtime/feeder-client.ts';
import { startRuntimeIngest, type RuntimeIngest } from '../../src/runtime/start.ts';
import type { Database } from '../../src/store/database.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { FakeFeeder } from './feeder-server.ts';
import { isKnownDuplicate, kubeArmorFixtures, syntheticLog, type KubeArmorFixture } from './fixtures.ts';
import { captureLogger } from './log-capture.ts';

const fastBackoff = { initialMs: 100, maxMs: 800, stableAfterMs: 60_000 };

async function count(db: Database, cluster: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM runtime_events WHERE cluster = $1', [cluster]);
  return rows[0]!.n;
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function sendFixtures(feeder: FakeFeeder, fixtures: readonly KubeArmorFixture[]): Promise<void> {
  await feeder.send('WatchAlerts', fixtures.filter((f) => f.rpc === 'WatchAlerts').map((f) => f.object));
  await feeder.send('WatchLogs', fixtures.filter((f) => f.rpc === 'WatchLogs').map((f) => f.object));
}

/** What a row must hold for a fixture sent over gRPC, worked out from the fixture and the reference alone. */
function expectedRow(fixture: KubeArmorFixture): Record<string, unknown> {
  const o = fixture.object;
  const textOf = (key: string) => (o[key] === undefined || o[key] === '' ? null : o[key]);
  // proto3 does not carry zeros; PPID and UID read as 0 when absent, as KubeArmor's JSON prints them.
  const intOf = (key: string) => (o[key] ? o[key] : key === 'PPID' || key === 'UID' ? 0 : null);
  const time = o.UpdatedTime ?? (o.Timestamp ? `${new Date(Number(o.Timestamp) * 1000).toISOString().slice(0, 19)}.000000Z` : '1970-01-01T00:00:00.000000Z');
  const owner = o.Owner as Record<string, string> | undefined;
  const exec = o.ExecEvent as Record<string, string> | undefined;
  return {
    t: time,
    kind: fixture.rpc === 'WatchAlerts' ? 'alert' : 'log',
    host_name: textOf('HostName'),
    node_id: textOf('NodeID'),
    namespace: textOf('NamespaceName'),
    pod: textOf('PodName'),
    container_name: textOf('ContainerName'),
    container_id: textOf('ContainerID'),
    container_image: textOf('ContainerImage'),
    labels: textOf('Labels'),
    owner: owner && (owner.Ref || owner.Name || owner.Namespace) ? { kind: owner.Ref || null, name: owner.Name || null, namespace: owner.Namespace || null } : null,
    process_name: textOf('ProcessName'),
    parent_process_name: textOf('ParentProcessName'),
    pid: intOf('PID'),
    ppid: intOf('PPID'),
    host_pid: intOf('HostPID'),
    host_ppid: intOf('HostPPID'),
    uid: intOf('UID'),
    cwd: textOf('Cwd'),
    tty: textOf('TTY'),
    exec_id: exec?.ExecID && exec.ExecID !== '0' ? exec.ExecID : null,
    executable_name: exec?.ExecutableName ?? null,
    type: textOf('Type'),
    operation: textOf('Operation'),
    resource: textOf('Resource'),
    source: textOf('Source'),
    data: textOf('Data'),
    result: textOf('Result'),
    policy_name: textOf('PolicyName'),
    severity: isKnownDuplicate(fixture) ? '1' : textOf('Severity'),
    tags: textOf('Tags'),
    message: textOf('Message'),
    action: textOf('Action'),
    enforcer: textOf('Enforcer'),
  };
}

const rowColumns = `to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t, kind, host_name, node_id, namespace, pod,
  container_name, container_id, container_image, labels, owner, process_name, parent_process_name, pid, ppid, host_pid, host_ppid, uid,
  cwd, tty, exec_id, executable_name, type, operation, resource, source, data, result, policy_name, severity, tags, message, action, enforcer`;

for (const backend of backends) {
  describe(`KubeArmor feeder over gRPC into ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    const running: (RuntimeIngest | FakeFeeder)[] = [];
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(async () => {
      for (const thing of running.reverse()) await thing.stop().catch(() => undefined);
      await close?.();
    });

    it('stores every KubeArmor fixture streamed as Alert or Log with its fields, microsecond time and exec ID', async () => {
      const feeder = await FakeFeeder.start();
      running.push(feeder);
      const ingest = await startRuntimeIngest({ db, cluster: 'fixtures', metrics: createMetrics(), logger: silentLogger, addresses: [feeder.address], allAlerts: true });
      running.push(ingest);
      await feeder.waitForStreams('WatchAlerts');
      await feeder.waitForStreams('WatchLogs');
      assert.deepEqual(
        feeder.requests.map((r) => `${r.rpc}(${r.filter})`).sort(),
        ['WatchAlerts(all)', 'WatchLogs(system)'],
        'the filters the feeder accepts: anything else ends the stream at once',
      );
      const fixtures = kubeArmorFixtures();
      await sendFixtures(feeder, fixtures);
      const distinct = fixtures.length - 1;
      await waitFor(`${distinct} rows`, async () => (await count(db, 'fixtures')) >= distinct);
      await ingest.queue.flushed();
      assert.equal(await count(db, 'fixtures'), distinct);

      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${rowColumns} FROM runtime_events WHERE cluster = 'fixtures'`);
      for (const fixture of fixtures) {
        const expected = expectedRow(fixture);
        const matches = rows.filter((r) => ['t', 'kind', 'host_name', 'pid', 'host_pid', 'resource', 'data'].every((c) => r[c] === expected[c]));
        assert.equal(matches.length, 1, `${fixture.file}:${fixture.line} is one row`);
        assert.deepEqual(matches[0], expected, `${fixture.file}:${fixture.line}`);
      }
      // Spot checks a correlation relies on.
      const session = rows.filter((r) => r.exec_id === '1078688820741427');
      assert.equal(session.length, 8);
      assert.ok(session.some((r) => r.t === '2025-12-08T18:28:47.125535Z') && session.some((r) => r.t === '2025-12-08T18:28:47.125539Z'));
      assert.equal(ingest.streamStates().every((s) => s.state === 'streaming' && s.lastError === null), true);
    });

    it('reconnects with backoff when the feeder is stopped and restarted twice mid-stream, storing what comes after each restart', async () => {
      const first = await FakeFeeder.start();
      const port = first.port;
      const { logger, lines } = captureLogger();
      const metrics = createMetrics();
      const ingest = await startRuntimeIngest({ db, cluster: 'restarts', metrics, logger, addresses: [first.address], allAlerts: true, backoff: fastBackoff });
      running.push(ingest);
      let feeder = first;
      for (let round = 0; round < 3; round++) {
        await feeder.waitForStreams('WatchLogs');
        const batch = Array.from({ length: 50 }, (_, i) => syntheticLog(round * 1000 + i, 'restarts'));
        await feeder.send('WatchLogs', batch);
        await waitFor(`round ${round} stored`, async () => (await count(db, 'restarts')) === (round + 1) * 50);
        if (round < 2) {
          await feeder.kill();
          feeder = await FakeFeeder.start({ port });
        }
      }
      running.push(feeder);
      const logs = ingest.streamStates().find((s) => s.stream === 'logs')!;
      assert.equal(logs.state, 'streaming');
      assert.equal(logs.reconnects >= 2, true, `reconnects: ${logs.reconnects}`);
      assert.equal(logs.messages, 150);
      const backoffLines = lines().filter((l) => l.stream === 'logs' && /reconnecting in \d+\.\d+s \(backoff\)/.test(l.msg));
      assert.ok(backoffLines.length >= 2, 'every reconnect is announced with its delay');
      assert.ok(backoffLines.every((l) => typeof l.delayMs === 'number' && (l.delayMs as number) >= fastBackoff.initialMs / 2));
      assert.ok(await counterValue(metrics.runtimeStreamReconnects) >= 2);
    });

    it('does not spin on a feeder that ends every stream at once with OK (bounded reconnect rate, visible in logs)', async () => {
      const feeder = await FakeFeeder.start({ mode: 'end-at-once' });
      running.push(feeder);
      const { logger, lines } = captureLogger();
      const ingest = await startRuntimeIngest({ db, cluster: 'spin', metrics: createMetrics(), logger, addresses: [feeder.address], backoff: fastBackoff });
      running.push(ingest);
      await new Promise((r) => setTimeout(r, 3000));
      const [alerts] = ingest.streamStates();
      await ingest.stop();
      assert.ok(alerts && alerts.consecutiveFailures >= 3 && /ended at once with OK/.test(alerts.lastError ?? ''), JSON.stringify(alerts));
      assert.ok(alerts.state === 'backoff' || alerts.state === 'connecting');
      const attempts = feeder.requests.filter((r) => r.rpc === 'WatchAlerts');
      // Delays of at least 50, 100, 200, 400, 400... ms: about 9 attempts in 3 s; a spin would be thousands.
      assert.ok(attempts.length >= 3 && attempts.length <= 12, `attempts in 3 s: ${attempts.length}`);
      for (let i = 1; i < attempts.length; i++) assert.ok(attempts[i]!.at - attempts[i - 1]!.at >= 40, `gap ${i}: ${attempts[i]!.at - attempts[i - 1]!.at} ms`);
      const warnings = lines().filter((l) => /ended at once with OK and no events/.test(l.msg));
      assert.ok(warnings.length >= attempts.length - 1);
      assert.match(warnings[0]!.msg, /we sent "policy".*reconnecting in/);
    });

    it('stores the same fixture stream sent twice (two relays) once', async () => {
      const relays = [await FakeFeeder.start(), await FakeFeeder.start()];
      running.push(...relays);
      const metrics = createMetrics();
      const ingest = await startRuntimeIngest({ db, cluster: 'twice', metrics, logger: silentLogger, addresses: relays.map((r) => r.address), allAlerts: true });
      running.push(ingest);
      const fixtures = kubeArmorFixtures();
      for (const relay of relays) {
        await relay.waitForStreams('WatchAlerts');
        await relay.waitForStreams('WatchLogs');
        await sendFixtures(relay, fixtures);
      }
      await waitFor('both streams received', async () => (await counterValue(metrics.runtimeEventsReceived)) === 2 * fixtures.length);
      await ingest.queue.flushed();
      assert.equal(await count(db, 'twice'), fixtures.length - 1);
      assert.equal(await counterValue(metrics.runtimeEventsStored), fixtures.length - 1);
      assert.equal(await counterValue(metrics.runtimeEventsDuplicate), fixtures.length + 1);
    });

    it('pauses the gRPC stream while the database is behind, counts it, and loses nothing', async () => {
      const feeder = await FakeFeeder.start();
      running.push(feeder);
      const metrics = createMetrics();
      const ingest = await startRuntimeIngest({
        db, cluster: 'backpressure', metrics, logger: silentLogger, addresses: [feeder.address], allAlerts: true,
        queue: { maxBatch: 100, highWater: 200, lowWater: 50 },
      });
      running.push(ingest);
      await feeder.waitForStreams('WatchLogs');
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
      const total = 3000;
      const sending = feeder.send('WatchLogs', Array.from({ length: total }, (_, i) => syntheticLog(i, 'backpressure')));
      await waitFor('the stream to pause', () => ingest.streamStates().some((s) => s.stream === 'logs' && s.state === 'paused'));
      assert.ok(await counterValue(metrics.runtimeStreamPaused) >= 1);
      assert.ok(ingest.queue.pending < total, `paused with ${ingest.queue.pending} queued, not all ${total}`);
      release();
      await lock;
      await sending;
      await waitFor(`${total} rows`, async () => (await count(db, 'backpressure')) === total);
      await waitFor('the stream to resume', () => ingest.streamStates().some((s) => s.stream === 'logs' && s.state === 'streaming'));
      assert.equal(await counterValue(metrics.eventsDropped), 0);
    });
  });
}

describe('feeder channel', () => {
  it('keeps client keepalive at 300 s or more (feeders close connections that ping more often)', () => {
    assert.ok((feederChannelOptions['grpc.keepalive_time_ms'] as number) >= 300_000);
    assert.equal(feederChannelOptions['grpc.keepalive_permit_without_calls'], 0);
  });
});
