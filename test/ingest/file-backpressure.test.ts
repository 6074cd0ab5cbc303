/**
 * When the store is slow or gone: reading pauses while batches wait to be committed (bounded
 * memory), and a database outage loses nothing; lines appended meanwhile are stored once it is back.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { silentLogger } from '../../src/observe/log.ts';
import { counterValue, createMetrics } from '../../src/observe/metrics.ts';
import { CheckpointStore } from '../../src/ingest/checkpoints.ts';
import { createAuditFileSource } from '../../src/ingest/audit-file-source.ts';
import { FileSource } from '../../src/ingest/file-source.ts';
import type { LineBatch } from '../../src/ingest/line-sink.ts';
import type { Database } from '../../src/store/database.ts';
import { adminQuery, backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { appendLines, expectedSessions, generateAuditLines, lumberjackName, sleep, storedSessions, tempDir, waitFor } from './file-support.ts';

for (const backend of backends) {
  describe(`file source when the store falls behind, ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('pauses reading while batches wait to be committed, then reads on', async () => {
      const dir = tempDir('backpressure');
      const path = join(dir, 'audit.log');
      const lines = generateAuditLines(30_000, 'bp'); // about 37 MB
      appendLines(path, lines);
      const batches: LineBatch[] = [];
      let open = false;
      const waiting: (() => void)[] = [];
      const source = new FileSource({
        files: [{ file: path }],
        sink: {
          write: async (batch) => {
            batches.push(batch);
            if (!open) await new Promise<void>((r) => waiting.push(r));
          },
        },
        checkpoints: new CheckpointStore(db, 'backpressure', 'audit'),
        metrics: createMetrics(),
        logger: silentLogger,
        readChunkBytes: 1024 * 1024,
        maxBatchesInFlight: 2,
      });
      const run = source.runOnce();
      // Batch 1 is stuck; 2 more are read and handed over (parsed while it waits); then reading stops.
      await waitFor('three batches handed to the sink', () => batches.length >= 3);
      await sleep(500);
      assert.equal(batches.length, 3);
      assert.ok(source.snapshotStats().diskBytesRead <= 3 * 1024 * 1024, `read ${source.snapshotStats().diskBytesRead} bytes while the sink was stuck`);
      open = true;
      for (const release of waiting.splice(0)) release();
      const stats = await run;
      assert.equal(stats.linesRead, lines.length);
      assert.equal(batches.reduce((n, b) => n + b.lines.length, 0), lines.length);
      // Positions only move forward, batch after batch, to the end of the file.
      const ends = batches.map((b) => b.endOffset);
      assert.deepEqual(ends, [...ends].sort((a, b) => a - b));
    });

    it('a stop in the middle of a .gz backlog leaves it unfinished; after the restart the rest is read, nothing twice', async () => {
      const dir = tempDir('stop-gz');
      const lines = generateAuditLines(20_000, 'stopgz'); // about 25 MB of text
      writeFileSync(join(dir, `${lumberjackName(new Date('2024-07-01T00:00:00Z'))}.gz`), gzipSync(lines.map((l) => l + '\n').join('')));
      const received: string[] = [];
      const sourceFor = (slowMs: number) =>
        new FileSource({
          files: [{ dir }],
          sink: {
            write: async (batch) => {
              await sleep(slowMs);
              for (const line of batch.lines) received.push(line.toString());
            },
          },
          checkpoints: new CheckpointStore(db, 'stop-gz', 'audit'),
          metrics: createMetrics(),
          logger: silentLogger,
          readChunkBytes: 1024 * 1024,
        });
      const first = sourceFor(150);
      const starting = first.start();
      await waitFor('a first batch committed', () => received.length > 0);
      await first.stop();
      await starting;
      const { rows } = await db.query<{ offset: number; completed: boolean }>(
        `SELECT "offset", completed FROM file_checkpoints WHERE cluster = 'stop-gz'`,
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.completed, false, 'a .gz stopped midway is not completed');
      assert.ok(received.length < lines.length, 'the stop came before the end');

      const second = sourceFor(0);
      await second.start();
      await second.stop();
      assert.equal(received.length, lines.length, 'every line once over both runs');
      assert.deepEqual(received, lines);
    });

    it('loses nothing while the database is gone: appended lines are stored once it is back', { skip: backend === 'pglite' ? 'an embedded database cannot go away on its own' : false }, async () => {
      const dir = tempDir('outage');
      const path = join(dir, 'audit.log');
      const cluster = 'outage';
      const [before, during] = [generateAuditLines(300, 'out-a'), generateAuditLines(300, 'out-b')];
      appendLines(path, before);
      const metrics = createMetrics();
      const logged: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
      const source = createAuditFileSource({
        db,
        flags: { 'audit-log-file': path, 'audit-log-dir': '', 'start-at': 'beginning', 'max-line-bytes': 1 << 24, 'progress-interval': 0, cluster },
        metrics,
        logger,
      });
      await source.start();
      const name = new URL(process.env.TEST_DATABASE_URL!).pathname; // the admin database, not ours
      const ours = (await db.query<{ name: string }>('SELECT current_database() AS name')).rows[0]!.name;
      assert.notEqual(`/${ours}`, name);
      try {
        await waitFor('the first lines stored', async () => (await storedSessions(db, cluster)).size === expectedSessions(before, cluster).size);
        // The database refuses connections and drops the ones it has: every write fails.
        await adminQuery(`ALTER DATABASE ${ours} ALLOW_CONNECTIONS false`);
        await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${ours}' AND pid <> pg_backend_pid()`);
        appendLines(path, during);
        await sleep(2500);
        await adminQuery(`ALTER DATABASE ${ours} ALLOW_CONNECTIONS true`);
        await waitFor(
          'the lines appended during the outage stored',
          async () => (await storedSessions(db, cluster).catch(() => new Map())).size === expectedSessions([...before, ...during], cluster).size,
          30_000,
        );
        assert.deepEqual(await storedSessions(db, cluster), expectedSessions([...before, ...during], cluster));
        assert.ok(
          logged.some((l) => l.includes('reading log files failed') && l.includes('nothing past the last saved position is lost, retrying')),
          `the outage was seen and retried:\n${logged.join('')}`,
        );
        assert.equal(await counterValue(metrics.eventsDropped), 0);
      } finally {
        await adminQuery(`ALTER DATABASE ${ours} ALLOW_CONNECTIONS true`).catch(() => undefined);
        await source.stop();
      }
    });
  });
}
