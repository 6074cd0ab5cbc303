/**
 * The outbox on both backends: recorded with the transaction that causes it (a rollback leaves
 * nothing), numbered per session even when two transactions change one session at once, claimed in
 * sequence order, and pruned only once settled long ago. And -export-header values read from files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OutboxStore, recordChanges } from '../../src/export/outbox.ts';
import { parseHeaders } from '../../src/export/start.ts';
import type { Database } from '../../src/store/database.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';

const outputs = ['file:/a', 'url:collector:0123456789ab'];

for (const backend of backends) {
  describe(`the export outbox on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('commits and rolls back with the change that causes it', async () => {
      await assert.rejects(
        db.transaction(async (tx) => {
          await recordChanges(tx, [{ sessionId: 'rolled-back', event: 'opened' }], outputs);
          throw new Error('the session write failed');
        }),
        /the session write failed/,
      );
      await db.transaction((tx) => recordChanges(tx, [{ sessionId: 'kept', event: 'opened' }], outputs));
      const { rows } = await db.query<{ session_id: string; n: number }>(`SELECT session_id, count(*)::int AS n FROM export_deliveries WHERE session_id IN ('kept', 'rolled-back') GROUP BY session_id`);
      assert.deepEqual(rows, [{ session_id: 'kept', n: 2 }]);
    });

    it('numbers each session\'s documents 1, 2, 3 even when transactions change it at once', async () => {
      await Promise.all(
        Array.from({ length: 6 }, (_, i) => db.transaction((tx) => recordChanges(tx, [{ sessionId: 'busy', event: i === 0 ? 'opened' : 'updated' }, { sessionId: `other-${i}`, event: 'ended' }], outputs))),
      );
      const { rows } = await db.query<{ sequence: number }>(`SELECT sequence FROM export_documents WHERE session_id = 'busy' ORDER BY sequence`);
      assert.deepEqual(rows.map((r) => r.sequence), [1, 2, 3, 4, 5, 6]);
      const ids = await db.query<{ n: number }>(`SELECT count(DISTINCT delivery_id)::int AS n FROM export_documents WHERE session_id = 'busy'`);
      assert.equal(ids.rows[0]!.n, 6);
    });

    it('claims a session\'s next document only once the one before is settled', async () => {
      const store = new OutboxStore(db);
      await db.query(`UPDATE export_deliveries SET next_attempt_at = now() - interval '1 second'`);
      const first = await store.claim(outputs[0]!, 100, 10_000);
      const busy = first.filter((c) => c.sessionId === 'busy');
      assert.deepEqual(busy.map((c) => c.sequence), [1], 'one document of a session per claim');
      assert.deepEqual(await store.claim(outputs[0]!, 100, 10_000), [], 'leased rows are not claimed twice, and nothing overtakes them');
      await store.delivered(outputs[0]!, first);
      await db.query(`UPDATE export_deliveries SET next_attempt_at = now() - interval '1 second' WHERE state = 'pending'`);
      assert.deepEqual((await store.claim(outputs[0]!, 100, 10_000)).map((c) => `${c.sessionId}#${c.sequence}`), ['busy#2']);
      // The other output has its own state: its first documents are still there to claim.
      assert.ok((await store.claim(outputs[1]!, 100, 10_000)).some((c) => c.sessionId === 'busy' && c.sequence === 1));
    });

    it('deletes documents only once every delivery settled long ago', async () => {
      const store = new OutboxStore(db);
      await db.query(`UPDATE export_deliveries SET state = 'delivered', done_at = now() - interval '8 days' WHERE session_id = 'kept'`);
      await db.query(`UPDATE export_documents SET created_at = now() - interval '8 days' WHERE session_id IN ('kept', 'busy')`);
      assert.equal(await store.prune(), 1);
      const left = await db.query<{ session_id: string }>(`SELECT DISTINCT session_id FROM export_documents WHERE session_id IN ('kept', 'busy')`);
      assert.deepEqual(left.rows.map((r) => r.session_id), ['busy'], 'pending documents stay');
      assert.equal((await db.query(`SELECT 1 FROM export_deliveries WHERE session_id = 'kept'`)).rows.length, 0);
    });
  });
}

describe('-export-header', () => {
  const dir = mkdtempSync(join(tmpdir(), 'exectrail-headers-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('takes a value, a file, or a prefix and a file', async () => {
    writeFileSync(join(dir, 'token'), 's3cret-token\n');
    assert.deepEqual(
      await parseHeaders(['X-Plain: a, b', `Authorization: Splunk @${join(dir, 'token')}`, `X-Token:@${join(dir, 'token')}`, 'X-Mail: ops@example.com']),
      { 'X-Plain': 'a, b', Authorization: 'Splunk s3cret-token', 'X-Token': 's3cret-token', 'X-Mail': 'ops@example.com' },
    );
  });

  it('says what is wrong without quoting the value', async () => {
    await assert.rejects(parseHeaders(['no colon here']), /-export-header takes 'Name: value'/);
    await assert.rejects(parseHeaders([`Authorization: Bearer @${join(dir, 'missing')}`]), /-export-header Authorization: cannot read .*missing \(ENOENT\); check the path/);
    writeFileSync(join(dir, 'empty'), '\n');
    await assert.rejects(parseHeaders([`Authorization: @${join(dir, 'empty')}`]), /is empty; put the value/);
  });
});
