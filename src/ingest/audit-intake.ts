/**
 * What every audit source does with what src/audit made of its input: count and log what was skipped or
 * repaired (never quoting it: a rejected exec line may hold a secret), then store the session stages
 * through the one SessionWriter and count what the store did. The file sink and the webhook both call
 * these, so the counters and the log lines mean the same whatever the source.
 */
import type { LineOutcome } from '../audit/input.ts';
import type { SessionRow } from '../audit/session.ts';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { SessionWriteResult, SessionWriter } from '../store/session-writer.ts';

/** Bad inputs logged at warn before falling back to one in a thousand (the counters keep counting). */
const WARN_FIRST = 20;

export interface AuditIntake {
  /** Counts and logs what one input (a line, a body) held that was skipped or repaired. */
  account(outcome: LineOutcome, where: Record<string, unknown>): void;
  /** Stores the stages; resolves after COMMIT with what the writer did, counted. */
  store(rows: readonly SessionRow[], where: Record<string, unknown>): Promise<SessionWriteResult>;
}

export function createAuditIntake({ writer, metrics, logger }: { writer: SessionWriter; metrics: Metrics; logger: Logger }): AuditIntake {
  let badInputs = 0;
  const noteBad = (fields: Record<string, unknown>, message: string) => {
    badInputs++;
    if (badInputs <= WARN_FIRST || badInputs % 1000 === 0) logger.warn({ ...fields, badInputsSoFar: badInputs }, message);
    else logger.debug(fields, message);
  };
  return {
    account(outcome, where) {
      for (const bad of outcome.rejected) {
        metrics.badInput.inc({ reason: bad.reason });
        noteBad({ ...where, reason: bad.reason, detail: bad.detail }, `skipped input that is not a valid audit event (${bad.reason}: ${bad.detail}); what follows it is read`);
      }
      for (const reason of outcome.repaired) {
        metrics.badInput.inc({ reason });
        noteBad({ ...where, reason }, `stored an audit event after repairing it (${reason}; see "Hostile input" in the README)`);
      }
    },
    async store(rows, where) {
      metrics.sessionStagesSeen.inc(rows.length);
      const timer = metrics.dbWriteSeconds.startTimer();
      const result = await writer.write(rows);
      timer();
      metrics.sessionsStored.inc(result.inserted + result.updated);
      metrics.sessionsNew.inc(result.inserted);
      metrics.auditIdReuse.inc(result.auditIdReused);
      if (result.auditIdReused > 0) {
        logger.warn({ ...where, sessions: result.auditIdReused }, 'requests reusing an Audit-ID already stored for another request were stored as sessions of their own (exec_metadata.audit_id_reused): a client sets that header, check who did');
      }
      for (const code of result.refusedCodes) {
        metrics.badInput.inc({ reason: 'rejected-by-database' });
        noteBad({ ...where, sqlstate: code }, `the database refused one session (SQLSTATE ${code}); it is skipped and the rest of the batch is stored`);
      }
      return result;
    },
  };
}
