import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { collect, projectRoot, startProcessor, freePort } from '../support/cli.ts';
import { createTestDatabaseTarget, preferredBackend, type TestDatabaseTarget } from '../support/databases.ts';


async function waitFor(url: string, timeoutMs = 60_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.ok) return response;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// The command line serving HTTP is under test; the API runs on both backends in api.test.ts.
{
  const backend = preferredBackend;
  describe(`audit-processor following audit logs serves the HTTP port on ${backend}`, () => {
    let target: TestDatabaseTarget;
    before(async () => (target = await createTestDatabaseTarget(backend)));
    after(() => target?.destroy());

    it('answers health, readiness, metrics, the API and the page on -http-port, and stops on SIGTERM', async () => {
      const port = await freePort();
      const child = startProcessor(['-audit-log-dir', `${projectRoot}examples/audit`, '-http-port', String(port), ...target.flags]);
      const exited = collect(child);
      try {
        const base = `http://127.0.0.1:${port}`;
        await waitFor(`${base}/readyz`);
        assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'alive' });
        // The example sessions are read after the port opens: wait until they are stored.
        let users: string[] = [];
        for (let i = 0; i < 150 && users.length === 0; i++) {
          const answer = await fetch(`${base}/api/v1/sessions?since=3650d`);
          const body = (await answer.json()) as { sessions: { user: string }[] };
          if (!body.sessions) throw new Error(`GET /api/v1/sessions answered ${answer.status} ${JSON.stringify(body)}`);
          users = body.sessions.map((s) => s.user);
          if (!users.length) await new Promise((r) => setTimeout(r, 200));
        }
        assert.ok(users.includes('kubernetes-admin'), `example sessions served: ${users.join(', ')}`);
        const metrics = await (await fetch(`${base}/metrics`)).text();
        assert.match(metrics, /^exectrail_sessions_stored_total [1-9]\d*$/m, 'the same registry the ingest counts into');
        assert.match(metrics, /^exectrail_process_cpu_seconds_total /m, 'process metrics in follow mode');
        assert.match(await (await fetch(`${base}/`)).text(), /<title>exectrail<\/title>/);
      } finally {
        child.kill('SIGTERM');
      }
      const result = await exited;
      assert.equal(result.code, 0, result.stderr.slice(-2000));
      assert.match(result.stderr, new RegExp(`"port":${port}.*HTTP on port ${port}`));
    });
  });
}
