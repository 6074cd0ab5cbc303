/**
 * The README's promise, with the real command: reading the example audit logs and KubeArmor events
 * links each session to what it ran, the timeline shows it, and the Correlation section's SQL answers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { projectRoot, runProcessor } from '../support/cli.ts';
import { createTestDatabaseTarget, preferredBackend, type TestDatabaseTarget } from '../support/databases.ts';

/** The SQL blocks of the README's Correlation section, verbatim. */
function correlationQueries(): string[] {
  const readme = readFileSync(`${projectRoot}README.md`, 'utf8');
  const section = readme.split('## Correlation: what ran inside each session')[1]!.split('\n## ')[0]!;
  return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
}

// The README's promise with the real command; the backend is not what it tests (correlation runs on both in scenarios.test.ts).
{
  const backend = preferredBackend;
  describe(`README correlation on ${backend}`, () => {
    let target: TestDatabaseTarget;
    before(async () => {
      target = await createTestDatabaseTarget(backend);
      const run = await runProcessor(['-once', '-audit-log-dir', 'examples/audit', '-kubearmor-file', 'examples/kubearmor/kubearmor.jsonl', ...target.flags]);
      assert.equal(run.code, 0, run.stderr);
    });
    after(() => target?.destroy());

    it("the timeline shows each of two simultaneous sessions with its own processes and alerts", async () => {
      const run = await runProcessor([
        'timeline', '-namespace', 'shop', '-pod', 'web-7d9f5c6b8-x2k4t',
        '-from', '2025-10-19T14:41:00Z', '-to', '2025-10-19T14:42:00Z', ...target.flags,
      ]);
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.split('\n');
      const of = (text: string) => lines.find((l) => l.includes(text)) ?? assert.fail(`no line with ${text}:\n${run.stdout}`);
      assert.match(of('/bin/rm -rf /var/log/app/access.log'), /alice@example\.com/);
      assert.match(of('File /var/log/app/access.log'), /ALERT\s+alice@example\.com/);
      assert.match(of('/bin/cat /etc/passwd'), /kubernetes-admin/);
      assert.ok(!run.stdout.includes('/usr/share/nginx/html/index.html'), "the readiness probe is nobody's session");
    });

    it("answers the Correlation section's queries", async () => {
      const [byUser, blocked, tree, unexplained] = correlationQueries();
      assert.ok(byUser && blocked && tree && unexplained);
      const db = await target.open();
      try {
        // Verbatim: it runs (the examples hold no namespace "production").
        await db.query(byUser);
        const alice = await db.query<{ resource: string }>(byUser.replace("'production'", "'shop'").replace("date_trunc('week', now())", "'2025-10-19T00:00:00Z'"));
        assert.deepEqual(alice.rows.map((r) => r.resource), ['/bin/sh -c rm -rf /var/log/app/*', '/bin/rm -rf /var/log/app/access.log /var/log/app/error.log']);

        const sessions = await db.query<{ user_name: string; policy_name: string; resource: string }>(blocked);
        assert.deepEqual(
          sessions.rows.map((r) => [r.user_name, r.policy_name, r.resource]),
          [['kubernetes-admin', 'block-pkg-mgmt-tools-exec', '/usr/bin/apt-get install -y nmap']],
        );

        const commands = await db.query<{ resource: string; parent_process_name: string }>(tree);
        assert.equal(commands.rows[0]?.resource, '/bin/sh');
        assert.equal(commands.rows[0]?.parent_process_name, '/usr/bin/runc');
        assert.ok(commands.rows.some((r) => r.resource === '/bin/chmod +x /tmp/.x'), 'grandchildren are in the tree');

        assert.deepEqual((await db.query(unexplained)).rows, [], 'every alert in that pod came from a session');
      } finally {
        await db.close();
      }
    });
  });
}
