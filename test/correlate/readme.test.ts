/**
 * The README's promise, with the real command: reading the example audit logs and KubeArmor events
 * links each session to what it ran, the timeline shows it, and the Correlation section's SQL answers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { collect, projectRoot, runProcessor, startProcessor, waitForLogLine } from '../support/cli.ts';
import { createTestDatabaseTarget, preferredBackend, type BackendName, type TestDatabaseTarget } from '../support/databases.ts';

/** The SQL blocks of the README's Correlation section, verbatim. */
function correlationQueries(): string[] {
  const readme = readFileSync(`${projectRoot}README.md`, 'utf8');
  const section = readme.split('## Correlation: what ran inside each session')[1]!.split('\n## ')[0]!;
  return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
}

/** A database the README's first command filled: the shipped examples read with -once. */
async function databaseOfTheExamples(backend: BackendName): Promise<TestDatabaseTarget> {
  const target = await createTestDatabaseTarget(backend);
  const run = await runProcessor(['-once', '-audit-log-dir', 'examples/audit', '-kubearmor-file', 'examples/kubearmor/kubearmor.jsonl', ...target.flags]);
  if (run.code !== 0) await target.destroy();
  assert.equal(run.code, 0, run.stderr);
  return target;
}

// The README's promise with the real command; the backend is not what it tests (correlation runs on both in scenarios.test.ts).
{
  const backend = preferredBackend;
  describe(`README correlation on ${backend}`, () => {
    let target: TestDatabaseTarget;
    before(async () => (target = await databaseOfTheExamples(backend)));
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

/** The command lines of the first ```sh block of a README section, comments dropped. */
function readmeCommands(heading: string, program: string): string[][] {
  const readme = readFileSync(`${projectRoot}README.md`, 'utf8');
  const section = readme.split(`## ${heading}`)[1]!.split('\n## ')[0]!;
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks
    .flatMap((block) => block.split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith(`${program} `) || line === program)
    .map((line) => line.split(/\s+/).slice(1));
}

{
  const backend = preferredBackend;
  describe(`README "Answers" examples on the shipped examples, on ${backend}`, () => {
    let target: TestDatabaseTarget;
    before(async () => (target = await databaseOfTheExamples(backend)));
    after(() => target?.destroy());

    it('each command returns what its comment says', async () => {
      const commands = readmeCommands('Answers: timelines, sessions, HTTP API and web page', 'audit-processor');
      assert.deepEqual(commands.map((c) => c.join(' ')), [
        'sessions',
        'sessions -user alice -format json',
        'sessions -since 2025-10-21T00:00:00Z',
        'timeline -namespace shop -pod web-0 -from 2025-10-21T09:00:00Z -to 2025-10-21T10:00:00Z -format markdown',
      ]);
      // One after another: the embedded database serves one process at a time (its -data-dir lock).
      const runs = [];
      for (const args of commands) runs.push(await runProcessor([...args, ...target.flags]));
      const [all, alice, since, timeline] = runs;
      for (const run of [all, alice, since, timeline]) assert.equal(run!.code, 0, run!.stderr);
      const rows = (text: string) => text.trimEnd().split('\n').slice(1);
      // "the newest sessions, however old: all 10 of the examples" (2025 back to 2018).
      assert.equal(rows(all!.stdout).length, 10);
      assert.match(rows(all!.stdout).at(-1)!, /^2018-10-26T/);
      // "alice@example.com's one session"
      assert.deepEqual((JSON.parse(alice!.stdout) as { sessions: { user: string }[] }).sessions.map((s) => s.user), ['alice@example.com']);
      // "the 6 sessions started since then"
      assert.equal(rows(since!.stdout).length, 6);
      // "its 4 sessions"
      assert.match(timeline!.stdout, /^\| Sessions \| 4 \(2 interactive\) \|$/m);
    });

    it('its curl examples answer over `serve`', { timeout: 120_000 }, async () => {
      const readme = readFileSync(`${projectRoot}README.md`, 'utf8').split('## Answers: timelines, sessions, HTTP API and web page')[1]!.split('\n## ')[0]!;
      const paths = [...readme.matchAll(/^curl -s 'localhost:8080(\/[^']+)'/gm)].map((m) => m[1]!);
      assert.equal(paths.length, 2);
      const child = startProcessor(['serve', '-http-port', '0', ...target.flags]);
      const exited = collect(child);
      try {
        const base = `http://127.0.0.1:${/HTTP on port (\d+)/.exec(await waitForLogLine(child, /HTTP on port \d+/))![1]}`;
        const [timeline, blocked] = await Promise.all(paths.map(async (path) => (await fetch(base + path)).json() as Promise<any>));
        assert.equal(timeline.sessions.length, 4, 'the timeline of shop/web-0 holds its 4 sessions');
        // "the blocked apt-get"
        assert.deepEqual(blocked.events.map((e: { action: string; resource: string }) => [e.action, e.resource]), [['Block', '/usr/bin/apt-get install -y nmap']]);
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal((await exited).code, 0);
    });
  });
}
