/**
 * What the file source does with files that are broken or planted: a damaged .gz is read once and
 * then left alone until it changes (it was decompressed again every second, forever), and a link in
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
