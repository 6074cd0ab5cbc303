/**
 * 50 concurrent clients post 4 batches each, as an apiserver's webhook backend does (batches sent
 * concurrently, stages of one session in different batches, batches re-sent while the first copy is
 * still in flight). The one property checked: every session stage acknowledged with 200 is in the
 * database. Throughput is printed, never asserted (it is measured in `npm run bench`).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../src/store/database.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { auditTime, eventList, execEvent, otherEvent, request, rowId, startTestWebhook, storedSessions, type RunningWebhook, type Stage } from './webhook-support.ts';

const CLIENTS = 50;
// A fixed amount of work (not a fixed time): the same batches on any machine.
const ITERATIONS = Number(process.env.WEBHOOK_LOAD_ITERATIONS ?? 4);
const NEW_SESSIONS_PER_BATCH = 5;
const OTHER_EVENTS_PER_BATCH = 20;

interface Batch {
  body: string;
  events: number;
  stages: { id: string; stage: Stage }[];
}

/** Client c's batch i: the first two stages of 5 new sessions, the last stage of the 5 from batch i-1, other traffic. */
function batchFor(client: number, iteration: number): Batch {
  const items: unknown[] = [];
  const stages: Batch['stages'] = [];
  const session = (i: number, k: number) => `load-c${client}-i${i}-k${k}`;
  const start = (i: number, k: number) => auditTime(Date.parse('2024-06-01T00:00:00Z') + client * 3_600_000 + i * 1000 + k, 1);
  for (let k = 0; k < NEW_SESSIONS_PER_BATCH; k++) {
    for (const stage of ['RequestReceived', 'ResponseStarted'] as const) {
      items.push(execEvent(session(iteration, k), stage, { pod: `pod-${client}`, start: start(iteration, k), command: ['sh', '-c', `job ${iteration}.${k}`] }));
      stages.push({ id: session(iteration, k), stage });
    }
    if (iteration > 0) {
      items.push(execEvent(session(iteration - 1, k), 'ResponseComplete', { pod: `pod-${client}`, start: start(iteration - 1, k), command: ['sh', '-c', `job ${iteration - 1}.${k}`] }));
      stages.push({ id: session(iteration - 1, k), stage: 'ResponseComplete' });
    }
  }
  for (let n = 0; n < OTHER_EVENTS_PER_BATCH; n++) items.push(otherEvent(`load-other-c${client}-i${iteration}-${n}`, n));
  return { body: eventList(items), events: items.length, stages };
}

for (const backend of backends) {
  describe(`audit webhook under ${CLIENTS} concurrent clients on ${backend}`, { skip: skipReason(backend) }, () => {
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

    it(`every stage acknowledged in ${CLIENTS} x ${ITERATIONS} concurrent batches is in the database`, async (t) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS * 2 });
      const acknowledged = new Map<string, Set<Stage>>();
      const statuses = new Map<number | string, number>();
      let requests = 0;
      let eventsAcknowledged = 0;

      const send = async (batch: Batch) => {
        requests++;
        let status: number | string;
        try {
          status = (await request(hook.url, batch.body, { agent })).status;
        } catch (error) {
          status = (error as NodeJS.ErrnoException).code ?? 'error';
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status !== 200) return;
        eventsAcknowledged += batch.events;
        for (const { id, stage } of batch.stages) {
          const seen = acknowledged.get(id) ?? new Set<Stage>();
          seen.add(stage);
          acknowledged.set(id, seen);
        }
      };

      const started = performance.now();
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, client) => {
          for (let iteration = 0; iteration < ITERATIONS; iteration++) {
            const batch = batchFor(client, iteration);
            // Every 4th batch is re-sent while the first copy is still in flight (apiserver retry after a timeout).
            if (iteration % 4 === 3) await Promise.all([send(batch), send(batch)]);
            else await send(batch);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      agent.destroy();

      const ok = statuses.get(200) ?? 0;
      t.diagnostic(
        `${requests} requests in ${seconds.toFixed(1)} s: ${(requests / seconds).toFixed(0)} requests/s, ` +
          `${(eventsAcknowledged / seconds).toFixed(0)} events/s acknowledged, ${acknowledged.size} sessions acknowledged; ` +
          `statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
      );
      assert.ok(ok > CLIENTS, `some batches must be acknowledged (statuses ${JSON.stringify(Object.fromEntries(statuses))})`);

      const rows = await storedSessions(db);
      const missing: string[] = [];
      for (const [id, stages] of acknowledged) {
        const row = rows.get(rowId(id));
        const stored = new Set((row?.exec_metadata as { stages?: string[] } | undefined)?.stages ?? []);
        for (const stage of stages) if (!stored.has(stage)) missing.push(`${id} ${stage}`);
      }
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged stages are not in the database`);
      const ackedRows = [...acknowledged.keys()].filter((id) => rows.has(rowId(id))).length;
      assert.equal(ackedRows, acknowledged.size, 'one row for every acknowledged session');
      assert.ok(rows.size >= acknowledged.size);
      assert.ok(![...rows.keys()].some((id) => id.includes('load-other')), 'other traffic is not stored');
    });
  });
}
