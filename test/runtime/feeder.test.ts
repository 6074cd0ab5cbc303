import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/observe/log.ts';
import { counterByLabel, counterValue, createMetrics } from '../../src/observe/metrics.ts';
import { feederChannelOptions } from '../../src/runtime/feeder-client.ts';
import { startRuntimeIngest, type RuntimeIngest } from '../../src/runtime/start.ts';
import type { Database } from '../../src/store/database.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { FakeFeeder } from './feeder-server.ts';
import { assertEveryFixtureStored, feederRowColumns, kubeArmorFixtures, sessionExecId, syntheticLog, type KubeArmorFixture } from './fixtures.ts';
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

      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${feederRowColumns} FROM runtime_events WHERE cluster = 'fixtures'`);
      assertEveryFixtureStored(fixtures, rows);
      // Spot checks a correlation relies on: the session's processes, alerts and file and network events
      // carry its ExecID (the probe has its own), and events 4 µs apart keep their microseconds.
      const session = rows.filter((r) => r.exec_id === sessionExecId);
      assert.equal(session.length, 10);
      assert.ok(session.some((r) => r.t === '2025-03-11T08:02:30.119427Z') && session.some((r) => r.t === '2025-03-11T08:02:30.119431Z'));
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

    it('does not spin on a feeder that ends every stream at once with OK: each retry waits out a doubling backoff it announces', async () => {
      const feeder = await FakeFeeder.start({ mode: 'end-at-once' });
      running.push(feeder);
      const { logger, lines } = captureLogger();
      const ingest = await startRuntimeIngest({ db, cluster: 'spin', metrics: createMetrics(), logger, addresses: [feeder.address], backoff: fastBackoff });
      running.push(ingest);
      const alertAttempts = () => feeder.requests.filter((r) => r.rpc === 'WatchAlerts');
      // The first call and five retries: the delays reach the 800 ms cap.
      await waitFor('six WatchAlerts calls', () => alertAttempts().length >= 6);
      const [alerts] = ingest.streamStates();
      await ingest.stop();
      assert.ok(alerts && alerts.consecutiveFailures >= 5 && /ended at once with OK/.test(alerts.lastError ?? ''), JSON.stringify(alerts));
      const attempts = alertAttempts();
      const warnings = lines().filter((l) => l.rpc === 'WatchAlerts' && /ended at once with OK and no events/.test(l.msg));
      assert.match(warnings[0]!.msg, /we sent "policy".*reconnecting in/);
      for (let retry = 0; retry < 5; retry++) {
        // Equal jitter: the n-th delay lies in [d/2, d], d = min(max, initial * 2^n); a spin would be 0.
        const ceiling = Math.min(fastBackoff.maxMs, fastBackoff.initialMs * 2 ** retry);
        const delay = warnings[retry]!.delayMs as number;
        assert.ok(delay >= ceiling / 2 && delay <= ceiling, `retry ${retry + 1}: announced ${delay} ms, expected ${ceiling / 2}-${ceiling} ms`);
        const gap = attempts[retry + 1]!.at - attempts[retry]!.at;
        // Date.now() has whole milliseconds on both ends.
        assert.ok(gap >= delay - 2, `retry ${retry + 1} came ${gap} ms after the call before it, sooner than its ${delay} ms backoff`);
      }
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

    it('counts a message that does not decode and stores the rest of the stream, in bursts and alone, without reconnecting', async () => {
      const feeder = await FakeFeeder.start();
      running.push(feeder);
      const capture = captureLogger();
      const metrics = createMetrics();
      const ingest = await startRuntimeIngest({ db, cluster: 'undecodable', metrics, logger: capture.logger, addresses: [feeder.address], allAlerts: true });
      running.push(ingest);
      await feeder.waitForStreams('WatchLogs');
      // A truncated field: the length says 5 bytes, 1 follows.
      const broken = Buffer.from([0x0a, 0x05, 0x01]);
      // A burst (prepared on the normalising thread) with broken messages inside, then one broken message alone (inline).
      const burst = Array.from({ length: 300 }, (_, i) => (i % 100 === 50 ? broken : syntheticLog(i, 'undecodable')));
      await feeder.send('WatchLogs', burst);
      await feeder.send('WatchLogs', [broken, syntheticLog(1000, 'undecodable')]);
      await waitFor('the rest stored', async () => (await count(db, 'undecodable')) === 298);
      await ingest.queue.flushed();
      assert.equal((await counterByLabel(metrics.badInput, 'reason'))['runtime-bad-protobuf'], 4);
      assert.equal(await counterValue(metrics.runtimeStreamReconnects), 0, 'the stream stayed open');
      const warnings = capture.lines().filter((line) => line.msg === 'skipped a feeder message that is not a valid event');
      assert.equal(warnings.length, 4);
      assert.ok(warnings.every((w) => w.stream === 'logs' && w.address === feeder.address && /^a 3-byte message that is not a feeder Log/.test(String(w.detail))));
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
    });
  });
}

describe('feeder channel', () => {
  it('keeps client keepalive at 300 s or more (feeders close connections that ping more often)', () => {
    assert.ok((feederChannelOptions['grpc.keepalive_time_ms'] as number) >= 300_000);
    assert.equal(feederChannelOptions['grpc.keepalive_permit_without_calls'], 0);
  });
});
