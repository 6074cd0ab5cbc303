/**
 * A batch of KubeArmor JSON lines → the batch the writer stores (rows.ts), and what was made of each
 * line: pure, no I/O. The file and stdin sink (file.ts) runs it inline for a few lines and on the
 * normalising thread (prepare-thread.ts) for a backlog; both give the same result.
 */
import type { Redaction } from '../audit/redact.ts';
import type { RawKept, RuntimeEvent } from './event.ts';
import { runtimeEventsFromLine } from './json-lines.ts';
import { prepareRuntimeBatch, type PreparedRuntimeBatch } from './rows.ts';

export interface RuntimeLinesContext {
  cluster: string;
  receivedAt: string;
  redaction?: Redaction;
  raw?: RawKept;
  /** The writer's intake filter (RuntimeEventWriter.operationsKept). */
  operations?: ReadonlySet<string>;
}

/** A line that is not a KubeArmor event: why, never quoting it (a command line in it may hold a secret). */
export interface RejectedLine {
  reason: string;
  detail: string;
}

export interface PreparedRuntimeLines {
  prepared: PreparedRuntimeBatch;
  lines: number;
  events: number;
  /** The relay's own log lines (zap JSON) and blank lines. */
  skipped: number;
  rejected: RejectedLine[];
  /** What was repaired to make events storable (src/audit/sanitize.ts), counted by reason. */
  repaired: Record<string, number>;
}

/** Lines read into events a part at a time (file.ts yields to the event loop between parts), then prepared. */
export class RuntimeLinesBatch {
  private readonly events: RuntimeEvent[] = [];
  private readonly rejected: RejectedLine[] = [];
  private readonly repaired: Record<string, number> = {};
  private lines = 0;
  private skipped = 0;

  constructor(private readonly context: RuntimeLinesContext) {}

  add(line: Buffer): void {
    this.lines++;
    for (const outcome of runtimeEventsFromLine(line, this.context)) {
      if (outcome.kind === 'event') {
        this.events.push(outcome.event);
        for (const reason of outcome.repaired) this.repaired[reason] = (this.repaired[reason] ?? 0) + 1;
      } else if (outcome.kind === 'skipped') this.skipped++;
      else this.rejected.push({ reason: outcome.reason, detail: outcome.detail });
    }
  }

  finish(): PreparedRuntimeLines {
    return {
      prepared: prepareRuntimeBatch(this.events, this.context.operations),
      lines: this.lines,
      events: this.events.length,
      skipped: this.skipped,
      rejected: this.rejected,
      repaired: this.repaired,
    };
  }
}
