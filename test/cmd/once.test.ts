import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createTestDatabaseTarget, preferredBackend, type TestDatabaseTarget } from '../support/databases.ts';
import { projectRoot, runProcessor } from '../support/cli.ts';

const examples = `${projectRoot}examples/audit`;

/** The SQL blocks of the README's "Queries" section, verbatim. */
function readmeQueries(): string[] {
  const readme = readFileSync(`${projectRoot}README.md`, 'utf8');
  const section = readme.split('## Queries kubechronicle users already run')[1]!.split('\n## ')[0]!;
  return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
}

// The command line and the README's queries, not the backend, are under test: PostgreSQL (what kubechronicle users query) when TEST_DATABASE_URL is set.
{
  const backend = preferredBackend;
  describe(`audit-processor -once on ${backend}`, () => {
    let target: TestDatabaseTarget;
    before(async () => (target = await createTestDatabaseTarget(backend)));
    after(() => target?.destroy());

    it('stores the example sessions and says how many; a second run changes nothing', async () => {
      const first = await runProcessor(['-audit-log-dir', examples, '-once', ...target.flags]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /stored \d+ session rows \(10 new sessions\)/, 'the ten example sessions');
      const db = await target.open();
      const snapshot = async () => (await db.query(`SELECT * FROM change_events ORDER BY id`)).rows;
      let rowsAfterFirst;
      try {
        rowsAfterFirst = await snapshot();
      } finally {
        await db.close();
      }
      assert.ok(rowsAfterFirst.length >= 5, `expected the example sessions, got ${rowsAfterFirst.length}`);

      const second = await runProcessor(['-audit-log-dir', examples, '-once', ...target.flags]);
      assert.equal(second.code, 0, second.stderr);
      const again = await target.open();
      try {
        assert.deepEqual((await again.query(`SELECT * FROM change_events ORDER BY id`)).rows, rowsAfterFirst);
      } finally {
        await again.close();
      }
    });

    it('answers the four README queries verbatim', async () => {
      const queries = readmeQueries();
      assert.equal(queries.length, 4);
      const db = await target.open();
      try {
        const [all, byPod, byUser, byCommand] = await Promise.all(queries.map(async (q) => (await db.query<Record<string, unknown>>(q)).rows));
        assert.ok(all!.length >= 5);
        assert.ok(all!.every((r) => r.operation === 'EXEC'));
        assert.ok(byPod!.length >= 1 && byPod!.every((r) => r.name === 'web-7d9f5c6b8-x2k4t'));
        assert.ok(byUser!.length >= 1 && byUser!.every((r) => (r.actor as { username: string }).username === 'kubernetes-admin'));
        assert.ok(byCommand!.length >= 1 && byCommand!.every((r) => JSON.stringify((r.exec_metadata as { command: string[] }).command).includes('rm')));
      } finally {
        await db.close();
      }
    });
  });
}
