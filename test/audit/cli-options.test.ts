/**
 * -redact and -node-proxy reach the extraction through the real command: by default a password in the
 * command is stored as [REDACTED] and nodes/proxy metrics scraping is no session; with `-redact=none
 * -node-proxy=all` the command is kept and the scrape is a row.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabaseTarget, preferredBackend, type TestDatabaseTarget } from '../support/databases.ts';
import { runProcessor } from '../support/cli.ts';

function event(auditID: string, requestURI: string, objectRef: Record<string, string>): string {
  return JSON.stringify({
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID, stage: 'ResponseComplete', requestURI, verb: 'get',
    user: { username: 'alice' }, sourceIPs: ['192.0.2.10'], userAgent: 'kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9',
    objectRef: { apiVersion: 'v1', ...objectRef }, responseStatus: { metadata: {}, code: 101 },
    requestReceivedTimestamp: '2025-10-19T14:41:14.630152Z', stageTimestamp: '2025-10-19T14:41:15.914883Z',
  }).replaceAll('&', '\\u0026');
}

const log = [
  event('mysql-1', '/api/v1/namespaces/db/pods/mysql-0/exec?command=mysql&command=-uroot&command=-pS3cret&container=mysql&stdin=true&tty=true', { resource: 'pods', namespace: 'db', name: 'mysql-0', subresource: 'exec' }),
  event('scrape-1', '/api/v1/nodes/worker-1:10250/proxy/metrics/cadvisor', { resource: 'nodes', name: 'worker-1:10250', subresource: 'proxy' }),
].join('\n') + '\n';

// The flags are under test, not the backend.
{
  const backend = preferredBackend;
  describe(`audit-processor -redact and -node-proxy on ${backend}`, () => {
    let target: TestDatabaseTarget;
    let dir: string;
    before(async () => {
      target = await createTestDatabaseTarget(backend);
      dir = mkdtempSync(join(tmpdir(), 'exectrail-audit-cli-'));
      writeFileSync(join(dir, 'audit.log'), log);
    });
    after(async () => {
      await target?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it('redacts by default and records only interactive node access; the flags change both', async () => {
      const file = join(dir, 'audit.log');
      const defaults = await runProcessor(['-audit-log-file', file, '-once', '-cluster', 'defaults', ...target.flags]);
      assert.equal(defaults.code, 0, defaults.stderr);
      assert.ok(!defaults.stderr.includes('S3cret'), 'the secret never reaches a log line');
      const opened = await runProcessor(['-audit-log-file', file, '-once', '-cluster', 'opened', '-redact=none', '-node-proxy=all', ...target.flags]);
      assert.equal(opened.code, 0, opened.stderr);

      const db = await target.open();
      try {
        const { rows } = await db.query<{ cluster: string; audit_id: string; resource_kind: string; exec_metadata: { command?: string[]; kubelet_action?: string } }>(
          `SELECT cluster, audit_id, resource_kind, exec_metadata FROM change_events WHERE operation = 'EXEC' ORDER BY cluster, audit_id`,
        );
        assert.deepEqual(
          rows.map((r) => [r.cluster, r.audit_id, r.resource_kind, r.exec_metadata.command ?? r.exec_metadata.kubelet_action]),
          [
            ['defaults', 'mysql-1', 'Pod', ['mysql', '-uroot', '-p[REDACTED]']],
            ['opened', 'mysql-1', 'Pod', ['mysql', '-uroot', '-pS3cret']],
            ['opened', 'scrape-1', 'Node', 'metrics'],
          ],
        );
      } finally {
        await db.close();
      }
    });

    it('refuses a bad -redact rule with a message that says what to write', async () => {
      const result = await runProcessor(['-audit-log-file', join(dir, 'audit.log'), '-once', '-redact', 'password', ...target.flags]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /flag -redact: "password" is not a redaction rule: use default, none, flag:--option, env:VARIABLE or re:REGEX/);
    });
  });
}
