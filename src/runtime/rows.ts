/**
 * A batch of runtime events made ready for the one writer (writer.ts): the intake filter applied, repeats
 * removed, and the rows encoded once as COPY text. Pure, no I/O.
 *
 * What the writer keeps of each event after encoding is its summary (RuntimeRowSummary): what partitions,
 * the log of a refused row and correlation's hook need. So a batch prepared on the normalising thread
 * (prepare-thread.ts) crosses to the main thread as bytes and a few fields per event, not as objects of
 * 40 fields, and the gRPC path (encoded on the main thread) goes through the same write.
 */
import { copyFormat } from '../store/columns.ts';
import { runtimeEvents } from '../store/schema.ts';
import type { RuntimeEvent } from './event.ts';

/** What is kept of a stored event once its row is encoded. */
export interface RuntimeRowSummary {
  eventKey: string;
  /** event_time as stored, `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
  eventTime: string;
  receivedAt: string;
  kind: RuntimeEvent['kind'];
  cluster: string;
  namespace: string | null;
  pod: string | null;
  hostName: string | null;
}

/** Rows ready for COPY: `copy` holds one line per summary, in the same order. */
export interface RuntimeRows {
  copy: Uint8Array;
  events: RuntimeRowSummary[];
}

/** A batch after the intake filter and the removal of repeats. */
export interface PreparedRuntimeBatch {
  rows: RuntimeRows;
  /** Events handed in that passed the filter, repeats included (the writer counts repeats as duplicates). */
  wanted: number;
  /** Logs the intake filter dropped, by operation as sent. */
  filtered: Record<string, number>;
}

export const runtimeCopy = copyFormat(runtimeEvents);

/**
 * The batch without the logs of operations not in `operations` (lower case; undefined keeps all; alerts
 * and events without an operation always pass), each event once (event_key hashes event_time too,
 * event-key.ts, so the key alone tells rows apart), encoded.
 */
export function prepareRuntimeBatch(batch: readonly RuntimeEvent[], operations?: ReadonlySet<string>): PreparedRuntimeBatch {
  const filtered: Record<string, number> = {};
  const seen = new Set<string>();
  const distinct: RuntimeEvent[] = [];
  let wanted = 0;
  for (const event of batch) {
    if (operations && event.kind !== 'alert' && event.operation !== null && !operations.has(event.operation.toLowerCase())) {
      filtered[event.operation] = (filtered[event.operation] ?? 0) + 1;
      continue;
    }
    wanted++;
    if (seen.has(event.eventKey)) continue;
    seen.add(event.eventKey);
    distinct.push(event);
  }
  return { rows: encodeRuntimeRows(distinct), wanted, filtered };
}

export function encodeRuntimeRows(events: readonly RuntimeEvent[]): RuntimeRows {
  return { copy: Buffer.from(runtimeCopy.text(events)), events: events.map(summaryOf) };
}

function summaryOf(event: RuntimeEvent): RuntimeRowSummary {
  const { eventKey, eventTime, receivedAt, kind, cluster, namespace, pod, hostName } = event;
  return { eventKey, eventTime, receivedAt, kind, cluster, namespace, pod, hostName };
}

/**
 * The rows at `indices` (ascending), for storing part of a batch the database refused. Every newline of
 * COPY text ends a row: one inside a value is written `\n` (columns.ts).
 */
export function someRows(rows: RuntimeRows, indices: readonly number[]): RuntimeRows {
  const starts = rowStarts(rows.copy);
  const copy = Buffer.concat(indices.map((i) => rows.copy.subarray(starts[i], starts[i + 1])));
  return { copy, events: indices.map((i) => rows.events[i]!) };
}

function rowStarts(copy: Uint8Array): number[] {
  const starts = [0];
  for (let at = copy.indexOf(0x0a); at !== -1; at = copy.indexOf(0x0a, at + 1)) starts.push(at + 1);
  return starts;
}
