/**
 * The real command: `audit-processor -enable-webhook` receives batches, and on SIGTERM finishes the
 * batch in flight (committed, answered 200) before it exits 0.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { collect, startProcessor, waitForLogLine, type CliResult } from '../support/cli.ts';
import { createTestDatabaseTarget, preferredBackend, type TestDatabaseTarget } from '../support/databases.ts';
import { waitFor } from '../support/wait.ts';
import { allStages, eventList, execEvent, request, rowId, storedSessions } from './webhook-support.ts';

const batchOf = (id: string) => eventList(allStages.map((s) => execEvent(id, s)));

/** Starts the processor and resolves with the webhook's URL once it listens (from its log line). */
async function startWebhookProcess(flags: string[]): Promise<{ child: ChildProcess; url: string; done: Promise<CliResult> }> {
  const child = startProcessor(['-enable-webhook', '-webhook-port=0', '-http-port=0', ...flags]);
  const done = collect(child);
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /audit webhook listening on (\S+)/.exec(seen);
      if (match) {
        child.stderr!.off('data', onData);
        resolve(match[1]!.replace('localhost', '127.0.0.1'));
      }
    };
    child.stderr!.on('data', onData);
    void done.then((result) => reject(new Error(`audit-processor exited (${result.code}) before listening: ${result.stderr}`)));
  });
  return { child, url, done };
}

// The command line, not the backend, is under test here (test/ingest/webhook.test.ts runs the webhook on both).
{
  const backend = preferredBackend;
  describe(`audit-processor -enable-webhook on ${backend}`, () => {
    let target: TestDatabaseTarget;
    before(async () => (target = await createTestDatabaseTarget(backend)));
    after(() => target?.destroy());

    it('stores a posted batch, warns that it runs without authentication, and exits 0 on SIGTERM', async () => {
      const { child, url, done } = await startWebhookProcess(target.flags);
      const reply = await request(url, batchOf('cli-1'));
      assert.equal(reply.status, 200, reply.text);
      assert.equal((await request(url.replace('/audit', '/readyz'), undefined)).status, 200);
      child.kill('SIGTERM');
      const result = await done;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /AUDIT WEBHOOK WITHOUT AUTHENTICATION/);
      assert.match(result.stderr, /audit webhook stopped/);
      const db = await target.open();
      try {
        assert.ok((await storedSessions(db)).has(rowId('cli-1')));
      } finally {
        await db.close();
      }
    });

    it('on SIGTERM finishes the batch in flight before exiting', { skip: backend === 'pglite' ? 'needs PostgreSQL (TEST_DATABASE_URL): an embedded database cannot be locked from another process' : false }, async () => {
      const { child, url, done } = await startWebhookProcess(target.flags);
      // Hold the table so the batch waits in the writer, as with a slow database.
      const locker = new pg.Client({ connectionString: target.databaseUrl });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE change_events IN EXCLUSIVE MODE');
        const inFlight = request(url, batchOf('cli-in-flight'));
        inFlight.catch(() => undefined);
        // The batch has reached the writer: the processor's insert waits on the lock. (pg_locks, not
        // pg_stat_activity: inside a transaction the latter is a snapshot taken at its first read.)
        await waitFor('the batch to wait on the locked table', async () => {
          const { rows } = await locker.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'change_events'::regclass AND NOT granted`,
          );
          return rows[0]!.n > 0;
        });
        const stopping = waitForLogLine(child, /stopping: finishing in-flight work/);
        child.kill('SIGTERM');
        await stopping;
        assert.equal(child.exitCode, null, 'still running after SIGTERM while the batch is in flight');
        await locker.query('COMMIT');
        const reply = await inFlight;
        assert.equal(reply.status, 200, reply.text);
        const result = await done;
        assert.equal(result.code, 0, result.stderr);
      } finally {
        await locker.end();
      }
      const db = await target.open();
      try {
        assert.ok((await storedSessions(db)).has(rowId('cli-in-flight')));
      } finally {
        await db.close();
      }
    });
  });
}
