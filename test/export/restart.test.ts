/**
 * Issue 18, acceptance 1, through the real command: one processor reads the labelled examples (audit
 * directory and KubeArmor file, whose truth is test/correlate/examples-world.ts) with -export-file and
 * -export-url on; the collector answers 503 to its first 3 requests and is slow after; the processor is
 * SIGKILLed once the collector has taken its first batch, and started again. Then every session has
 * reached both outputs, in sequence order, repeated only as the same deliveryId with the same content,
 * and the last document of each session carries every process and alert exec_session_links links to it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collect, freePort, projectRoot, startProcessor } from '../support/cli.ts';
import { backends, createTestDatabaseTarget, skipReason, type TestDatabaseTarget } from '../support/databases.ts';
import { scrapeMetrics } from '../support/metrics.ts';
import { waitFor } from '../support/wait.ts';
import { exampleWorld } from '../correlate/examples-world.ts';
import { idempotencyKey } from '../../src/export/outputs/http.ts';
import { activityKeys, assertOrderedAndDeduplicated, bySession, lastOf, readJsonLines, startReceiver, type Doc, type Receiver } from './receiver.ts';

const auditDir = join(projectRoot, 'examples/audit');
const kubearmorFile = join(projectRoot, 'examples/kubearmor/kubearmor.jsonl');

for (const backend of backends) {
  describe(`export survives 503s, a SIGKILL and a restart, on ${backend}`, { skip: skipReason(backend) }, () => {
    let target: TestDatabaseTarget;
    let receiver: Receiver;
    let dir: string;
    before(async () => {
      target = await createTestDatabaseTarget(backend);
      receiver = await startReceiver({ failFirst: 3, delayMs: 150 });
      dir = mkdtempSync(join(tmpdir(), 'exectrail-export-'));
    });
    after(async () => {
      await receiver?.close();
      await target?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it('delivers every session to the file and the collector, the last document with every linked process and alert', { timeout: 240_000 }, async () => {
      const file = join(dir, 'sessions.jsonl');
      const fileDocs = () => (existsSync(file) ? readJsonLines(readFileSync(file, 'utf8')) : []);
      const args = (port: number) => [
        '-audit-log-dir', auditDir, '-kubearmor-file', kubearmorFile, '-http-port', String(port),
        '-export-file', file, '-export-url', receiver.url, '-export-batch-size', '2', '-export-batch-delay', '0', '-export-timeout', '2s',
        ...target.flags,
      ];

      // First run: killed once the collector has accepted its first batch (after its three 503s).
      const first = startProcessor(args(await freePort()));
      const firstExit = collect(first);
      await waitFor('the collector to accept a first batch', () => receiver.accepted().length > 0, 120_000);
      first.kill('SIGKILL');
      const killed = await firstExit;
      assert.equal(killed.signal, 'SIGKILL');
      const acceptedAtKill = receiver.accepted().length;
      assert.deepEqual(receiver.requests.slice(0, 3).map((r) => r.answer), [503, 503, 503]);

      // Second run: same flags; it must finish what the first left.
      const truth = exampleWorld().runtimeLines().filter((l) => l.truth !== null).length;
      const port = await freePort();
      const second = startProcessor(args(port));
      const secondExit = collect(second);
      let sessionIds: string[] = [];
      try {
        await waitFor(
          'every session on both outputs, as the API shows it now',
          async () => {
            const listed = await fetch(`http://127.0.0.1:${port}/api/v1/sessions?limit=500`).then((r) => (r.ok ? r.json() : undefined)).catch(() => undefined);
            if (!listed) return false;
            sessionIds = (listed.sessions as Doc[]).map((s) => s.id);
            const metrics = await scrapeMetrics(port);
            if (metrics.get('exectrail_export_pending') !== 0) return false;
            const outputs = [bySession(fileDocs()), bySession(receiver.accepted())];
            let linked = 0;
            for (const id of sessionIds) {
              const detail = await fetch(`http://127.0.0.1:${port}/api/v1/sessions/${encodeURIComponent(id)}`).then((r) => r.json() as Promise<Doc>);
              linked += detail.activity.length;
              for (const output of outputs) {
                const docs = output.get(id);
                // The same JSON as GET /api/v1/sessions/:id, plus event, deliveryId and sequence.
                const { event: _e, deliveryId: _d, sequence: _s, ...rest } = docs ? lastOf(docs) : {};
                if (!docs || JSON.stringify(rest) !== JSON.stringify(detail)) return false;
              }
            }
            // Correlation is done once every event the example world says a session caused is linked.
            return sessionIds.length > 0 && linked >= truth;
          },
          120_000,
        );
      } finally {
        second.kill('SIGTERM');
      }
      const stopped = await secondExit;
      assert.equal(stopped.code, 0, stopped.stderr.slice(-2000));

      // The truth, from the database: every exec session and what exec_session_links links to it.
      const db = await target.open();
      let links: Map<string, string[]>;
      let stored: string[];
      try {
        stored = (await db.query<{ id: string }>(`SELECT id FROM change_events WHERE operation = 'EXEC' ORDER BY id`)).rows.map((r) => r.id);
        const rows = (await db.query<{ session_id: string; key: string }>(
          `SELECT l.session_id, l.event_key || '@' || to_char(l.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS key FROM exec_session_links l`,
        )).rows;
        links = new Map(stored.map((id) => [id, rows.filter((r) => r.session_id === id).map((r) => r.key).sort()]));
      } finally {
        await db.close();
      }
      assert.deepEqual([...sessionIds].sort(), stored);
      // The example world's truth: each KubeArmor event a session caused is linked to it.
      assert.ok([...links.values()].reduce((n, l) => n + l.length, 0) >= truth, 'correlation made the links the examples hold');

      const total = new Set([...fileDocs(), ...receiver.accepted()].map((d) => d.deliveryId)).size;
      assert.ok(acceptedAtKill < receiver.accepted().length, `the kill came midway: ${acceptedAtKill} documents accepted before it, ${receiver.accepted().length} in the end (${total} distinct)`);
      for (const [name, documents] of [['file', fileDocs()], ['collector', receiver.accepted()]] as const) {
        assertOrderedAndDeduplicated(name, documents);
        const sessions = bySession(documents);
        assert.deepEqual([...sessions.keys()].sort(), stored, `${name}: every session arrived`);
        for (const id of stored) {
          const last = lastOf(sessions.get(id)!);
          assert.deepEqual(activityKeys(last), links.get(id), `${name}: the last document of ${id} carries every linked process and alert`);
          assert.equal(last.session.processCount + last.session.alertCount <= last.activity.length, true);
        }
      }
      // The same document is the same on both outputs.
      const fromFile = new Map(fileDocs().map((d) => [d.deliveryId, JSON.stringify(d)]));
      for (const d of receiver.accepted()) assert.equal(JSON.stringify(d), fromFile.get(d.deliveryId), `document ${d.deliveryId} is the same in the file and at the collector`);
      // Idempotency-Key: the deliveryId of a one-document request, else the hash of its deliveryIds.
      for (const request of receiver.requests) {
        assert.equal(request.headers['idempotency-key'], idempotencyKey(request.documents as { deliveryId: string }[]));
        assert.ok(request.documents.length <= 2, 'batches hold at most -export-batch-size documents');
      }
    });
  });
}
