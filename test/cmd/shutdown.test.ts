/**
 * SIGTERM as Kubernetes sends it, to the real command: during a backfill and during webhook load. The
 * processor exits 0 within -shutdown-timeout, and after a restart nothing is lost and nothing doubled.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { collect, freePort, runProcessor, startProcessor, waitForLogLine } from '../support/cli.ts';
import { scrapeMetrics } from '../support/metrics.ts';
import { waitFor } from '../support/wait.ts';
import { backends, createTestDatabaseTarget, skipReason, type TestDatabaseTarget } from '../support/databases.ts';
import { expectedSessions, generateAuditLines } from '../ingest/file-support.ts';
import { allStages, eventList, execEvent, rowId } from '../ingest/webhook-support.ts';

const SHUTDOWN_TIMEOUT_S = 20;



async function storedIds(target: TestDatabaseTarget): Promise<Map<string, { stages: string[]; ended_at: string | null }>> {
  const db = await target.open();
  try {
    const { rows } = await db.query<{ id: string; exec_metadata: { stages: string[]; ended_at: string | null } }>(
      `SELECT id, exec_metadata FROM change_events WHERE operation = 'EXEC'`,
    );
    return new Map(rows.map((r) => [r.id, { stages: r.exec_metadata.stages, ended_at: r.exec_metadata.ended_at }]));
  } finally {
    await db.close();
  }
}

/** Sends SIGTERM and measures how long the process takes to exit. */
async function terminate(child: ChildProcess, exited: ReturnType<typeof collect>) {
  const sentAt = Date.now();
  child.kill('SIGTERM');
  const result = await exited;
  return { ...result, seconds: (Date.now() - sentAt) / 1000 };
}

for (const backend of backends) {
  describe(`SIGTERM during a backfill on ${backend}`, { skip: skipReason(backend) }, () => {
    let target: TestDatabaseTarget;
    before(async () => (target = await createTestDatabaseTarget(backend)));
    after(() => target?.destroy());

    it('exits 0 in time, and a restart stores every session exactly once', { timeout: 300_000 }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'exectrail-sigterm-'));
      // About 53 MB: about 26 batches of 2 MiB. One request in twenty is interactive access, as in a real log.
      const lines = generateAuditLines(60_000, 'term', { interactiveEvery: 20 });
      const file = join(dir, 'audit.log');
      writeFileSync(file, lines.join('\n') + '\n');

      const port = await freePort();
      const child = startProcessor(['-audit-log-file', file, `-http-port=${port}`, `-shutdown-timeout=${SHUTDOWN_TIMEOUT_S}s`, ...target.flags]);
      const exited = collect(child);
      // Mid-backfill: the first batch is committed, the others are still to come.
      await waitFor('the first sessions stored', async () => ((await scrapeMetrics(port)).get('exectrail_sessions_stored_total') ?? 0) > 0, 60_000);
      const stopped = await terminate(child, exited);
      assert.equal(stopped.code, 0, stopped.stderr.slice(-2000));
      assert.ok(stopped.seconds < SHUTDOWN_TIMEOUT_S, `exited in ${stopped.seconds} s`);
      const expected = expectedSessions(lines, '');
      const beforeRestart = (await storedIds(target)).size;
      // A stop ends the read at a batch boundary: it does not read the rest of the file first.
      assert.ok(beforeRestart < expected.size, `the stop ended the backfill early (${beforeRestart} of ${expected.size} sessions stored)`);

      const restart = await runProcessor(['-audit-log-file', file, '-once', ...target.flags]);
      assert.equal(restart.code, 0, restart.stderr.slice(-2000));
      assert.deepEqual(await storedIds(target), expected);
    });
  });
}

describe('SIGTERM during webhook load on postgres', { skip: skipReason('postgres') }, () => {
  let target: TestDatabaseTarget;
  before(async () => (target = await createTestDatabaseTarget('postgres')));
  after(() => target?.destroy());

  it('answers or refuses every batch; every acknowledged session is stored; re-sent batches complete the rest', { timeout: 180_000 }, async () => {
    const webhookPort = await freePort();
    const args = ['-enable-webhook', `-webhook-port=${webhookPort}`, '-http-port=0', `-shutdown-timeout=${SHUTDOWN_TIMEOUT_S}s`, ...target.flags];
    const child = startProcessor(args);
    const exited = collect(child);
    await waitForLogLine(child, /webhook/i);
    const url = `http://127.0.0.1:${webhookPort}/audit`;

    // Batches of 400 events (100 sessions x 4 events: all stages + a re-sent one), as the apiserver sends them.
    const batches = Array.from({ length: 40 }, (_, b) => {
      const ids = Array.from({ length: 100 }, (_, s) => `term-${b}-${s}`);
      return { ids, body: eventList(ids.flatMap((id) => [...allStages.map((stage) => execEvent(id, stage)), execEvent(id, 'ResponseComplete')])) };
    });
    const acknowledged: string[][] = [];
    const unanswered: typeof batches = [];
    let next = 0;
    const client = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        const ok = await fetch(url, { method: 'POST', body: batch.body, headers: { 'content-type': 'application/json' } }).then(
          (response) => response.status === 200,
          () => false,
        );
        if (ok) acknowledged.push(batch.ids);
        else unanswered.push(batch);
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, client));
    // Mid-load: some batches acknowledged, most not sent yet.
    await waitFor('five batches acknowledged', () => acknowledged.length >= 5);
    const stopped = await terminate(child, exited);
    await load;
    assert.equal(stopped.code, 0, stopped.stderr.slice(-2000));
    assert.ok(stopped.seconds < SHUTDOWN_TIMEOUT_S, `exited in ${stopped.seconds} s`);
    assert.ok(acknowledged.length > 0 && unanswered.length > 0, `the stop fell mid-load (${acknowledged.length} acknowledged, ${unanswered.length} not)`);

    const afterStop = await storedIds(target);
    for (const id of acknowledged.flat()) assert.ok(afterStop.has(rowId(id)), `acknowledged session ${id} is stored`);

    // The apiserver retries what was not acknowledged: a restarted processor completes the set, once each.
    const restarted = startProcessor(args);
    const restartedExit = collect(restarted);
    await waitForLogLine(restarted, /webhook/i);
    // Re-sent concurrently, as the apiserver sends batches.
    const statuses: number[] = [];
    const resend = async () => {
      for (let batch = unanswered.shift(); batch; batch = unanswered.shift()) {
        statuses.push((await fetch(url, { method: 'POST', body: batch.body, headers: { 'content-type': 'application/json' } })).status);
      }
    };
    await Promise.all(Array.from({ length: 8 }, resend));
    assert.ok(statuses.length > 0 && statuses.every((status) => status === 200), `re-sent batches answered ${[...new Set(statuses)].join(', ')}`);
    const final = await terminate(restarted, restartedExit);
    assert.equal(final.code, 0);
    const stored = await storedIds(target);
    assert.equal(stored.size, batches.length * 100);
    for (const [, session] of stored) assert.deepEqual(session.stages, allStages);
  });
});
