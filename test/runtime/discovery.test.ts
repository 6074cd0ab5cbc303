import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { startRuntimeIngest, type RuntimeIngest } from '../../src/runtime/start.ts';
import type { Database } from '../../src/store/database.ts';
import { createTestDatabase, testDatabaseUrl } from '../support/databases.ts';
import { FakeKubeApi } from './fake-kube-api.ts';
import { FakeFeeder } from './feeder-server.ts';
import { syntheticLog } from './fixtures.ts';

// Discovery is about connections, not storage: one database is enough (PostgreSQL when available).
const backend = testDatabaseUrl ? 'postgres' : 'pglite';
const daemon = { 'kubearmor-app': 'kubearmor' };
const relay = { 'kubearmor-app': 'kubearmor-relay' };

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Feeders on several loopback addresses (127.0.0.2, .3, ...) sharing one port, like daemons on nodes. */
async function feedersOnOnePort(hosts: string[]): Promise<FakeFeeder[]> {
  const first = await FakeFeeder.start({ host: hosts[0] });
  const rest = await Promise.all(hosts.slice(1).map((host) => FakeFeeder.start({ host, port: first.port })));
  return [first, ...rest];
}

describe(`KubeArmor discovery through a fake Kubernetes API (${backend})`, () => {
  let db: Database;
  let close: () => Promise<void>;
  const cleanup: { stop(): Promise<void> }[] = [];
  before(async () => ({ db, close } = await createTestDatabase(backend)));
  after(async () => {
    for (const thing of cleanup.reverse()) await thing.stop().catch(() => undefined);
    await close?.();
  });

  it('-kubearmor-discover=nodes connects to every daemon pod it lists, and follows pods deleted and added', async () => {
    const api = await FakeKubeApi.start();
    cleanup.push(api);
    const [a, b, c] = await feedersOnOnePort(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    cleanup.push(a!, b!, c!);
    api.addPod(FakeKubeApi.pod('kubearmor-a', daemon, '127.0.0.2'));
    api.addPod(FakeKubeApi.pod('kubearmor-b', daemon, '127.0.0.3'));
    api.addPod(FakeKubeApi.pod('kubearmor-relay-x', relay, '127.0.0.9'));
    api.addPod(FakeKubeApi.pod('kubearmor-pending', daemon, '', 'Pending'));

    const ingest: RuntimeIngest = await startRuntimeIngest({
      db, cluster: 'nodes', metrics: createMetrics(), logger: silentLogger, allAlerts: true,
      discover: 'nodes', kubeconfigPath: api.kubeconfigPath, discoveryPort: a!.port,
    });
    cleanup.push(ingest);
    await a!.waitForStreams('WatchLogs');
    await b!.waitForStreams('WatchLogs');
    assert.deepEqual(ingest.addresses(), [a!.address, b!.address], 'daemon pods only, Running with an IP');
    await waitFor('the pod watch', () => api.openWatches === 1);
    assert.ok(api.requests.some((r) => r.startsWith('GET /api/v1/pods?') && r.includes('labelSelector=kubearmor-app%3Dkubearmor') && r.includes('watch=true')), api.requests.join('\n'));

    await a!.send('WatchLogs', [syntheticLog(1, 'a')]);
    await b!.send('WatchLogs', [syntheticLog(2, 'b')]);
    await waitFor('an event from each node', async () => {
      const { rows } = await db.query<{ host_name: string }>(`SELECT host_name FROM runtime_events WHERE cluster = 'nodes' ORDER BY host_name`);
      return rows.map((r) => r.host_name).join() === 'node-a,node-b';
    });

    api.deletePod('kubearmor-a');
    await waitFor('the deleted pod to be disconnected', () => a!.calls.WatchLogs.size === 0 && a!.calls.WatchAlerts.size === 0);
    assert.deepEqual(ingest.addresses(), [b!.address]);
    assert.ok(ingest.streamStates().every((s) => s.address === b!.address));

    // The API server ends watches routinely: discovery carries on from its resourceVersion.
    api.closeWatches();
    await waitFor('the watch to be re-opened', () => api.openWatches === 1);
    api.addPod(FakeKubeApi.pod('kubearmor-c', daemon, '127.0.0.4'));
    await c!.waitForStreams('WatchLogs');
    assert.deepEqual(ingest.addresses(), [b!.address, c!.address]);
    assert.equal(b!.calls.WatchLogs.size, 1, 'a pod that stays keeps its one stream');
  });

  it('-kubearmor-discover (relay) connects to the kubearmor Service, or to relay pods when there is none', async () => {
    const api = await FakeKubeApi.start();
    cleanup.push(api);
    const [service, relayPod] = await feedersOnOnePort(['127.0.0.5', '127.0.0.6']);
    cleanup.push(service!, relayPod!);
    api.addPod(FakeKubeApi.pod('kubearmor-relay-y', relay, '127.0.0.6'));

    const viaPods = await startRuntimeIngest({
      db, cluster: 'relay', metrics: createMetrics(), logger: silentLogger,
      discover: 'relay', kubeconfigPath: api.kubeconfigPath, discoveryPort: relayPod!.port,
    });
    cleanup.push(viaPods);
    await relayPod!.waitForStreams('WatchAlerts');
    assert.deepEqual(viaPods.addresses(), [relayPod!.address]);
    await viaPods.stop();

    api.addService(FakeKubeApi.service('kubearmor', '127.0.0.5', service!.port));
    const viaService = await startRuntimeIngest({
      db, cluster: 'relay', metrics: createMetrics(), logger: silentLogger,
      discover: 'relay', kubeconfigPath: api.kubeconfigPath,
    });
    cleanup.push(viaService);
    await service!.waitForStreams('WatchAlerts');
    assert.deepEqual(viaService.addresses(), [service!.address]);
    assert.ok(api.requests.some((r) => r.startsWith('GET /api/v1/services?fieldSelector=metadata.name%3Dkubearmor')));
  });

  it('fails at start with what to do when the kubeconfig cannot be read', async () => {
    await assert.rejects(
      startRuntimeIngest({ db, cluster: 'x', metrics: createMetrics(), logger: silentLogger, discover: 'nodes', kubeconfigPath: '/nonexistent/kubeconfig' }),
      /cannot load Kubernetes credentials .*\/nonexistent\/kubeconfig.*give -kubeconfig/,
    );
  });
});
