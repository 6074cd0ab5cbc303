/**
 * `audit-processor serve`: the HTTP port over a database another process filled, with no ingestion.
 * One `-once` run stores the test fixtures' sessions; `serve -http-port 0` then answers the API, the page,
 * /metrics and the probes with exactly those sessions, over real HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { collect, projectRoot, runProcessor, startProcessor, waitForLogLine } from '../support/cli.ts';
import { backends, createTestDatabaseTarget, skipReason, type TestDatabaseTarget } from '../support/databases.ts';

const fixtures = ['exec-spdy-create-all-stages.jsonl', 'portforward-websocket-and-spdy.jsonl', 'nodes-proxy-exec-and-run.jsonl'].map((f) => `${projectRoot}test/fixtures/audit/${f}`);

describe('audit-processor serve -h', () => {
  it('lists the flags it takes and exits 0', async () => {
    const result = await runProcessor(['serve', '-h']);
    assert.equal(result.code, 0, result.stderr);
    for (const flag of ['-http-port', '-database-url', '-data-dir', '-api-token-file', '-shutdown-timeout', '-log-level']) assert.match(result.stdout, new RegExp(`^  ${flag}\\b`, 'm'), flag);
    assert.doesNotMatch(result.stdout, /-audit-log-file|-enable-webhook/, 'it ingests nothing, so it has no source flags');
  });

  it('refuses an ingestion flag with a usage error', async () => {
    const result = await runProcessor(['serve', '-audit-log-file', '/x']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^audit-processor serve: unknown flag -audit-log-file$/m);
  });
});

for (const backend of backends) {
  describe(`audit-processor serve over a database a -once run filled, on ${backend}`, { skip: skipReason(backend) }, () => {
    let target: TestDatabaseTarget;
    let stored = 0;
    before(async () => {
      target = await createTestDatabaseTarget(backend);
      for (const file of fixtures) {
        const once = await runProcessor(['-once', '-audit-log-file', file, ...target.flags]);
        assert.equal(once.code, 0, once.stderr);
        stored += Number(/\((\d+) new sessions\)/.exec(once.stdout)![1]);
      }
      assert.ok(stored >= 4, `the fixtures hold several sessions, the -once runs stored ${stored}`);
    });
    after(() => target?.destroy());

    it('answers /readyz, /metrics, the API and the page with the sessions stored, and ingests nothing', { timeout: 120_000 }, async () => {
      const child = startProcessor(['serve', '-http-port', '0', ...target.flags]);
      const exited = collect(child);
      try {
        const line = await waitForLogLine(child, /HTTP on port \d+/);
        const base = `http://127.0.0.1:${/HTTP on port (\d+)/.exec(line)![1]}`;
        assert.equal((await fetch(`${base}/readyz`)).status, 200);
        assert.match(await (await fetch(`${base}/metrics`)).text(), /^exectrail_process_cpu_user_seconds_total /m);

        // No window: the newest sessions, however old the fixtures are.
        const listed = (await (await fetch(`${base}/api/v1/sessions?limit=500`)).json()) as { sessions: { id: string; pod: string | null }[] };
        assert.equal(listed.sessions.length, stored, 'every session the -once runs stored');
        const detail = await fetch(`${base}/api/v1/sessions/${encodeURIComponent(listed.sessions[0]!.id)}`);
        assert.equal(detail.status, 200);

        const page = await fetch(`${base}/`);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /<script type="module" src="app\.js"/);
        assert.equal((await fetch(`${base}/app.js`)).status, 200);

        // Nothing ingests: the stored sessions are all there is, and no source metric moved.
        assert.match(await (await fetch(`${base}/metrics`)).text(), /^exectrail_sessions_stored_total 0$/m);
      } finally {
        child.kill('SIGTERM');
      }
      const result = await exited;
      assert.equal(result.code, 0, `exits 0 on SIGTERM\n${result.stderr.slice(-2000)}`);
      assert.match(result.stderr, /nothing is ingested/);
    });
  });
}
