/**
 * What a file source hands its lines to. The source knows files, positions and checkpoints; a sink
 * knows what a line means (an audit event, a KubeArmor event) and where it is stored.
 *
 * The contract:
 * - `write(batch)` gets complete lines of one file in order (no `\n`, never empty, valid UTF-8
 *   without NUL bytes; over-long and garbage lines were already counted and dropped by the source, and
 *   with `lineSelection` the lines the sink does not want were left out), as
 *   runs of lines that share a buffer (line-splitter.ts); `linesOf(batch)` gives them one by one.
 * - The promise it returns resolves only once everything derived from those lines is durably
 *   committed. Only then does the source save the file's position past them. A rejection means "not
 *   stored": the source reads the batch again later (after a backoff), from the last saved position.
 * - Calls may overlap: the source starts batch n+1 (so the sink can parse it) while batch n is still
 *   being committed, with at most a few batches outstanding (that is the backpressure). The sink may
 *   serialize its writes; the source advances positions strictly in order whatever resolves first.
 * - The sink must be idempotent: after a crash between a commit and the position save, the same
 *   lines are delivered again, and storing them again must change nothing.
 * - The lines are not reused by the source; the sink may keep them until its promise resolves.
 */
import type { LineSelection } from './line-cutter.ts';
import type { LineRun } from './line-splitter.ts';

export interface LineBatch {
  /** The lines, in order; never an empty run. */
  runs: readonly LineRun[];
  /** The file the lines come from, for log messages. */
  path: string;
  /** The file's fingerprint (its identity across renames and compression). */
  fingerprint: string;
  /** Byte offset (decompressed for .gz) just past the last line of the batch. */
  endOffset: number;
}

/** Every line of a batch, in order, each its own Buffer (a view, not a copy). */
export function linesOf(batch: Pick<LineBatch, 'runs'>): Buffer[] {
  const lines: Buffer[] = [];
  for (const run of batch.runs) for (let i = 0; i < run.count; i++) lines.push(run.line(i));
  return lines;
}

export interface LineSink {
  write(batch: LineBatch): Promise<void>;
  /**
   * Which lines the source hands over (line-cutter.ts): every clean line (the default), or only those the
   * audit pre-filter cannot rule out. Either way a batch's position covers every line read before it.
   */
  readonly lineSelection?: LineSelection;
  /**
   * Resolves once the sink can take another batch without holding more than it should of what it made
   * and has not committed yet. The source waits for it after each batch, on top of its bound on batches
   * outstanding: a batch count alone cannot tell five session stages from two thousand.
   */
  room?(): Promise<void>;
}
