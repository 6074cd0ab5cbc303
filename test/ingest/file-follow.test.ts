/**
 * Following audit logs as they are written (issue 4, acceptance 1-3): the real file source with its
 * chokidar watcher and periodic stat, the audit sink and SessionWriter, on PGlite and Postgres.
 * Files are really appended, renamed, gzipped, copied and truncated on disk while it runs.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, renameSync, truncateSync, unlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { silentLogger } from '../../src/observe/log.ts';
import { counterByLabel, counterValue, createMetrics, type Metrics } from '../../src/observe/metrics.ts';
import { createAuditFileSource } from '../../src/ingest/audit-file-source.ts';
import type { FileSource } from '../../src/ingest/file-source.ts';
import type { Database } from '../../src/store/database.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { appendLines, expectedSessions, generateAuditLines, lumberjackName, sleep, storedSessions, tempDir, waitFor, waitForStoredSessions } from './file-support.ts';

interface Following {
  source: FileSource;
  metrics: Metrics;
  stop(): Promise<void>;
}

async function follow(db: Database, cluster: string, where: { file?: string; dir?: string }): Promise<Following> {
  const metrics = createMetrics();
  const source = createAuditFileSource({
    db,
    flags: {
      'audit-log-file': where.file ?? '',
      'audit-log-dir': where.dir ?? '',
      'start-at': 'beginning',
      'max-line-bytes': 16 * 1024 * 1024,
      'progress-interval': 0,
      cluster,
    },
    metrics,
    logger: silentLogger,
  });
  await source.start();
  return { source, metrics, stop: () => source.stop() };
}

/** Appends lines one by one, `gapMs` apart (1 ms: faster than chokidar reports changes). */
async function appendSlowly(path: string, lines: readonly string[], gapMs = 1): Promise<void> {
  for (const line of lines) {
    appendFileSync(path, line + '\n');
    await sleep(gapMs);
  }
}

const waitForSessions = waitForStoredSessions;

/**
 * Appends `count` new lines one at a time, each stored before the next is written, and returns them.
 * Passes run one after another, so once the second is stored the pass that read the first (and looked at
 * every file as it was when that line was written) has finished: what it did or did not read is final.
 */
async function readThrough(following: Following, db: Database, cluster: string, path: string, before: string[], count: number, prefix: string): Promise<string[]> {
  const written: string[] = [];
  for (let i = 0; i < count; i++) {
    const [line] = generateAuditLines(1, `${prefix}${i}`);
    appendLines(path, [line!]);
    written.push(line!);
    await waitForSessions(db, cluster, [...before, ...written]);
  }
  return written;
}

/** Index i where line i is ResponseStarted and line i+1 the ResponseComplete of the same session. */
function straddlePoint(lines: readonly string[], from: number): number {
  for (let i = from; i < lines.length - 1; i++) {
    const id = /"auditID":"([^"]*)"/.exec(lines[i]!)?.[1];
    if (lines[i]!.includes('"stage":"ResponseStarted"') && lines[i + 1]!.includes('"stage":"ResponseComplete"') && lines[i + 1]!.includes(`"auditID":"${id}"`)) return i;
  }
  throw new Error('no session with ResponseStarted followed by ResponseComplete in the generated lines');
}

for (const backend of backends) {
  describe(`following audit logs on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('stores every line appended in bursts 1 ms apart, to a file created after start', async () => {
      const dir = tempDir('follow-bursts');
      const path = join(dir, 'audit.log');
      const cluster = 'bursts';
      const following = await follow(db, cluster, { file: path });
      try {
        const lines = generateAuditLines(400, 'burst');
        for (let burst = 0; burst < 10; burst++) {
          await appendSlowly(path, lines.slice(burst * 40, burst * 40 + 40));
          await sleep(30);
        }
        await waitForSessions(db, cluster, lines);
        await waitFor('all 400 lines read', async () => (await counterValue(following.metrics.linesRead)) === 400);
        assert.deepEqual(await counterByLabel(following.metrics.badInput, 'reason'), {});
      } finally {
        await following.stop();
      }
    });

    it('stores a line written in two halves once, after its newline arrives', async () => {
      const dir = tempDir('follow-halves');
      const path = join(dir, 'audit.log');
      const cluster = 'halves';
      const before = generateAuditLines(30, 'before');
      writeFileSync(path, before.map((l) => l + '\n').join(''));
      const following = await follow(db, cluster, { file: path });
      try {
        await waitForSessions(db, cluster, before);
        const [line] = generateAuditLines(1, 'split');
        const cut = Math.floor(line!.length / 2);
        appendFileSync(path, line!.slice(0, cut));
        // The source has read the half and holds it, waiting for its newline: it must not be stored.
        await waitFor('the half line read and held', () => following.source.snapshotStats().partialLineBytes === cut);
        assert.equal(await counterValue(following.metrics.linesRead), 30);
        assert.equal((await storedSessions(db, cluster)).size, expectedSessions(before, cluster).size);
        appendFileSync(path, line!.slice(cut) + '\n');
        await waitForSessions(db, cluster, [...before, line!]);
        await waitFor('31 lines read', async () => (await counterValue(following.metrics.linesRead)) === 31);
        // A half parsed on its own would have been counted as not-json.
        assert.deepEqual(await counterByLabel(following.metrics.badInput, 'reason'), {});
      } finally {
        await following.stop();
      }
    });

    for (const mode of ['dir', 'file'] as const) {
      it(`-audit-log-${mode}: rename-and-recreate mid-stream, gzip of the backup, deletion of the plain backup: every session once`, async () => {
        const dir = tempDir(`follow-rotate-${mode}`);
        const live = join(dir, 'audit.log');
        const backup = join(dir, lumberjackName(new Date('2024-05-02T09:20:00Z')));
        const cluster = `rotate-${mode}`;
        const lines = generateAuditLines(600, `rot${mode}`);
        const cutAfter = straddlePoint(lines, 300);
        const straddling = /"auditID":"([^"]*)"/.exec(lines[cutAfter]!)![1]!;
        appendLines(live, lines.slice(0, 100));
        const following = await follow(db, cluster, mode === 'dir' ? { dir } : { file: live });
        try {
          await appendSlowly(live, lines.slice(100, cutAfter + 1));
          // lumberjack: rename the live file, create a new one, keep writing. No pause: lines just
          // written to the old file are only reachable through the handle still open on it.
          renameSync(live, backup);
          writeFileSync(live, '');
          await appendSlowly(live, lines.slice(cutAfter + 1));
          await waitForSessions(db, cluster, lines);
          await waitFor('600 lines read', async () => (await counterValue(following.metrics.linesRead)) === 600);

          // --audit-log-compress: the backup is gzipped in the background, then the plain one deleted.
          writeFileSync(`${backup}.gz`, gzipSync(readFileSync(backup)));
          if (mode === 'dir') await waitFor('the .gz known as the backup already read', () => following.source.snapshotStats().copiesSkipped === 1);
          unlinkSync(backup);
          // Two more lines, each waited for: the pass that read the first saw the directory as it is
          // now, and it has finished once the second is read.
          const markers = await readThrough(following, db, cluster, live, [...lines], 2, `rot${mode}-marker`);
          assert.equal(await counterValue(following.metrics.linesRead), 602, 'no line read twice');
          await waitForSessions(db, cluster, [...lines, ...markers]);
          const { rows } = await db.query<{ exec_metadata: { stages: string[]; ended_at: string | null } }>(
            `SELECT exec_metadata FROM change_events WHERE cluster = $1 AND audit_id = $2`,
            [cluster, straddling],
          );
          assert.equal(rows.length, 1, 'the session split by the rotation is one row');
          // Its ResponseStarted went to the backup and its ResponseComplete to the new file: both are in it.
          const [, split] = [...expectedSessions(lines, cluster)].find(([id]) => id.endsWith(`:${straddling}`))!;
          assert.deepEqual(rows[0]!.exec_metadata.stages, split.stages);
          assert.ok(rows[0]!.exec_metadata.stages.includes('ResponseStarted') && rows[0]!.exec_metadata.stages.includes('ResponseComplete'));
          assert.notEqual(rows[0]!.exec_metadata.ended_at, null);
          assert.deepEqual(await counterByLabel(following.metrics.badInput, 'reason'), {});
        } finally {
          await following.stop();
        }
      });
    }

    it('copytruncate: lines written after the truncation are stored, none before it twice', async () => {
      const dir = tempDir('follow-copytruncate');
      const live = join(dir, 'audit.log');
      const cluster = 'copytruncate';
      const [a, b, c] = [generateAuditLines(200, 'ct-a'), generateAuditLines(200, 'ct-b'), generateAuditLines(20, 'ct-c')];
      appendLines(live, a);
      const following = await follow(db, cluster, { file: live });
      try {
        await waitForSessions(db, cluster, a);
        // logrotate copytruncate: copy, then truncate in place (same inode), writer keeps appending.
        copyFileSync(live, `${live}.1`);
        truncateSync(live, 0);
        await appendSlowly(live, b);
        await waitForSessions(db, cluster, [...a, ...b]);
        await waitFor('400 lines read', async () => (await counterValue(following.metrics.linesRead)) === 400);
        assert.equal(following.source.snapshotStats().truncations, 1);

        // Truncated again and rewritten starting with the same first line: the fingerprint does not
        // change, the size below our position still tells. (Rewritten past our position with the
        // same first line cannot be told from appending; audit lines carry unique auditIDs.)
        truncateSync(live, 0);
        await waitFor('the second truncation seen', () => following.source.snapshotStats().truncations === 2);
        appendLines(live, [b[0]!, ...c]);
        await waitForSessions(db, cluster, [...a, ...b, ...c]);
        await waitFor('421 lines read', async () => (await counterValue(following.metrics.linesRead)) === 421);
        assert.equal(following.source.snapshotStats().truncations, 2);
        // Two more lines, each waited for: a whole pass has looked at the file since; nothing was read twice.
        const markers = await readThrough(following, db, cluster, live, [...a, ...b, ...c], 2, 'ct-marker');
        assert.equal(await counterValue(following.metrics.linesRead), 423, 'nothing read twice');
        await waitForSessions(db, cluster, [...a, ...b, ...c, ...markers]);
      } finally {
        await following.stop();
      }
    });
  });
}
