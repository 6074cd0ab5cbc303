/**
 * Both ports of one processor (-http-port and -webhook-port) are the same HTTP server module: the same
 * /healthz and /readyz answer, the same bearer check (the scheme in any case, RFC 7235), the same error
 * bodies. Through the real command.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collect, freePort, projectRoot, startProcessor } from '../support/cli.ts';
import { createTestDatabaseTarget, testDatabaseUrl, type TestDatabaseTarget } from '../support/databases.ts';
import { tempDir } from '../ingest/file-support.ts';
import { eventList, execEvent, request } from '../ingest/webhook-support.ts';

async function untilReady(url: string, deadlineMs = 60_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const status = await fetch(url).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${deadlineMs} ms (last status ${status})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const withoutTiming = (body: Record<string, unknown>) => {
  const { elapsedMs, fileSources, ...rest } = body;
  assert.equal(typeof elapsedMs, 'number');
  // lastPassAt moves with every pass; the rest of each entry must agree.
  return { ...rest, fileSources: (fileSources as Record<string, unknown>[]).map(({ lastPassAt, ...entry }) => ({ ...entry, lastPassAt: typeof lastPassAt })) };
};

describe('one health answer and one bearer check on both ports', () => {
  let target: TestDatabaseTarget;
  before(async () => (target = await createTestDatabaseTarget(testDatabaseUrl ? 'postgres' : 'pglite')));
  after(() => target?.destroy());

  it('answers /healthz and /readyz alike on -http-port and -webhook-port, and takes "bearer" in lower case on both', { timeout: 120_000 }, async () => {
    const dir = tempDir('one-answer');
    writeFileSync(join(dir, 'api-token'), 'api-s3cret\n');
    writeFileSync(join(dir, 'hook-token'), 'hook-s3cret\n');
    const [httpPort, webhookPort] = [await freePort(), await freePort()];
    const child = startProcessor([
      '-audit-log-dir', `${projectRoot}examples/audit`,
      '-enable-webhook', '-webhook-port', String(webhookPort), '-webhook-token-file', join(dir, 'hook-token'),
      '-http-port', String(httpPort), '-api-token-file', join(dir, 'api-token'),
      ...target.flags,
    ]);
    const exited = collect(child);
    const api = `http://127.0.0.1:${httpPort}`;
    const hook = `http://127.0.0.1:${webhookPort}`;
    try {
      await untilReady(`${api}/readyz`);
      await untilReady(`${hook}/readyz`);
      // The first pass over the examples is done once both say following.
      for (let i = 0; i < 100; i++) {
        const body = (await (await fetch(`${api}/readyz`)).json()) as { fileSources: { state: string }[] };
        if (body.fileSources[0]?.state === 'following') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const [apiReady, hookReady] = await Promise.all([fetch(`${api}/readyz`), fetch(`${hook}/readyz`)]);
      const [apiBody, hookBody] = [(await apiReady.json()) as Record<string, unknown>, (await hookReady.json()) as Record<string, unknown>];
      assert.equal(apiReady.status, 200);
      assert.equal(hookReady.status, 200);
      assert.deepEqual(withoutTiming(hookBody), withoutTiming(apiBody));
      assert.equal(apiBody.status, 'ready');
      assert.deepEqual(apiBody.reasons, []);
      assert.deepEqual(apiBody.correlation, { failingPods: 0 }, 'correlation detail: no pod failing');
      assert.equal(apiBody.database, 'reachable');
      assert.deepEqual((apiBody.fileSources as { source: string; paths: string[] }[]).map((f) => [f.source, f.paths]), [['audit', [`${projectRoot}examples/audit`]]]);
      assert.deepEqual(await (await fetch(`${api}/healthz`)).json(), await (await fetch(`${hook}/healthz`)).json());

      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        const sessions = await fetch(`${api}/api/v1/sessions`, { headers: { Authorization: `${scheme} api-s3cret` } });
        assert.equal(sessions.status, 200, `${scheme} on the API port`);
        const batch = await request(`${hook}/audit`, eventList([execEvent(`one-answer-${scheme}`, 'ResponseComplete')]), { headers: { Authorization: `${scheme} hook-s3cret` } });
        assert.equal(batch.status, 200, `${scheme} on the webhook port: ${batch.text}`);
      }
      const wrongApi = await fetch(`${api}/api/v1/sessions`, { headers: { Authorization: 'bearer hook-s3cret' } });
      assert.equal(wrongApi.status, 401);
      assert.equal(((await wrongApi.json()) as { code: string }).code, 'API_TOKEN_REQUIRED');
      const wrongHook = await request(`${hook}/audit`, eventList([]), { headers: { Authorization: 'bearer api-s3cret' } });
      assert.equal(wrongHook.status, 401);
      assert.equal(wrongHook.json.code, 'WEBHOOK_UNAUTHENTICATED');

      // Errors have one shape on both ports.
      for (const origin of [api, hook]) {
        const missing = await fetch(`${origin}/no-such-path`);
        assert.equal(missing.status, 404);
        assert.equal(((await missing.json()) as { code: string }).code, 'NOT_FOUND');
        const wrongMethod = await fetch(`${origin}/readyz`, { method: 'DELETE' });
        assert.equal(wrongMethod.status, 405);
        assert.equal(wrongMethod.headers.get('allow'), 'GET, HEAD');
        assert.equal(((await wrongMethod.json()) as { code: string }).code, 'METHOD_NOT_ALLOWED');
      }
    } finally {
      child.kill('SIGTERM');
    }
    const result = await exited;
    assert.equal(result.code, 0, result.stderr.slice(-2000));
  });
});
