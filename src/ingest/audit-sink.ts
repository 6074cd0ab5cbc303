/**
 * The audit-log line sink: each line → the session stages it holds (src/audit, pure; the byte-level
 * pre-filter keeps JSON.parse off lines that cannot be interactive access) → one SessionWriter batch
 * per line batch. Writes are chained so that batch n+1 is parsed while batch n is being committed,
 * and resolve only after COMMIT, as the LineSink contract (line-sink.ts) requires. SessionWriter is
 * idempotent, so a batch delivered again after a crash changes nothing.
 */
import type { ExtractContext } from '../audit/extract.ts';
import { sessionsFromLine } from '../audit/lines.ts';
import type { SessionRow } from '../audit/session.ts';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { SessionWriter } from '../store/session-writer.ts';
import type { LineBatch, LineSink } from './line-sink.ts';

export interface AuditSinkOptions {
  writer: SessionWriter;
  context: ExtractContext;
  metrics: Metrics;
  logger: Logger;
}

/** Bad lines logged at warn before falling back to one in a thousand (the counters keep counting). */
const WARN_FIRST_BAD_LINES = 20;

export function createAuditSink({ writer, context, metrics, logger }: AuditSinkOptions): LineSink {
  let tail: Promise<void> = Promise.resolve();
  let badLines = 0;
  return {
    write(batch: LineBatch): Promise<void> {
      const rows: SessionRow[] = [];
      for (const line of batch.lines) {
        const outcome = sessionsFromLine(line, context);
        if (outcome.rows.length) {
          metrics.linesMatched.inc();
          for (const row of outcome.rows) rows.push(row);
        }
        for (const bad of outcome.rejected) {
          metrics.badInput.inc({ reason: bad.reason });
          badLines++;
          const fields = { file: batch.path, reason: bad.reason, detail: bad.detail };
          if (badLines <= WARN_FIRST_BAD_LINES || badLines % 1000 === 0)
            logger.warn(fields, `skipped a line of ${batch.path} that is not an audit event (${bad.reason}: ${bad.detail}); the lines after it are read`);
          else logger.debug(fields, 'skipped bad audit line');
        }
      }
      metrics.sessionStagesSeen.inc(rows.length);
      const written = tail.then(async () => {
        if (rows.length === 0) return;
        const timer = metrics.dbWriteSeconds.startTimer();
        const result = await writer.write(rows);
        timer();
        metrics.sessionsStored.inc(result.inserted + result.updated);
        metrics.sessionsNew.inc(result.inserted);
      });
      // The next batch waits for this one whether it succeeds or not; the source sees the failure.
      tail = written.catch(() => undefined);
      return written;
    },
  };
}
