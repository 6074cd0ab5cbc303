/**
 * Cuts a byte stream into complete lines. Pure and synchronous: the reader feeds it chunks of a file
 * (plain or decompressed) and gets back the lines finished in that chunk.
 *
 * - A partial last line is kept until its newline arrives (an appender writes a line in more than one
 *   write(2) when it is large); it is never emitted at end of file, so the read position stays at the
 *   start of that line.
 * - A line longer than `maxLineBytes` is not buffered: once it passes the limit its bytes are dropped
 *   until its newline, and it is reported once as `tooLong` (so memory stays bounded by the limit).
 * - Lines are not cut out: a chunk's lines are one LineRun (the chunk and where each line starts and
 *   ends), so a multi-GB backfill makes no Buffer per line. A line that spans chunks is copied into a
 *   run of its own.
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Consecutive complete lines of one buffer, in order: line i is `text[bounds[2i], bounds[2i+1])`, without
 * its `\n` (and without a `\r` before it), never empty. Sinks that want every line take `line(i)`; the
 * audit sink searches `text` as a whole and cuts out only the lines it must look at.
 */
export class LineRun {
  constructor(
    readonly text: Buffer,
    readonly bounds: Int32Array,
  ) {}

  /** Lines that are each their own buffer, one run each (standard input, tests). */
  static of(lines: readonly Buffer[]): LineRun[] {
    return lines.filter((line) => line.length > 0).map((line) => new LineRun(line, Int32Array.of(0, line.length)));
  }

  get count(): number {
    return this.bounds.length >> 1;
  }

  line(i: number): Buffer {
    return this.text.subarray(this.bounds[2 * i], this.bounds[2 * i + 1]);
  }

  /** From the first line's start to the last line's end (the separators and left-out empty lines too). */
  span(): Buffer {
    return this.text.subarray(this.bounds[0], this.bounds[this.bounds.length - 1]);
  }
}

export interface SplitResult {
  /** The complete lines, in order (at most two runs: a line carried over from earlier chunks, then the chunk's). */
  runs: LineRun[];
  /** Lines dropped for being longer than the limit, with the offset (in fed bytes) where each began. */
  tooLong: { startOffset: number; bytes: number }[];
}

export class LineSplitter {
  private pieces: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside a line already over the limit: its bytes are dropped until its newline. */
  private skipping = false;
  /** Bytes fed since the last newline (kept or dropped). */
  private unfinished = 0;
  private fed = 0;
  /** Line bounds of the chunk being cut, copied out to the exact size once it is done. */
  private scratch = new Int32Array(4096);

  constructor(readonly maxLineBytes: number) {
    if (!(maxLineBytes > 0)) throw new RangeError('maxLineBytes must be positive');
  }

  /** Bytes fed so far that belong to finished lines: where a reader may resume without losing a line. */
  get consumed(): number {
    return this.fed - this.unfinished;
  }

  /** Bytes of the line still waiting for its newline. */
  get pending(): number {
    return this.unfinished;
  }

  push(chunk: Buffer): SplitResult {
    const result: SplitResult = { runs: [], tooLong: [] };
    let bounds = this.scratch;
    let n = 0;
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      if (this.skipping || this.pendingBytes + (nl - start) > this.maxLineBytes) {
        result.tooLong.push({ startOffset: this.fed + start - this.unfinished, bytes: this.unfinished + (nl - start) });
      } else if (this.pendingBytes > 0) {
        const line = Buffer.concat([...this.pieces, chunk.subarray(start, nl)]);
        const end = line[line.length - 1] === CARRIAGE_RETURN ? line.length - 1 : line.length;
        if (end > 0) result.runs.push(new LineRun(line, Int32Array.of(0, end)));
      } else {
        const end = nl > start && chunk[nl - 1] === CARRIAGE_RETURN ? nl - 1 : nl;
        if (end > start) {
          if (n + 2 > bounds.length) {
            const grown = new Int32Array(bounds.length * 2);
            grown.set(bounds);
            bounds = this.scratch = grown;
          }
          bounds[n++] = start;
          bounds[n++] = end;
        }
      }
      this.pieces = [];
      this.pendingBytes = 0;
      this.skipping = false;
      this.unfinished = 0;
      start = nl + 1;
    }
    if (n > 0) result.runs.push(new LineRun(chunk, bounds.slice(0, n)));
    const rest = chunk.length - start;
    if (rest > 0) {
      this.unfinished += rest;
      if (!this.skipping) {
        if (this.pendingBytes + rest > this.maxLineBytes) {
          this.skipping = true;
          this.pieces = [];
          this.pendingBytes = 0;
        } else {
          // A copy, not a view: once cut, the chunk's memory may be moved to another thread (cutter-thread.ts).
          this.pieces.push(Buffer.from(chunk.subarray(start)));
          this.pendingBytes += rest;
        }
      }
    }
    this.fed += chunk.length;
    return result;
  }
}
