/**
 * The audit-log line sink: each run of lines → the session stages it holds (src/audit, pure; the
 * byte-level pre-filter searches the whole run and keeps JSON.parse, and even cutting out a line, off
 * lines that cannot be interactive access) → one SessionWriter batch
 * per line batch, or per few when they arrive while one is being committed. Writes are chained so that
 * batch n+1 is parsed while batch n is being committed, and resolve only after COMMIT, as the LineSink
 * contract (line-sink.ts) requires. SessionWriter is idempotent, so a batch delivered again after a
 * crash changes nothing.
 */
import type { ExtractContext } from '../audit/extract.ts';
import { sessionsFromLines, type LineOutcome } from '../audit/input.ts';
import type { SessionRow } from '../audit/session.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { AuditIntake } from './audit-intake.ts';
import type { LineBatch, LineSink } from './line-sink.ts';

export interface AuditSinkOptions {
  intake: AuditIntake;
  context: ExtractContext;
  metrics: Metrics;
}

export function createAuditSink({ intake, context, metrics }: AuditSinkOptions): LineSink {
  let tail: Promise<void> = Promise.resolve();
  // The rows of batches that arrived while a store was running, stored together once it ends: one
  // transaction (and one position save, commit-pipeline.ts) for them all. On a backfill the store, not
  // the parsing, is what batches wait for (each COMMIT is a WAL flush), so this halves the flushes.
  let waiting: { rows: SessionRow[]; file: string; stored: Promise<void> } | undefined;
  return {
    write(batch: LineBatch): Promise<void> {
      if (!waiting) {
        const group = { rows: [] as SessionRow[], file: batch.path, stored: Promise.resolve() };
        group.stored = tail.then(async () => {
          waiting = undefined;
          if (group.rows.length > 0) await intake.store(group.rows, { file: group.file });
        });
        // The next group waits for this one whether it succeeds or not; the source sees the failure.
        tail = group.stored.catch(() => undefined);
        waiting = group;
      }
      const rows = waiting.rows;
      const take = (outcome: LineOutcome) => {
        if (outcome.rows.length) {
          metrics.linesMatched.inc();
          for (const row of outcome.rows) rows.push(row);
        }
        if (outcome.rejected.length || outcome.repaired.length) intake.account(outcome, { file: batch.path });
      };
      for (const run of batch.runs) sessionsFromLines(run.text, run.bounds, context, take);
      return waiting.stored;
    },
  };
}
