import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { counterByLabel } from '../../src/observe/metrics.ts';
import type { Database } from '../../src/store/database.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import {
  allStages,
  auditTime,
  eventList,
  execEvent,
  otherEvent,
  request,
  rowId,
  startTestWebhook,
  storedSessions,
  type RunningWebhook,
} from './webhook-support.ts';

const fixtures = fileURLToPath(new URL('../fixtures/audit/', import.meta.url));
const MiB = 1024 * 1024;

/**
 * Sends `total` bytes of body with chunked transfer encoding (no Content-Length), a chunk at a time,
 * and stops writing as soon as the server answers. Resolves with the answer and how much was sent.
 */
function streamLargeBody(url: string, total: number, headers: Record<string, string> = {}): Promise<{ status: number; text: string; sentBytes: number }> {
  return new Promise((resolve, reject) => {
    let sentBytes = 0;
    let answered = false;
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), sentBytes });
        req.destroy();
      });
    });
    // Writing into a socket the server closed after answering fails; the answer is what counts.
    req.on('error', (error) => (answered ? undefined : reject(error)));
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    // One chunk per turn of the event loop, as a network peer would trickle it in.
    const pump = () => {
      if (answered) return;
      if (sentBytes >= total) return void req.end();
      sentBytes += chunk.length;
      if (req.write(chunk)) setImmediate(pump);
      else req.once('drain', () => setImmediate(pump));
    };
    req.write('{"kind":"EventList","items":[');
    pump();
  });
}

for (const backend of backends) {
  describe(`audit webhook on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    let hook: RunningWebhook;
    before(async () => {
      ({ db, close } = await createTestDatabase(backend));
      hook = await startTestWebhook(db);
    });
    after(async () => {
      await hook?.server.stop();
      await close?.();
    });

    it('stores an EventList of 400 events holding 20 sessions as 20 rows, split batches in reverse order, and re-sending changes nothing', async () => {
      const ids = Array.from({ length: 20 }, (_, i) => `a1-session-${String(i).padStart(2, '0')}`);
      const optionsOf = (i: number) => ({
        pod: `web-${i % 4}`,
        verb: i % 2 === 0 ? ('get' as const) : ('create' as const),
        code: i === 3 ? 403 : 101,
        command: ['sh', '-c', `echo session ${i} && rm -f /tmp/x${i}`],
        start: auditTime(Date.parse('2024-05-02T10:00:00Z') + i * 60_000, 100 + i),
        seconds: 5 + i,
      });
      // Sessions 15-19 end in the second batch; the apiserver sends batches concurrently, so it arrives first.
      const firstBatch: unknown[] = [];
      const secondBatch: unknown[] = [];
      ids.forEach((id, i) => {
        for (const stage of allStages) (i >= 15 && stage === 'ResponseComplete' ? secondBatch : firstBatch).push(execEvent(id, stage, optionsOf(i)));
      });
      let noise = 0;
      while (firstBatch.length < 400) firstBatch.push(otherEvent(`a1-other-${noise}`, noise++));
      secondBatch.push(otherEvent('a1-other-late', 1));
      // Stages mixed: the apiserver buffers and batches them in any order.
      firstBatch.sort((a, b) => ((a as { auditID: string }).auditID + (a as { stage: string }).stage).localeCompare((b as { auditID: string }).auditID));
      firstBatch.reverse();
      assert.equal(firstBatch.length, 400);

      const second = await request(hook.url, eventList(secondBatch));
      assert.equal(second.status, 200, second.text);
      assert.deepEqual({ events: second.json.events, sessionStages: second.json.sessionStages, sessions: second.json.sessions }, { events: 6, sessionStages: 5, sessions: 5 });
      const first = await request(hook.url, eventList(firstBatch));
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(
        { events: first.json.events, sessionStages: first.json.sessionStages, sessions: first.json.sessions, ignored: first.json.ignored, rejected: first.json.rejected },
        { events: 400, sessionStages: 55, sessions: 20, ignored: 345, rejected: 0 },
      );

      const rows = await storedSessions(db);
      const ours = [...rows.keys()].filter((id) => id.includes('a1-session-'));
      assert.deepEqual(ours.sort(), ids.map(rowId).sort(), 'one row per session');
      ids.forEach((id, i) => {
        const row = rows.get(rowId(id))!;
        const meta = row.exec_metadata as Record<string, unknown>;
        assert.deepEqual(meta.stages, allStages, `${id} has every stage`);
        assert.equal(Math.round(meta.duration_ms as number), (5 + i) * 1000, `${id} lasted ${5 + i} s`);
        assert.equal(meta.ended_at, auditTime(Date.parse('2024-05-02T10:00:00Z') + i * 60_000 + (5 + i) * 1000, 512), `${id} ended`);
        assert.equal(row.allowed, i !== 3, `${id} allowed`);
        assert.deepEqual(meta.command, optionsOf(i).command);
        assert.equal(row.name, `web-${i % 4}`);
      });
      assert.ok(![...rows.keys()].some((id) => id.includes('a1-other')), 'requests that are not interactive access are not stored');

      // The apiserver re-sends (its 200 got lost, or it timed out): every batch twice, concurrently.
      const resent = await Promise.all([
        request(hook.url, eventList(firstBatch)),
        request(hook.url, eventList(secondBatch)),
        request(hook.url, eventList(secondBatch)),
        request(hook.url, eventList(firstBatch)),
      ]);
      assert.deepEqual(resent.map((r) => r.status), [200, 200, 200, 200]);
      assert.deepEqual(await storedSessions(db), rows, 're-sent batches leave every row exactly as it was');
    });

    it('accepts a gzip-compressed body (Content-Encoding: gzip)', async () => {
      const body = eventList(allStages.map((s) => execEvent('gz-1', s)));
      const reply = await request(hook.url, body, { gzip: true });
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.json.sessions, 1);
      assert.ok((await storedSessions(db)).has(rowId('gz-1')));
    });

    it('accepts the other envelopes: a bare Event, a JSON array, AKS Event Hubs records (with a BOM too), and an apiserver EventList', async () => {
      const bare = await request(hook.url, JSON.stringify(execEvent('env-bare', 'ResponseComplete')));
      assert.equal(bare.status, 200, bare.text);
      const array = await request(hook.url, JSON.stringify(allStages.map((s) => execEvent('env-array', s))));
      assert.equal(array.status, 200, array.text);
      assert.equal(array.json.sessionStages, 3);
      const aks = await request(
        hook.url,
        '\uFEFF' + JSON.stringify({ records: [{ category: 'kube-audit', properties: { log: JSON.stringify(execEvent('env-aks', 'ResponseStarted')) + '\n' } }] }),
      );
      assert.equal(aks.status, 200, aks.text);
      // Event Hubs batches of AKS diagnostic records: an exec among control-plane traffic, and a BOM in front.
      const eventHubs = await request(hook.url, readFileSync(`${fixtures}aks-eventhub-records.json`));
      assert.equal(eventHubs.status, 200, eventHubs.text);
      assert.deepEqual([eventHubs.json.events, eventHubs.json.ignored, eventHubs.json.sessions], [3, 1, 1]);
      const withBom = await request(hook.url, readFileSync(`${fixtures}aks-eventhub-records-bom.json`));
      assert.equal(withBom.status, 200, withBom.text);
      assert.equal(withBom.json.sessions, 1);
      const eventList = await request(hook.url, readFileSync(`${fixtures}webhook-eventlist-body.json`));
      assert.equal(eventList.status, 200, eventList.text);
      assert.deepEqual([eventList.json.events, eventList.json.ignored, eventList.json.sessions], [6, 1, 2]);

      const rows = await storedSessions(db);
      for (const id of ['env-bare', 'env-array', 'env-aks']) assert.ok(rows.has(rowId(id)), id);
      const auditIds = new Set([...rows.values()].map((r) => r.audit_id));
      for (const id of ['e4517f3b-0c15-4cd7-a941-80ceee51661a', '0b1c2d3e-4f50-4617-a8b9-cadbecfd0e1f', '3f6c2a9e-5b1d-4c7a-8e2f-9d0b1a4c6e01', 'a8d41f07-2c6e-4b93-b5a0-7e1c9f3d2b02']) {
        assert.ok(auditIds.has(id), `session ${id} of the fixtures stored`);
      }
    });

    it('answers 413 to a 20 MiB body announced by Content-Length, before reading any of it', async () => {
      const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = http.request(hook.url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(20 * MiB) } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        // Headers only: the answer must come without a byte of the body.
        req.flushHeaders();
      });
      assert.equal(reply.status, 413);
      assert.match(reply.text, /larger than 16777216 bytes \(-webhook-max-body\)/);
    });

    it('answers 413 to a streamed (chunked) 20 MiB body once it passes the limit, without waiting for the rest', async () => {
      const reply = await streamLargeBody(hook.url, 20 * MiB);
      assert.equal(reply.status, 413, reply.text);
      assert.match(reply.text, /-webhook-max-body/);
      assert.ok(reply.sentBytes < 20 * MiB, `the answer came after ${(reply.sentBytes / MiB).toFixed(1)} MiB of 20`);
      // The server is still fine afterwards.
      assert.equal((await request(`${hook.origin}/healthz`, undefined)).status, 200);
    });

    it('answers 413 to a gzip bomb: a small compressed body that inflates past the limit', async () => {
      const bomb = gzipSync(Buffer.alloc(20 * MiB, 0x20));
      assert.ok(bomb.length < 64 * 1024, 'the compressed body is small');
      const reply = await request(hook.url, bomb, { headers: { 'content-encoding': 'gzip' } });
      assert.equal(reply.status, 413, reply.text);
      assert.match(reply.text as string, /decompressed request body is larger than/);
    });

    it('answers 400 naming the problem to a body that is not JSON, or not gzip when it says so', async () => {
      const brace = await request(hook.url, '{');
      assert.equal(brace.status, 400);
      assert.match(brace.json.error as string, /not JSON \(.+\); send an audit\.k8s\.io\/v1 EventList/);
      const scalar = await request(hook.url, '42');
      assert.equal(scalar.status, 400);
      assert.match(scalar.json.error as string, /JSON number/);
      const fakeGzip = await request(hook.url, '{"items":[]}', { headers: { 'content-encoding': 'gzip' } });
      assert.equal(fakeGzip.status, 400);
      assert.match(fakeGzip.json.error as string, /not valid gzip/);
      const nothingValid = await request(hook.url, eventList([{ kind: 'Event', stage: 'ResponseComplete' }]));
      assert.equal(nothingValid.status, 400);
      assert.match(nothingValid.json.error as string, /no valid audit event.*auditID/);
      const form = await request(hook.url, 'a=b', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(form.status, 415);
      assert.match(form.json.error as string, /send application\/json/);
    });

    it('stores the 3 valid events of a batch that also holds 2 invalid ones, answers 200 with the counts and counts the invalid ones', async () => {
      const before = await counterByLabel(hook.metrics.badInput, 'reason');
      const body = eventList([
        execEvent('mixed-1', 'ResponseComplete'),
        { kind: 'Event', auditID: 'mixed-bad-1', stage: 'ResponseComplete', verb: 7 },
        execEvent('mixed-2', 'ResponseComplete', { pod: 'api-0' }),
        'not an event at all',
        execEvent('mixed-3', 'ResponseComplete', { verb: 'get' }),
      ]);
      const reply = await request(hook.url, body);
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.json.events, 5);
      assert.equal(reply.json.sessions, 3);
      assert.equal(reply.json.rejected, 2);
      assert.deepEqual(reply.json.rejectedByReason, { 'bad-field': 1, 'not-an-event': 1 });
      const rows = await storedSessions(db);
      for (const id of ['mixed-1', 'mixed-2', 'mixed-3']) assert.ok(rows.has(rowId(id)), `${id} stored`);
      assert.ok(!rows.has(rowId('mixed-bad-1')));
      const afterCounts = await counterByLabel(hook.metrics.badInput, 'reason');
      assert.equal((afterCounts['bad-field'] ?? 0) - (before['bad-field'] ?? 0), 1);
      assert.equal((afterCounts['not-an-event'] ?? 0) - (before['not-an-event'] ?? 0), 1);
    });

    it('answers 405 to a wrong method and 404 to an unknown path', async () => {
      const get = await request(hook.url, undefined, { method: 'GET' });
      assert.equal(get.status, 405);
      assert.equal(get.headers.allow, 'POST');
      const put = await request(hook.url, '{}', { method: 'PUT' });
      assert.equal(put.status, 405);
      const deleteHealth = await request(`${hook.origin}/healthz`, undefined, { method: 'DELETE' });
      assert.equal(deleteHealth.status, 405);
      const unknown = await request(`${hook.origin}/events`, eventList([]));
      assert.equal(unknown.status, 404);
      assert.match(unknown.json.error as string, /POST \/audit/);
      const empty = await request(hook.url, eventList([]));
      assert.equal(empty.status, 200, 'an empty EventList is a valid (empty) batch');
    });

    it('serves /healthz and /readyz (database reachable, migrations applied) without authentication', async () => {
      const health = await request(`${hook.origin}/healthz`, undefined);
      assert.equal(health.status, 200);
      const ready = await request(`${hook.origin}/readyz`, undefined);
      assert.equal(ready.status, 200, ready.text);
      assert.equal(ready.json.status, 'ready');
      const detail = ready.json as { database: string; migrations: { pending: string[]; expected: number; applied: number } };
      assert.equal(detail.database, 'reachable');
      assert.deepEqual(detail.migrations.pending, []);
      assert.equal(detail.migrations.applied, detail.migrations.expected);

      // A database missing the newest migration is not ready, and says which one.
      const latest = await db.query<{ id: number; created_at: number }>('SELECT id, created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1');
      const newest = latest.rows[0]!;
      await db.query('UPDATE drizzle.__drizzle_migrations SET created_at = created_at - 1 WHERE id = $1', [newest.id]);
      try {
        const notReady = await request(`${hook.origin}/readyz`, undefined);
        assert.equal(notReady.status, 503);
        const d = notReady.json as { migrations: { pending: string[] }; reasons: string[] };
        assert.equal(d.migrations.pending.length, 1);
        assert.match(d.reasons[0]!, /not applied \(\d{4}_\w+\); restart audit-processor/);
      } finally {
        await db.query('UPDATE drizzle.__drizzle_migrations SET created_at = $2 WHERE id = $1', [newest.id, newest.created_at]);
      }
    });
  });
}
