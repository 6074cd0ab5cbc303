/**
 * A feeder stream that goes silent without closing is found dead and reconnected: the client pings
 * (HTTP/2 keepalive) and closes a connection that does not answer. A real grpc-js server on loopback
 * behind a TCP proxy that freezes the connection; the keepalive intervals made small (in production
 * 300 s, see src/runtime/feeder-client.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetrics } from '../../src/observe/metrics.ts';
import { startRuntimeIngest } from '../../src/runtime/start.ts';
import type { Database } from '../../src/store/database.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { FakeFeeder } from './feeder-server.ts';
import { syntheticLog } from './fixtures.ts';
import { FreezableProxy } from './frozen-proxy.ts';
import { captureLogger } from './log-capture.ts';

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function stored(db: Database, cluster: string): Promise<string[]> {
  const { rows } = await db.query<{ resource: string }>('SELECT resource FROM runtime_events WHERE cluster = $1 ORDER BY resource', [cluster]);
  return rows.map((r) => r.resource);
}

for (const backend of backends) {
  describe(`KubeArmor feeder connection that goes silent, ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('is found dead by keepalive pings, reconnected, and what is sent after arrives', { timeout: 60_000 }, async () => {
      const feeder = await FakeFeeder.start();
      const proxy = new FreezableProxy({ host: feeder.host, port: feeder.port });
      await proxy.listen();
      const { logger, lines } = captureLogger();
      const ingest = await startRuntimeIngest({
        db,
        cluster: 'frozen',
        metrics: createMetrics(),
        logger,
        addresses: [proxy.address],
        backoff: { initialMs: 100, maxMs: 400, stableAfterMs: 60_000 },
        keepalive: { timeMs: 500, timeoutMs: 500 },
      });
      try {
        await feeder.waitForStreams('WatchLogs');
        await feeder.send('WatchLogs', [syntheticLog(1, 'frozen')]);
        await waitFor('the first event stored', async () => (await stored(db, 'frozen')).length === 1);
        assert.equal(proxy.connections, 1);

        // The connection stops carrying anything and stays open; the feeder's stream stays open too.
        proxy.freeze();
        await waitFor('the logs stream found dead and reconnecting', () =>
          ingest.streamStates().some((s) => s.stream === 'logs' && s.reconnects >= 1 && s.state === 'streaming'),
        );
        assert.ok(proxy.connections >= 2, 'a new connection was made');
        const dead = lines().filter((l) => l.stream === 'logs' && /reconnecting in/.test(l.msg));
        assert.ok(dead.length >= 1);
        assert.match(dead[0]!.msg, /UNAVAILABLE/, dead[0]!.msg);

        await feeder.waitForStreams('WatchLogs', 1);
        // Events sent now go down the new connection (the frozen one's call is gone or never read).
        await waitFor('the event sent after the reconnect stored', async () => {
          await feeder.send('WatchLogs', [syntheticLog(2, 'frozen')]);
          return (await stored(db, 'frozen')).includes('/bin/echo 2');
        });
      } finally {
        await ingest.stop();
        await proxy.close();
        await feeder.stop().catch(() => undefined);
      }
    });
  });
}
