/**
 * What the file source does with files that are broken or planted: a damaged .gz is read once and
 * then left alone until it changes (it was decompressed again every second, forever), garbage inside a
 * read costs only the garbage lines (a read is checked whole, then line by line when it fails), and a link in
 * the log directory pointing outside it is not followed unless -audit-log-follow-symlinks says so.
 * Through the real source, the real audit sink and writer, into both databases.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createAuditIntake } from '../../src/ingest/audit-intake.ts';
import { createAuditSink } from '../../src/ingest/audit-sink.ts';
import { CheckpointStore } from '../../src/ingest/checkpoints.ts';
import { FileSource, type FileSourceOptions } from '../../src/ingest/file-source.ts';
import { counterByLabel, createMetrics, type Metrics } from '../../src/observe/metrics.ts';
import type { Database } from '../../src/store/database.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { captureLogger } from '../runtime/log-capture.ts';
import { allStages, execEvent } from './webhook-support.ts';
import { lumberjackName, tempDir } from './file-support.ts';

/** The audit log lines of `count` exec sessions (three stages each), ids `<prefix>-<n>`. */
function sessionLines(prefix: string, count: number): string[] {
  const lines: string[] = [];
  for (let n = 0; n < count; n++) for (const stage of allStages) lines.push(JSON.stringify(execEvent(`${prefix}-${n}`, stage, { pod: `${prefix}-pod` })));
  return lines;
}

const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('');

async function storedAuditIds(db: Database, cluster: string): Promise<string[]> {
  const { rows } = await db.query<{ audit_id: string }>(`SELECT audit_id FROM change_events WHERE cluster = $1 ORDER BY audit_id`, [cluster]);
  return rows.map((r) => r.audit_id);
}

function sourceFor(db: Database, cluster: string, files: FileSourceOptions['files'], extra: Partial<FileSourceOptions> = {}) {
  const metrics: Metrics = createMetrics();
  const capture = captureLogger();
  const source = new FileSource({
    files,
    sink: createAuditSink({ intake: createAuditIntake({ writer: new SessionWriter(db), metrics, logger: capture.logger }), context: { cluster }, metrics }),
    checkpoints: new CheckpointStore(db, cluster, 'audit'),
    metrics,
    logger: capture.logger,
    ...extra,
  });
  return { source, metrics, lines: capture.lines };
}

for (const backend of backends) {
  describe(`file source with damaged and planted files, ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('a damaged .gz is read once, its lines before the damage stored, then read again only after it changes', async () => {
      const dir = tempDir('damaged-gz');
      const lines = sessionLines('gz', 400);
      const whole = gzipSync(text(lines));
      const path = join(dir, `${lumberjackName(new Date('2024-07-01T00:00:00Z'))}.gz`);
      writeFileSync(path, whole.subarray(0, Math.floor(whole.length * 0.6)));
      // Written an hour ago: not a .gz still being compressed.
      const anHourAgo = new Date(Date.now() - 3_600_000);
      utimesSync(path, anHourAgo, anHourAgo);
      const { source, metrics, lines: logs } = sourceFor(db, 'damaged-gz', [{ dir }]);

      await source.poll();
      const first = source.snapshotStats();
      const storedBefore = await storedAuditIds(db, 'damaged-gz');
      assert.ok(storedBefore.length > 0 && storedBefore.length < 400, `the sessions before the damage are stored (${storedBefore.length})`);
      assert.equal(first.damagedGzip, 1);
      assert.equal((await counterByLabel(metrics.badInput, 'reason'))['damaged-gzip'], 1);

      for (let pass = 0; pass < 3; pass++) await source.poll();
      assert.equal(source.snapshotStats().diskBytesRead, first.diskBytesRead, 'not decompressed again while unchanged');
      assert.equal((await counterByLabel(metrics.badInput, 'reason'))['damaged-gzip'], 1, 'counted once');
      assert.equal(logs().filter((l) => /cannot read .* to its end/.test(l.msg)).length, 1, 'said once');

      // The whole file arrives (size and mtime change): read on from the lines already stored.
      writeFileSync(path, whole);
      await source.poll();
      assert.equal((await storedAuditIds(db, 'damaged-gz')).length, 400, 'every session once the .gz is whole');
      assert.equal((await counterByLabel(metrics.badInput, 'reason'))['damaged-gzip'], 1);
      assert.ok(source.snapshotStats().diskBytesRead > first.diskBytesRead);
      await source.stop();
    });

    it('garbage inside a read (NUL block, invalid UTF-8, non-JSON, a cut line) is counted and the session lines around it stored, lines spanning two reads included, plain and .gz', async () => {
      const sessions = sessionLines('mixed', 30);
      const garbage: Record<number, Buffer> = {
        // The zero-filled block a crash leaves in front of the next line: the block is dropped, the line kept.
        10: Buffer.alloc(300, 0),
        20: Buffer.from([0x7b, 0xc3, 0x28, 0x7d, 0x0a]), // not UTF-8
        30: Buffer.from('not json at all\n'),
        40: Buffer.from('{"kind":"Event","auditID":"cut"\n'),
        50: Buffer.from([0x7b, 0x00, 0x7d, 0x0a]), // a NUL inside a line: the line is dropped
      };
      const content = Buffer.concat(sessions.flatMap((line, i) => [garbage[i] ?? Buffer.alloc(0), Buffer.from(`${line}\n`)]));
      const plainDir = tempDir('garbage-plain');
      writeFileSync(join(plainDir, 'audit.log'), content);
      const gzipDir = tempDir('garbage-gz');
      writeFileSync(join(gzipDir, `${lumberjackName(new Date('2024-07-01T00:00:00Z'))}.gz`), gzipSync(content));
      // Reads of the whole file (the garbage amid clean lines of one read), and far shorter than a line
      // (~1 KB: most lines span two reads).
      for (const [cluster, dir, readChunkBytes] of [
        ['garbage-plain', plainDir, 1024 * 1024],
        ['garbage-gz', gzipDir, 1024 * 1024],
        ['garbage-plain-short', plainDir, 700],
        ['garbage-gz-short', gzipDir, 700],
      ] as const) {
        const { source, metrics } = sourceFor(db, cluster, [{ dir }], { readChunkBytes });
        await source.poll();
        const stats = source.snapshotStats();
        assert.equal((await storedAuditIds(db, cluster)).length, 30, `${cluster}: every session`);
        assert.deepEqual(await counterByLabel(metrics.badInput, 'reason'), { binary: 2, 'invalid-utf8': 1, 'not-json': 2 }, cluster);
        assert.equal(stats.linesRead, sessions.length + 4, `${cluster}: lines read`);
        assert.equal(stats.linesGarbage, 3, cluster);
        await source.stop();
      }
    });

    it('a link in the log directory pointing outside it is not read, and said once; one pointing inside is read', async () => {
      const outside = tempDir('outside');
      const dir = tempDir('links');
      writeFileSync(join(outside, 'secret.log'), text(sessionLines('planted', 2)));
      writeFileSync(join(dir, 'audit.log'), text(sessionLines('live', 2)));
      mkdirSync(join(dir, 'current'));
      writeFileSync(join(dir, 'current', 'audit'), text(sessionLines('inside', 2)));
      symlinkSync(join(outside, 'secret.log'), join(dir, 'shadow.log'));
      symlinkSync(join(dir, 'current', 'audit'), join(dir, 'inside.log'));
      const { source, lines: logs } = sourceFor(db, 'links', [{ dir }]);
      for (let pass = 0; pass < 3; pass++) await source.poll();
      const ids = await storedAuditIds(db, 'links');
      assert.deepEqual(ids, ['inside-0', 'inside-1', 'live-0', 'live-1']);
      const refused = logs().filter((l) => /is a symbolic link to .*secret\.log, outside/.test(l.msg));
      assert.equal(refused.length, 1, 'said once per link');
      assert.match(refused[0]!.msg, /-audit-log-follow-symlinks/);
      await source.stop();

      const allowed = sourceFor(db, 'links-allowed', [{ dir }], { followSymlinks: true });
      await allowed.source.poll();
      assert.deepEqual(await storedAuditIds(db, 'links-allowed'), ['inside-0', 'inside-1', 'live-0', 'live-1', 'planted-0', 'planted-1']);
      await allowed.source.stop();
    });
  });
}
