/**
 * The audit-log line sink: each line → the session stages it holds (src/audit, pure) → one SessionWriter
 * batch per line batch, or per few when they arrive while one is being committed. It asks the source
 * for only the lines the byte-level pre-filter cannot rule out (`lineSelection`: the chunk is searched
 * once, on the cutting thread for a backlog), and sessionsFromLine still applies the pre-filter to each
 * line it is given, so a caller that hands it every line gets the same sessions. Writes are chained so that
 * batch n+1 is parsed while batch n is being committed, and resolve only after COMMIT, as the LineSink
 * contract (line-sink.ts) requires. SessionWriter is idempotent, so a batch delivered again after a
 * crash changes nothing.
 */
import type { ExtractContext } from '../audit/extract.ts';
import { sessionsFromLine } from '../audit/input.ts';
import type { SessionRow } from '../audit/session.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { AuditIntake } from './audit-intake.ts';
import type { LineBatch, LineSink } from './line-sink.ts';

export interface AuditSinkOptions {
  intake: AuditIntake;
  context: ExtractContext;
  metrics: Metrics;
}

/** Outcomes (lines holding stages) made between two turns of the event loop: a few milliseconds of work. */
const OUTCOMES_PER_TURN = 256;

/**
 * Session stages parsed and not yet committed past which the sink has no room (LineSink.room): about two
 * 2 MiB batches of exec-heavy input, where every line is a stage. A backfill's batches hold a few stages
 * each, so up to the source's batch bound of them are parsed while one group is stored, and they are
 * stored together: fewer, larger transactions.
 */
export const MAX_HELD_STAGES = 4096;

export function createAuditSink({ intake, context, metrics }: AuditSinkOptions): LineSink {
  /**
   * A batch's session stages, with a turn of the event loop every OUTCOMES_PER_TURN lines that hold
   * some: the previous batch's statements are sent and answered in those turns (on exec-heavy input,
   * with a whole batch parsed in one go, the database sat idle in transaction in ~30 % of samples).
   */
  const parse = async (batch: LineBatch): Promise<SessionRow[]> => {
    const rows: SessionRow[] = [];
    let matched = 0;
    let outcomes = 0;
    for (const run of batch.runs) {
      for (let i = 0; i < run.count; i++) {
        const outcome = sessionsFromLine(run.line(i), context);
        if (outcome.rows.length === 0 && outcome.rejected.length === 0) continue;
        if (outcome.rows.length) {
          matched++;
          for (const row of outcome.rows) rows.push(row);
        }
        if (outcome.rejected.length || outcome.repaired.length) intake.account(outcome, { file: batch.path });
        if (++outcomes % OUTCOMES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    }
    metrics.linesMatched.inc(matched);
    return rows;
  };

  // What the sink holds (LineSink.room): batches being parsed, and stages parsed but not committed.
  let parsing = 0;
  let heldStages = 0;
  let waiters: (() => void)[] = [];
  const hasRoom = () => parsing === 0 && heldStages < MAX_HELD_STAGES;
  const wake = () => {
    if (!hasRoom()) return;
    const woken = waiters;
    waiters = [];
    for (const resolve of woken) resolve();
  };

  let tail: Promise<void> = Promise.resolve();
  // The batches that arrived while a store was running, stored together once it ends: one transaction
  // (and one position save, commit-pipeline.ts) for them all. On a backfill the store, not the parsing,
  // is what batches wait for (each COMMIT is a WAL flush), so this halves the flushes. A group's store
  // waits for the parsing of every batch that joined it before it began.
  let waiting: { parsed: Promise<SessionRow[]>[]; counted: Promise<number>[]; file: string; stored: Promise<void> } | undefined;
  return {
    lineSelection: 'auditMarkers',
    write(batch: LineBatch): Promise<void> {
      parsing++;
      const parsed = parse(batch);
      parsed.catch(() => undefined); // observed through the group's store
      const counted = parsed.then(
        (rows) => rows.length,
        () => 0,
      );
      void counted.then((stages) => {
        heldStages += stages;
        parsing--;
        wake();
      });
      if (!waiting) {
        const group = { parsed: [] as Promise<SessionRow[]>[], counted: [] as Promise<number>[], file: batch.path, stored: Promise.resolve() };
        group.stored = tail.then(async () => {
          waiting = undefined;
          try {
            const rows = (await Promise.all(group.parsed)).flat();
            if (rows.length > 0) await intake.store(rows, { file: group.file });
          } finally {
            // Committed or not (a failed batch is read again from its file), they are no longer held.
            for (const stages of await Promise.all(group.counted)) heldStages -= stages;
            wake();
          }
        });
        // The next group waits for this one whether it succeeds or not; the source sees the failure.
        tail = group.stored.catch(() => undefined);
        waiting = group;
      }
      waiting.parsed.push(parsed);
      waiting.counted.push(counted);
      return waiting.stored;
    },
    room(): Promise<void> {
      if (hasRoom()) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}
