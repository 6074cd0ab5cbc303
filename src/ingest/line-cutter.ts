/**
 * What a file reader does to each chunk before its lines go to a sink, in one place so that it can run
 * on the reader's thread or on the cutting thread (cutter-thread.ts) with the same result:
 *   1. cut complete lines (line-splitter.ts: partial last lines wait, over-long lines are dropped);
 *   2. drop garbage lines (NUL blocks, invalid UTF-8), each reported with its reason;
 *   3. with `auditMarkers`, keep only the lines the audit pre-filter cannot rule out
 *      (linesToInspect in src/audit/prefilter.ts): the audit sink looks at no other line, and a
 *      backfill keeps ~0.5 % of them.
 * Pure and synchronous.
 */
import { isUtf8 } from 'node:buffer';
import { linesToInspect } from '../audit/prefilter.ts';
import type { FileGarbageReason } from './file-source-events.ts';
import { LineRun, LineSplitter } from './line-splitter.ts';

/** Which lines a sink wants: every clean line, or only those that may hold interactive access. */
export type LineSelection = 'all' | 'auditMarkers';

export interface CutChunk {
  /** The clean lines kept, in order. */
  runs: LineRun[];
  /** Lines finished in this chunk: kept, dropped as garbage or too long, or left out by the selection. */
  count: number;
  /** Bytes fed so far that belong to finished lines (LineSplitter.consumed) after this chunk. */
  consumed: number;
  /** Bytes of the line still waiting for its newline after this chunk. */
  pending: number;
  /** Lines dropped for being longer than the limit. */
  tooLong: { startOffset: number; bytes: number }[];
  /** Garbage lines dropped, each with what the log says of it. */
  garbage: { reason: FileGarbageReason; detail: string }[];
}

const NUL = 0x00;

export class LineCutter {
  private readonly splitter: LineSplitter;

  constructor(
    readonly maxLineBytes: number,
    private readonly selection: LineSelection = 'all',
  ) {
    this.splitter = new LineSplitter(maxLineBytes);
  }

  cut(chunk: Buffer): CutChunk {
    const split = this.splitter.push(chunk);
    const cut: CutChunk = { runs: [], count: split.tooLong.length, consumed: this.splitter.consumed, pending: this.splitter.pending, tooLong: split.tooLong, garbage: [] };
    for (const run of split.runs) {
      cut.count += run.count;
      const clean = withoutGarbage(run, cut.garbage);
      if (clean.count === 0) continue;
      const kept = this.selection === 'auditMarkers' ? selectLines(clean, linesToInspect(clean.text, clean.bounds)) : clean;
      if (kept.count > 0) cut.runs.push(kept);
    }
    return cut;
  }
}

/** The lines of `run` whose numbers are in `lines` (in order), as one run over the same text. */
function selectLines(run: LineRun, lines: Int32Array): LineRun {
  if (lines.length === run.count) return run;
  const bounds = new Int32Array(lines.length * 2);
  for (let k = 0; k < lines.length; k++) {
    bounds[2 * k] = run.bounds[2 * lines[k]!]!;
    bounds[2 * k + 1] = run.bounds[2 * lines[k]! + 1]!;
  }
  return new LineRun(run.text, bounds);
}

/**
 * The run without its garbage lines (added to `garbage`). One search for NUL and one UTF-8 check over the
 * whole run decide the usual case (a line boundary is an ASCII byte, so the run is UTF-8 exactly when
 * every line is); only a run that fails either is judged line by line.
 */
function withoutGarbage(run: LineRun, garbage: CutChunk['garbage']): LineRun {
  const span = run.span();
  if (span.indexOf(NUL) === -1 && isUtf8(span)) return run;
  const kept: number[] = [];
  for (let i = 0; i < run.count; i++) {
    let start = run.bounds[2 * i]!;
    const end = run.bounds[2 * i + 1]!;
    const line = run.text.subarray(start, end);
    // JSON text never holds a raw NUL (control characters are escaped). NULs are a binary file, or
    // the zero-filled block a crash leaves in front of the first line written after it: that
    // block is dropped and the line behind it kept.
    if (line.indexOf(NUL) !== -1) {
      let nuls = 0;
      while (nuls < line.length && line[nuls] === NUL) nuls++;
      garbage.push({ reason: 'binary', detail: nuls > 0 ? `${nuls} NUL bytes` : `a line of ${line.length} bytes with NUL bytes` });
      if (nuls === 0 || nuls === line.length || line.indexOf(NUL, nuls) !== -1) continue;
      start += nuls;
    }
    if (!isUtf8(run.text.subarray(start, end))) garbage.push({ reason: 'invalid-utf8', detail: `a line of ${end - start} bytes that is not UTF-8` });
    else kept.push(start, end);
  }
  return new LineRun(run.text, Int32Array.from(kept));
}
