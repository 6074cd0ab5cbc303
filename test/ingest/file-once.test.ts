/**
 * `audit-processor -once` on files (issue 4, acceptance 5 and 6, plus start position, garbage and
 * progress), through the real command on PGlite and Postgres: what a user running a backfill sees.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { createTestDatabaseTarget, preferredBackend, type TestDatabaseTarget } from '../support/databases.ts';
import { collect, runProcessor, startProcessor, waitForLogLine, type CliResult } from '../support/cli.ts';
import { appendLines, expectedSessions, generateAuditLines, lumberjackName, storedSessions, tempDir } from './file-support.ts';

interface LogLine {
  msg: string;
  file?: string;
  lines?: number;
  doneBytes?: number;
  totalBytes?: number;
  mbPerSecond?: number;
}

function logLines(result: CliResult): LogLine[] {
  return result.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

async function sessionsIn(target: TestDatabaseTarget, cluster = '') {
  const db = await target.open();
  try {
    return await storedSessions(db, cluster);
  } finally {
    await db.close();
  }
}

/** An exec event line with `padBytes` of padding in an annotation: a large but valid audit event. */
function paddedLine(auditId: string, padBytes: number): string {
  const [template] = generateAuditLines(1, 'pad');
  const event = JSON.parse(template!) as { auditID: string; annotations?: Record<string, string> };
  event.auditID = auditId;
  event.annotations = { ...event.annotations, 'example.com/padding': 'x'.repeat(padBytes) };
  return JSON.stringify(event);
}

// What a user running a backfill sees, from the command line; the backend is not what these test (the
// file source and the writer run on both in file-follow, file-backpressure and file-experiment).
{
  const backend = preferredBackend;
  describe(`audit-processor -once on log files, ${backend}`, () => {
    let target: TestDatabaseTarget;
    before(async () => (target = await createTestDatabaseTarget(backend)));
    after(() => target?.destroy());

    it('a directory of 100 rotated files plus .gz copies: read oldest first, each once, then nothing on a second run', async () => {
      const dir = tempDir('once-100');
      const perFile = 30;
      const lines = generateAuditLines(101 * perFile, 'hundred');
      const start = Date.parse('2024-03-01T00:00:00Z');
      const backupNames: string[] = [];
      for (let i = 0; i < 100; i++) {
        const name = lumberjackName(new Date(start + i * 3_600_000));
        backupNames.push(name);
        const content = lines.slice(i * perFile, (i + 1) * perFile).map((l) => l + '\n').join('');
        // 70 backups as plain + .gz (compression done, plain not yet deleted), 30 as .gz only.
        if (i % 10 < 7) {
          writeFileSync(join(dir, name), content);
          // mtimes say nothing about the order (gzip and copies reset them): the names do.
          const mtime = new Date(start + ((i * 7919) % 100) * 3_600_000);
          utimesSync(join(dir, name), mtime, mtime);
        }
        writeFileSync(join(dir, `${name}.gz`), gzipSync(content));
      }
      appendLines(join(dir, 'audit.log'), lines.slice(100 * perFile));

      const result = await runProcessor(['-audit-log-dir', dir, '-once', ...target.flags]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /stored \d+ session rows/);
      assert.match(result.stdout, new RegExp(`read ${lines.length} lines from 101 files`));
      assert.match(result.stdout, /70 compressed copies of files already read skipped/);

      const logs = logLines(result);
      const readOrder = logs.filter((l) => l.msg.startsWith('read ') && l.file).map((l) => l.file!.split('/').pop()!.replace(/\.gz$/, ''));
      assert.deepEqual(readOrder, [...backupNames, 'audit.log'], 'each file read once, oldest first, the live file last');
      assert.equal(logs.filter((l) => l.msg.startsWith('skipped ') && l.file?.endsWith('.gz')).length, 70);

      // Nothing is read again: not the plain files, not their .gz copies, not the .gz-only backups.
      const second = await runProcessor(['-audit-log-dir', dir, '-once', ...target.flags]);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /stored 0 session rows/);
      assert.match(second.stdout, /read 0 lines from 0 files/);
      assert.deepEqual(await sessionsIn(target), expectedSessions(lines, ''), 'every session of the 101 files, each once');
      rmSync(dir, { recursive: true, force: true });
    });

    it('shows progress (bytes done of total, MB/s, time left) while a backlog is read', { skip: backend === 'pglite' ? 'needs PostgreSQL (TEST_DATABASE_URL) to hold the backlog\'s first commit from outside the processor' : false }, async () => {
      const dir = tempDir('once-progress');
      const path = join(dir, 'audit.log');
      appendLines(path, generateAuditLines(10_000, 'progress'));
      const size = readFileSync(path).length;
      // The backlog cannot finish while its first commit waits on this lock: progress must be reported.
      const locker = new pg.Client({ connectionString: target.databaseUrl });
      await locker.connect();
      let result: CliResult;
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE change_events IN EXCLUSIVE MODE');
        const child = startProcessor(['-audit-log-file', path, '-once', '-progress-interval', '100ms', '-cluster', 'progress', ...target.flags]);
        const done = collect(child);
        await waitForLogLine(child, /"msg":"reading backlog: [1-9]/);
        await locker.query('COMMIT');
        result = await done;
      } finally {
        await locker.end();
      }
      assert.equal(result.code, 0, result.stderr);
      const progress = logLines(result).filter((l) => l.msg.startsWith('reading backlog: '));
      assert.ok(progress.length >= 1, `no progress line in:\n${result.stderr}`);
      for (const p of progress) {
        assert.equal(p.totalBytes, size);
        assert.ok(p.doneBytes! >= 0 && p.doneBytes! <= size);
        assert.match(p.msg, /MB \(\d+ %\), [\d.]+ MB\/s, (about .* left|time left unknown)/);
      }
      assert.ok(progress.some((p) => p.doneBytes! > 0 && p.mbPerSecond! > 0), 'bytes done and a rate once reading started');
      assert.match(result.stdout, /read 10000 lines from 1 file \([\d.]+ MB\) in [\d.]+m?s, [\d.]+ MB\/s/);
      rmSync(dir, { recursive: true, force: true });
    });

    it('a 5 MiB line is stored, a 20 MiB line (over -max-line-bytes) is counted and skipped, the next line is stored', async () => {
      const dir = tempDir('once-long');
      const path = join(dir, 'audit.log');
      const [next] = generateAuditLines(1, 'after-long');
      writeFileSync(path, [paddedLine('long-5mib', 5 * 1024 * 1024), paddedLine('long-20mib', 20 * 1024 * 1024), next].join('\n') + '\n');
      const result = await runProcessor(['-audit-log-file', path, '-once', '-cluster', 'long', ...target.flags]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /bad input: line-too-long=1\)/);
      assert.match(result.stdout, /1 over-long line skipped/);
      const warning = logLines(result).find((l) => l.msg.includes('longer than -max-line-bytes'));
      assert.ok(warning, 'the skipped line is logged');
      const ids = [...(await sessionsIn(target, 'long')).keys()];
      assert.deepEqual(ids.sort(), ['EXEC:long:long-5mib', expectedSessions([next!], 'long').keys().next().value].sort());
      rmSync(dir, { recursive: true, force: true });
    });

    it('invalid UTF-8, NUL-filled blocks and non-JSON lines are counted and skipped; the lines after them are stored', async () => {
      const dir = tempDir('once-garbage');
      const path = join(dir, 'audit.log');
      const good = generateAuditLines(30, 'garbage');
      appendLines(path, good.slice(0, 10));
      appendFileSync(path, Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x7b, 0x0a])); // not UTF-8
      appendFileSync(path, Buffer.alloc(4096)); // zero-filled block left by a crash, then a line
      appendLines(path, good.slice(10, 20));
      appendFileSync(path, 'this is not json, it mentions exec\n');
      appendLines(path, good.slice(20));
      const result = await runProcessor(['-audit-log-file', path, '-once', '-cluster', 'garbage', ...target.flags]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /bad input: (?=.*invalid-utf8=1)(?=.*binary=1)(?=.*not-json=1)/);
      // The NUL block has no newline of its own: it is dropped, and the line written after it kept.
      assert.deepEqual(await sessionsIn(target, 'garbage'), expectedSessions(good, 'garbage'));
      rmSync(dir, { recursive: true, force: true });
    });

    it('-start-at=end skips what a never-seen file holds at startup; the next run reads what was appended', async () => {
      const dir = tempDir('once-start-at');
      const path = join(dir, 'audit.log');
      const [old, fresh] = [generateAuditLines(50, 'old'), generateAuditLines(50, 'new')];
      appendLines(path, old);
      const first = await runProcessor(['-audit-log-file', path, '-once', '-start-at', 'end', '-cluster', 'start-at', ...target.flags]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /read 0 lines/);
      appendLines(path, fresh);
      const second = await runProcessor(['-audit-log-file', path, '-once', '-start-at', 'end', '-cluster', 'start-at', ...target.flags]);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /read 50 lines/);
      assert.deepEqual(await sessionsIn(target, 'start-at'), expectedSessions(fresh, 'start-at'));
      rmSync(dir, { recursive: true, force: true });
    });
  });
}
