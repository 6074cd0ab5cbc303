/**
 * When the store is slow or gone: reading pauses while batches wait to be committed (bounded
 * memory), and a database outage loses nothing; lines appended meanwhile are stored once it is back.
 */
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { CheckpointStore } from '../../src/ingest/checkpoints.ts';
import { createAuditFileSource } from '../../src/ingest/audit-file-source.ts';
import { CUTS_AHEAD } from '../../src/ingest/file-reader.ts';
import { FileSource } from '../../src/ingest/file-source.ts';
import { linesOf, type LineBatch } from '../../src/ingest/line-sink.ts';
import type { Database } from '../../src/store/database.ts';
import { adminQuery, backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { appendLines, generateAuditLines, lumberjackName, tempDir, waitFor, waitForStoredSessions } from './file-support.ts';

for (const backend of backends) {
  describe(`file source when the store falls behind, ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('pauses reading while batches wait to be committed, then reads on', async () => {
      const dir = tempDir('backpressure');
      const path = join(dir, 'audit.log');
      const lines = generateAuditLines(30_000, 'bp'); // about 28 MB
      appendLines(path, lines);
      const size = statSync(path).size;
      const chunk = 1024 * 1024;
      const batches: LineBatch[] = [];
      // The sink commits nothing until the test says so; at each hand-over the source may be ahead of
      // what is committed by one batch being committed and two more read (maxBatchesInFlight 2).
      const waiting: (() => void)[] = [];
      let committed = 0;
      let mostUncommitted = 0;
      let mostReadAhead = 0;
      const source = new FileSource({
        files: [{ file: path }],
        sink: {
          write: async (batch) => {
            batches.push(batch);
            mostUncommitted = Math.max(mostUncommitted, batches.length - committed);
            const committedEnd = committed > 0 ? batches[committed - 1]!.endOffset : 0;
            mostReadAhead = Math.max(mostReadAhead, source.snapshotStats().diskBytesRead - committedEnd);
            await new Promise<void>((resolve) => waiting.push(resolve));
            committed++;
          },
        },
        checkpoints: new CheckpointStore(db, 'backpressure', 'audit'),
        metrics: createMetrics(),
        logger: silentLogger,
        readChunkBytes: chunk,
        maxBatchesInFlight: 2,
      });
      const run = source.runOnce();
      let done = false;
      void run.finally(() => (done = true));
      // Commit one batch at a time, and only once the source has read all it may (three batches waiting)
      // or the whole file: reading never runs ahead of what is committed by more than that.
      while (!done) {
        await waitFor('the source to wait for a commit', () => done || waiting.length >= 3 || (waiting.length > 0 && source.snapshotStats().diskBytesRead === size));
        waiting.shift()?.();
      }
      const stats = await run;
      assert.equal(mostUncommitted, 3, 'three batches were handed over before the first was committed, and no more');
      // Bounded memory: the three batches handed over, the CUTS_AHEAD chunks being cut behind them, plus the
      // unfinished line carried over.
      const longestLine = Math.max(...lines.map((l) => Buffer.byteLength(l) + 1));
      assert.ok(mostReadAhead <= (3 + CUTS_AHEAD) * chunk + longestLine, `read up to ${mostReadAhead} bytes past the last committed batch`);
      assert.equal(stats.linesRead, lines.length);
      assert.equal(batches.reduce((n, b) => n + linesOf(b).length, 0), lines.length);
      // Positions only move forward, batch after batch, to the end of the file.
      const ends = batches.map((b) => b.endOffset);
      assert.deepEqual(ends, [...ends].sort((a, b) => a - b));
      assert.equal(ends.at(-1), size);
    });

    it('a stop in the middle of a .gz backlog leaves it unfinished; after the restart the rest is read, nothing twice', async () => {
      const dir = tempDir('stop-gz');
      const lines = generateAuditLines(20_000, 'stopgz'); // about 19 MB of text, 19 batches of 1 MiB
      writeFileSync(join(dir, `${lumberjackName(new Date('2024-07-01T00:00:00Z'))}.gz`), gzipSync(lines.map((l) => l + '\n').join('')));
      const received: string[] = [];
      // The first run's sink commits its first batch, then holds the others until the stop is requested.
      let held: (() => void)[] | undefined = [];
      const sourceFor = (holdAfterFirst: boolean) =>
        new FileSource({
          files: [{ dir }],
          sink: {
            write: async (batch) => {
              if (holdAfterFirst && received.length > 0 && held) await new Promise<void>((resolve) => held!.push(resolve));
              for (const line of linesOf(batch)) received.push(line.toString());
            },
          },
          checkpoints: new CheckpointStore(db, 'stop-gz', 'audit'),
          metrics: createMetrics(),
          logger: silentLogger,
          readChunkBytes: 1024 * 1024,
        });
      const first = sourceFor(true);
      const starting = first.start();
      await waitFor('a first batch committed', () => received.length > 0);
      const stopping = first.stop();
      for (const release of held!.splice(0)) release();
      held = undefined;
      await stopping;
      await starting;
      const { rows } = await db.query<{ offset: number; completed: boolean }>(
        `SELECT "offset", completed FROM file_checkpoints WHERE cluster = 'stop-gz'`,
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.completed, false, 'a .gz stopped midway is not completed');
      assert.ok(received.length < lines.length, `the stop ended the read at a batch boundary (${received.length} of ${lines.length} lines)`);

      const second = sourceFor(false);
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
        await waitForStoredSessions(db, cluster, before);
        // The database refuses connections and drops the ones it has: every write fails.
        await adminQuery(`ALTER DATABASE ${ours} ALLOW_CONNECTIONS false`);
        await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${ours}' AND pid <> pg_backend_pid()`);
        appendLines(path, during);
        // The source tried to store them, failed, and said it will retry.
        await waitFor('the failed write to be reported', () =>
          logged.some((l) => l.includes('reading log files failed') && l.includes('nothing past the last saved position is lost, retrying')),
        );
        await adminQuery(`ALTER DATABASE ${ours} ALLOW_CONNECTIONS true`);
        await waitForStoredSessions(db, cluster, [...before, ...during], 30_000);
      } finally {
        await adminQuery(`ALTER DATABASE ${ours} ALLOW_CONNECTIONS true`).catch(() => undefined);
        await source.stop();
      }
    });
  });
}
