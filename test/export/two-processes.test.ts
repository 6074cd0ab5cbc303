/**
 * Issue 18, acceptance 2: two processors on one PostgreSQL, both reading the labelled examples and
 * exporting to one collector. The collector reads one request and drops its connection without an
 * answer (a lost acknowledgement). Then: every document recorded reached the collector, none twice except
 * the documents of that request (re-sent with the same deliveryId), and each session's documents came
 * in sequence order. PostgreSQL only: PGlite is one process's embedded database.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collect, freePort, projectRoot, startProcessor } from '../support/cli.ts';
import { createTestDatabaseTarget, skipReason, type TestDatabaseTarget } from '../support/databases.ts';
import { scrapeMetrics } from '../support/metrics.ts';
import { waitFor } from '../support/wait.ts';
import { exampleWorld } from '../correlate/examples-world.ts';
import type { Database } from '../../src/store/database.ts';
import { assertOrderedAndDeduplicated, startReceiver, type Receiver } from './receiver.ts';

const auditDir = join(projectRoot, 'examples/audit');
const kubearmorFile = join(projectRoot, 'examples/kubearmor/kubearmor.jsonl');
/** The request the collector reads and never answers. */
const DROPPED = 3;

describe('two processors on one PostgreSQL export each document once', { skip: skipReason('postgres') }, () => {
  let target: TestDatabaseTarget;
  let receiver: Receiver;
  let db: Database;
  before(async () => {
    target = await createTestDatabaseTarget('postgres');
    db = await target.open();
    receiver = await startReceiver({ dropRequests: [DROPPED], delayMs: 150 });
  });
  after(async () => {
    await receiver?.close();
    await db?.close();
    await target?.destroy();
  });

  it('delivers every document, repeating only the ones whose acknowledgement was lost', { timeout: 180_000 }, async (t) => {
    const truth = exampleWorld().runtimeLines().filter((l) => l.truth !== null).length;
    const ports = [await freePort(), await freePort()];
    const children = ports.map((port) =>
      startProcessor([
        '-audit-log-dir', auditDir, '-kubearmor-file', kubearmorFile, '-http-port', String(port),
        '-export-url', receiver.url, '-export-batch-size', '1', '-export-timeout', '2s', ...target.flags,
      ]),
    );
    const exits = children.map(collect);
    const delivered: number[] = [];
    try {
      await waitFor(
        'every document delivered and correlation done',
        async () => {
          const { rows } = await db.query<{ links: number; sessions: number; documented: number; pending: number; deliveries: number }>(
            `SELECT (SELECT count(*)::int FROM exec_session_links) AS links,
                    (SELECT count(*)::int FROM change_events WHERE operation = 'EXEC') AS sessions,
                    (SELECT count(DISTINCT session_id)::int FROM export_documents) AS documented,
                    (SELECT count(*)::int FROM export_deliveries WHERE state = 'pending') AS pending,
                    (SELECT count(*)::int FROM export_deliveries) AS deliveries`,
          );
          const r = rows[0]!;
          return r.links >= truth && r.sessions > 0 && r.documented === r.sessions && r.pending === 0 && r.deliveries > 0;
        },
        120_000,
      );
      for (const port of ports) delivered.push((await scrapeMetrics(port)).get('exectrail_export_delivered_total') ?? 0);
    } finally {
      for (const child of children) child.kill('SIGTERM');
    }
    for (const exit of exits) assert.equal((await exit).code, 0);

    const recorded = (await db.query<{ delivery_id: string; state: string }>(
      `SELECT x.delivery_id::text, d.state FROM export_documents x JOIN export_deliveries d USING (session_id, sequence)`,
    )).rows;
    assert.ok(recorded.every((r) => r.state === 'delivered'), 'every document was delivered (none skipped or parked)');

    // Every request the collector read counts, the dropped one too: it may have stored what it read.
    const received = receiver.requests.flatMap((r) => r.documents.map((d) => d.deliveryId as string));
    const counts = new Map<string, number>();
    for (const id of received) counts.set(id, (counts.get(id) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort(), recorded.map((r) => r.delivery_id).sort(), 'no document lost, none invented');
    const lostAck = new Set(receiver.requests.filter((r) => r.answer === 'dropped').flatMap((r) => r.documents.map((d) => d.deliveryId as string)));
    assert.equal(lostAck.size, 1, 'one request lost its acknowledgement');
    for (const [id, n] of counts) {
      if (lostAck.has(id)) assert.equal(n, 2, `${id}, whose acknowledgement was lost, was re-sent once`);
      else assert.equal(n, 1, `${id} was delivered ${n} times`);
    }
    assertOrderedAndDeduplicated('collector', receiver.requests.flatMap((r) => r.documents));
    t.diagnostic(`delivered per process: ${delivered.join(" + ")}; requests read: ${receiver.requests.length}; documents: ${recorded.length}`);
    // Both processes took part; together they delivered each document once (the lost one counts at its re-send).
    assert.equal(delivered[0]! + delivered[1]!, recorded.length, `delivered per process: ${delivered.join(' + ')}`);
    assert.ok(delivered.every((n) => n > 0), `both processes delivered: ${delivered.join(' + ')}`);
  });
});
