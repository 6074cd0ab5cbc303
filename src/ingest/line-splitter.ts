/**
 * Cuts a byte stream into complete lines. Pure and synchronous: the reader feeds it chunks of a file
 * (plain or decompressed) and gets back the lines finished in that chunk.
 *
 * - A partial last line is kept until its newline arrives (an appender writes a line in more than one
 *   write(2) when it is large); it is never emitted at end of file, so the read position stays at the
 *   start of that line.
 * - A line longer than `maxLineBytes` is not buffered: once it passes the limit its bytes are dropped
 *   until its newline, and it is reported once as `tooLong` (so memory stays bounded by the limit).
 * - Lines are subarrays of the chunks: no copy unless a line spans chunks.
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export interface SplitResult {
  /** Complete lines without their `\n` (and without a `\r` before it). Empty lines are left out. */
  lines: Buffer[];
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
    const result: SplitResult = { lines: [], tooLong: [] };
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      const lineBytes = this.unfinished + (nl - start);
      if (this.skipping || this.pendingBytes + (nl - start) > this.maxLineBytes) {
        result.tooLong.push({ startOffset: this.fed + start - this.unfinished, bytes: lineBytes });
      } else {
        let line = this.pendingBytes === 0 ? chunk.subarray(start, nl) : Buffer.concat([...this.pieces, chunk.subarray(start, nl)]);
        if (line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN) line = line.subarray(0, line.length - 1);
        if (line.length > 0) result.lines.push(line);
      }
      this.pieces = [];
      this.pendingBytes = 0;
      this.skipping = false;
      this.unfinished = 0;
      start = nl + 1;
    }
    const rest = chunk.length - start;
    if (rest > 0) {
      this.unfinished += rest;
      if (!this.skipping) {
        if (this.pendingBytes + rest > this.maxLineBytes) {
          this.skipping = true;
          this.pieces = [];
          this.pendingBytes = 0;
        } else {
          this.pieces.push(chunk.subarray(start));
          this.pendingBytes += rest;
        }
      }
    }
    this.fed += chunk.length;
    return result;
  }
}
