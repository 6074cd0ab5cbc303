/**
 * A session is one request, not one Audit-ID: a client sets that header, so two requests may carry the
 * same ID, and neither may hide or rewrite the other. Through the real line path and the real writer, on
 * both backends, read back with kubechronicle's own queries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sessionsFromLine } from '../../src/audit/input.ts';
import type { SessionRow } from '../../src/audit/session.ts';
import type { Database } from '../../src/store/database.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { execStages } from '../support/audit-event.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';

const stagesOf = (events: Record<string, unknown>[], cluster = '') =>
  events.flatMap((event) => sessionsFromLine(Buffer.from(JSON.stringify(event)), { cluster }).rows);

interface KubechronicleRow {
  id: string;
  namespace: string;
  name: string;
  allowed: boolean;
  username: string;
  audit_id_reused: boolean | null;
}

// kubechronicle's "Every exec session" and "Sessions opened by one user" queries (README).
async function sessionsOfUser(db: Database, user: string): Promise<KubechronicleRow[]> {
  const { rows } = await db.query<KubechronicleRow>(
    `SELECT id, namespace, name, allowed, actor->>'username' AS username, (exec_metadata->>'audit_id_reused')::boolean AS audit_id_reused
     FROM change_events WHERE operation = 'EXEC' AND actor->>'username' = $1 ORDER BY timestamp DESC`,
    [user],
  );
  return rows;
}

async function allSessions(db: Database): Promise<KubechronicleRow[]> {
  const { rows } = await db.query<KubechronicleRow>(
    `SELECT id, namespace, name, allowed, actor->>'username' AS username, (exec_metadata->>'audit_id_reused')::boolean AS audit_id_reused
     FROM change_events WHERE operation = 'EXEC' ORDER BY id`,
  );
  return rows;
}

for (const backend of backends) {
  describe(`session identity on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('a decoy exec reusing the Audit-ID of an exec into prod/db-0 leaves both sessions, each its own', async () => {
      const auditID = 'reused-1';
      const real = stagesOf(execStages({ auditID, user: 'mallory@example.com', namespace: 'prod', pod: 'db-0', command: ['sh'], received: '2025-10-19T14:41:05.123456Z' }));
      const decoy = stagesOf(execStages({ auditID, user: 'mallory@example.com', namespace: 'dev', pod: 'toy-0', command: ['ls'], received: '2025-10-19T14:41:09.000001Z' }));
      const writer = new SessionWriter(db);
      const first = await writer.write(real);
      const second = await writer.write(decoy);
      assert.equal(first.inserted, 1);
      assert.equal(second.inserted, 1);
      assert.equal(second.auditIdReused, 1, 'the second request is counted as a reuse');

      const rows = await sessionsOfUser(db, 'mallory@example.com');
      assert.deepEqual(
        rows.map((r) => [r.namespace, r.name, r.allowed, r.audit_id_reused]).sort(),
        [['dev', 'toy-0', true, true], ['prod', 'db-0', true, true]],
      );
      const ids = rows.map((r) => r.id).sort();
      assert.equal(ids[0], 'EXEC::reused-1', 'the first request keeps kubechronicle\'s id');
      assert.match(ids[1]!, /^EXEC::reused-1:reuse-[0-9a-f]{12}$/);

      // Read again, in the other order, in one batch: nothing changes.
      const again = await writer.write([...decoy, ...real]);
      assert.equal(again.inserted, 0);
      assert.equal(again.updated, 0);
      assert.equal((await sessionsOfUser(db, 'mallory@example.com')).length, 2);
    });

    it('a 403 sharing an Audit-ID with a 101 does not flip the allowed session', async () => {
      const auditID = 'reused-2';
      const allowed = stagesOf(execStages({ auditID, user: 'bob@example.com', namespace: 'prod', pod: 'api-0', code: 101, received: '2025-10-19T15:00:00.000001Z' }));
      const denied = stagesOf(execStages({ auditID, user: 'eve@example.com', namespace: 'prod', pod: 'api-0', code: 403, received: '2025-10-19T15:00:00.500000Z' }));
      // Both in one batch, the denied one first: the batch must still give two rows.
      const result = await new SessionWriter(db).write([...denied, ...allowed]);
      assert.equal(result.sessions, 2);
      assert.equal(result.inserted, 2);
      const bob = await sessionsOfUser(db, 'bob@example.com');
      const eve = await sessionsOfUser(db, 'eve@example.com');
      assert.deepEqual(bob.map((r) => r.allowed), [true]);
      assert.deepEqual(eve.map((r) => r.allowed), [false]);
      assert.ok(bob[0]!.audit_id_reused && eve[0]!.audit_id_reused);
    });

    it('stages of one request stay one session whatever their order and batching', async () => {
      const stages = stagesOf(execStages({ auditID: 'one-request', user: 'carol@example.com', received: '2025-10-19T16:00:00.000001Z' }));
      assert.equal(stages.length, 2);
      const writer = new SessionWriter(db);
      await writer.write([stages[1]!]);
      await writer.write([stages[0]!]);
      const rows = await sessionsOfUser(db, 'carol@example.com');
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.id, 'EXEC::one-request');
      assert.equal(rows[0]!.audit_id_reused, null);
    });

    it('two writers storing two requests of one Audit-ID at the same time give two rows, never an error', async () => {
      const writers = [new SessionWriter(db), new SessionWriter(db)];
      const requests: SessionRow[][] = [];
      for (let i = 0; i < 20; i++) {
        requests.push(stagesOf(execStages({ auditID: `race-${i}`, user: 'dave@example.com', pod: 'a-0', received: '2025-10-19T17:00:00.000001Z' })));
        requests.push(stagesOf(execStages({ auditID: `race-${i}`, user: 'dave@example.com', pod: 'b-0', received: '2025-10-19T17:00:00.000002Z' })));
      }
      await Promise.all(requests.map((rows, i) => writers[i % 2]!.write(rows)));
      const rows = (await allSessions(db)).filter((r) => r.username === 'dave@example.com');
      assert.equal(rows.length, 40);
      for (let i = 0; i < 20; i++) {
        const pair = rows.filter((r) => r.id === `EXEC::race-${i}` || r.id.startsWith(`EXEC::race-${i}:reuse-`));
        assert.deepEqual(pair.map((r) => r.name).sort(), ['a-0', 'b-0'], `race-${i}`);
      }
    });
  });
}

for (const backend of backends) {
  describe(`a session the database refuses, on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('is skipped and counted, and every other session of its batch is stored', async () => {
      const good = Array.from({ length: 9 }, (_, i) => stagesOf(execStages({ auditID: `good-${i}`, user: 'frank@example.com' }))).flat();
      // src/audit bounds every value; a row built past it stands for whatever the database may still refuse.
      const [refusable] = stagesOf(execStages({ auditID: 'refused', user: 'frank@example.com' }));
      const tooLong: SessionRow = { ...refusable!, namespace: 'n'.repeat(300) };
      const result = await new SessionWriter(db).write([...good.slice(0, 7), tooLong, ...good.slice(7)]);
      assert.equal(result.refused, 1);
      assert.deepEqual(result.refusedCodes, ['22001']);
      assert.equal(result.inserted, 9);
      const rows = await sessionsOfUser(db, 'frank@example.com');
      assert.deepEqual(rows.map((r) => r.id).sort(), Array.from({ length: 9 }, (_, i) => `EXEC::good-${i}`));
    });
  });
}
