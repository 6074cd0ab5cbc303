/**
 * /readyz shows each KubeArmor feeder stream's state (issue: "reports per-stream state in /readyz
 * detail"), through the real command. A feeder going away changes the detail, not readiness.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { collect, startProcessor, freePort } from '../support/cli.ts';
import { createTestDatabaseTarget, testDatabaseUrl, type TestDatabaseTarget } from '../support/databases.ts';
import { FakeFeeder } from '../runtime/feeder-server.ts';


interface Readiness {
  status: string;
  runtimeStreams?: { address: string; rpc: string; filter: string; state: string }[];
}

async function readiness(url: string, until: (r: Readiness) => boolean, deadlineMs = 60_000): Promise<Readiness> {
  const deadline = Date.now() + deadlineMs;
  let last: Readiness | undefined;
  for (;;) {
    last = await fetch(url).then((r) => r.json() as Promise<Readiness>, () => undefined);
    if (last && until(last)) return last;
    if (Date.now() > deadline) throw new Error(`/readyz never matched; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('/readyz with KubeArmor streams', () => {
  let target: TestDatabaseTarget;
  before(async () => (target = await createTestDatabaseTarget(testDatabaseUrl ? 'postgres' : 'pglite')));
  after(() => target?.destroy());

  it('lists every stream with its state, and stays ready while a feeder is away', { timeout: 120_000 }, async () => {
    const feeder = await FakeFeeder.start();
    const port = await freePort();
    const child = startProcessor(['-kubearmor-addr', feeder.address, '-http-port', String(port), ...target.flags]);
    const exited = collect(child);
    const url = `http://127.0.0.1:${port}/readyz`;
    try {
      const streaming = await readiness(url, (r) => r.runtimeStreams?.filter((s) => s.state === 'streaming').length === 2);
      assert.equal(streaming.status, 'ready');
      assert.deepEqual(
        streaming.runtimeStreams!.map((s) => `${s.address} ${s.rpc}(${s.filter})`).sort(),
        [`${feeder.address} WatchAlerts(policy)`, `${feeder.address} WatchLogs(system)`],
      );
      await feeder.stop();
      const away = await readiness(url, (r) => r.runtimeStreams?.every((s) => s.state !== 'streaming') ?? false);
      assert.equal(away.status, 'ready', 'the database is what readiness means');
      assert.ok(away.runtimeStreams!.every((s) => s.state === 'backoff' || s.state === 'connecting'), JSON.stringify(away.runtimeStreams));
    } finally {
      child.kill('SIGTERM');
      await feeder.stop().catch(() => undefined);
    }
    assert.equal((await exited).code, 0);
  });
});
