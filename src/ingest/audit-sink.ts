/**
 * The audit-log line sink: each run of lines → the session stages it holds (src/audit, pure; the
 * byte-level pre-filter searches the whole run and keeps JSON.parse, and even cutting out a line, off
 * lines that cannot be interactive access) → one SessionWriter batch
 * per line batch. Writes are chained so that batch n+1 is parsed while batch n is being committed,
 * and resolve only after COMMIT, as the LineSink contract (line-sink.ts) requires. SessionWriter is
 * idempotent, so a batch delivered again after a crash changes nothing.
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
  return {
    write(batch: LineBatch): Promise<void> {
      const rows: SessionRow[] = [];
      const take = (outcome: LineOutcome) => {
        if (outcome.rows.length) {
          metrics.linesMatched.inc();
          for (const row of outcome.rows) rows.push(row);
        }
        if (outcome.rejected.length || outcome.repaired.length) intake.account(outcome, { file: batch.path });
      };
      for (const run of batch.runs) sessionsFromLines(run.text, run.bounds, context, take);
      const written = tail.then(async () => {
        if (rows.length > 0) await intake.store(rows, { file: batch.path });
      });
      // The next batch waits for this one whether it succeeds or not; the source sees the failure.
      tail = written.catch(() => undefined);
      return written;
    },
  };
}
