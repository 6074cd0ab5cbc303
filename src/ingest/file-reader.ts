/**
 * Reading one file (Vector's file_watcher): a plain file from a position to its end through a handle
 * we hold, or a .gz decompressed from its start. Each chunk is cut into lines, cleaned of garbage (NUL
 * blocks, invalid UTF-8, over-long lines: counted and dropped) and narrowed to the lines the sink
 * wants (line-cutter.ts; on a second thread for a backlog, cutter-thread.ts), then handed to the
 * checkpointer as a batch of at most one read chunk, as runs of lines sharing a buffer.
 */
import type { FileHandle } from 'node:fs/promises';
import { ON_THREAD_FROM_BYTES, type CutterThread } from './cutter-thread.ts';
import { startVisit, type FileCheckpointer, type Visit } from './file-checkpointer.ts';
import type { FileSourceEvents } from './file-source-events.ts';
import { gunzipFile } from './gunzip-file.ts';
import type { CutChunk, LineSelection } from './line-cutter.ts';
import type { BacklogProgress } from './progress.ts';

export interface ReaderContext {
  maxLineBytes: number;
  /** Bytes per read (and at most per batch). */
  readChunkBytes: number;
  /** Which lines the sink wants (LineSink.lineSelection). */
  lineSelection: LineSelection;
  cutters: CutterThread;
  checkpointer: FileCheckpointer;
  events: FileSourceEvents;
  progress?: BacklogProgress;
  /** A stop ends a read at a batch boundary: what was delivered commits and is checkpointed. */
  stopping(): boolean;
}

/** A plain file we hold open (live files; backups while they are being read). */
export interface TrackedFile {
  inode: string;
  path: string;
  handle: FileHandle;
  /** Undefined while its first line is unfinished (then it has no complete line either). */
  fingerprint: string | undefined;
  /** Where the next unread line starts. */
  offset: number;
  /** Position whose lines are committed and saved. */
  committed: number;
  /** Largest size seen. */
  size: number;
  mtimeMs: number;
  backup: boolean;
  /** Bytes of an unfinished last line after the last read. */
  pending: number;
  /** Truncated and restarted from 0: its next first line is new content, whatever a checkpoint says. */
  truncated: boolean;
}

/** Reads a held plain file from its position to its end (or to a stop), batch by batch. */
export async function readPlainFile(t: TrackedFile, ctx: ReaderContext): Promise<void> {
  if (t.fingerprint === undefined) return; // no complete line yet
  const base = t.offset;
  const cutter = ctx.cutters.open(ctx.maxLineBytes, ctx.lineSelection, t.size - base >= ON_THREAD_FROM_BYTES);
  const visit = startVisit(t.path, t.fingerprint, base, (offset) => {
    t.committed = offset;
    ctx.events.checkpointLag(t.path, t.size - offset);
  });
  // Sized to what stat said is there (small appends do not allocate the whole chunk).
  const readAt = async (at: number): Promise<Buffer> => {
    const want = Math.min(ctx.readChunkBytes, Math.max(64 * 1024, t.size - at + 64 * 1024));
    const buffer = Buffer.allocUnsafeSlow(want); // memory of its own, so the cutter may move it to its thread
    const { bytesRead } = await t.handle.read(buffer, 0, want, at);
    return buffer.subarray(0, bytesRead);
  };
  let position = base;
  let next = ctx.stopping() ? undefined : readAt(position);
  // Chunks being cut (on the cutting thread for a backlog) while the oldest is delivered: with one
  // ahead, the thread sat idle while a delivery waited on the database (31 % of its samples).
  const cuts = new CutQueue(visit, base, ctx);
  try {
    while (next) {
      const chunk = await next;
      next = undefined;
      if (chunk.length === 0) break;
      position += chunk.length;
      if (position > t.size) t.size = position;
      ctx.events.diskRead(chunk.length);
      ctx.progress?.read(chunk.length);
      // The next read runs in the thread pool while this chunk is cut and delivered (waiting for each
      // read in turn cost 0.7-1.1 s of a 5-7 s backfill of the 1 GiB bench log on a busy machine).
      if (!ctx.stopping()) next = readAt(position);
      // A backup read up to the size stat gave is at its end (nobody appends to it): its last batch
      // saves it as completed, so finishing it costs no extra round trip.
      cuts.push(cutter.cut(chunk, true), t.backup && position >= t.size);
      if (cuts.length > (cutter.onThread ? CUTS_AHEAD : 0)) await cuts.deliverOldest();
      if (ctx.stopping()) break; // what is still being cut is read again after the restart
    }
    while (cuts.length > 0 && !ctx.stopping()) await cuts.deliverOldest();
  } finally {
    // A read still running is dropped, but waited for: the caller may close the handle next.
    await next?.catch(() => undefined);
    cutter.close();
  }
  t.offset = base + cuts.last.consumed;
  t.pending = cuts.last.pending;
  ctx.events.checkpointLag(t.path, t.size - t.committed);
  ctx.events.visited(visit.path, visit.lines, visit.bytes, t.backup);
}

/** Chunks cut ahead of the one being delivered (read ahead of what is committed: that many more). */
export const CUTS_AHEAD = 3;

/** The cuts of one read on their way to the checkpointer, oldest first. */
class CutQueue {
  /** Where the last delivered cut left the read: finished lines, and the bytes of an unfinished one. */
  last: Pick<CutChunk, 'consumed' | 'pending'> = { consumed: 0, pending: 0 };
  private readonly cuts: { cut: CutChunk | Promise<CutChunk>; atEnd: boolean }[] = [];

  constructor(
    private readonly visit: Visit,
    /** The read's start: a cut's `consumed` counts from it. */
    private readonly base: number,
    private readonly ctx: ReaderContext,
  ) {}

  get length(): number {
    return this.cuts.length;
  }

  /** `atEnd`: the cut ends the file, which is completed when no unfinished line is left. */
  push(cut: CutChunk | Promise<CutChunk>, atEnd = false): void {
    // A cut that may be dropped (a stop, a failed delivery) must not end the process as an unhandled rejection.
    if (cut instanceof Promise) cut.catch(() => undefined);
    this.cuts.push({ cut, atEnd });
  }

  /** Counts the oldest cut's dropped lines, and submits its kept ones with their end position. */
  async deliverOldest(completed = false): Promise<void> {
    const { cut, atEnd } = this.cuts.shift()!;
    const done = await cut;
    this.last = done;
    const { visit, ctx } = this;
    for (const { reason, detail } of done.garbage) ctx.events.garbage(visit.path, reason, detail);
    for (const long of done.tooLong) ctx.events.lineTooLong(visit.path, long.bytes, ctx.maxLineBytes);
    await ctx.checkpointer.submit(visit, done.runs, done.count, this.base + done.consumed, completed || (atEnd && done.pending === 0));
  }
}

/** How a .gz read ended: read to its end, left early by a stop, or cut short by damage. */
export type GzipReadOutcome = 'complete' | 'stopped' | 'damaged';

/** Decompresses a .gz from the start, skipping to `startOffset`, and delivers its lines. */
export async function readGzipFile(
  path: string,
  handle: FileHandle,
  fingerprint: string,
  startOffset: number,
  ctx: ReaderContext,
): Promise<GzipReadOutcome> {
  const read = gunzipFile(handle, { readBytes: 1024 * 1024, chunkSize: Math.min(ctx.readChunkBytes, 4 * 1024 * 1024) });
  // A .gz is read whole from its start: a backlog, cut on the thread.
  const cutter = ctx.cutters.open(ctx.maxLineBytes, ctx.lineSelection, true);
  const visit = startVisit(path, fingerprint, startOffset);
  let skip = startOffset;
  let diskBytes = 0;
  let outcome: GzipReadOutcome = 'stopped';
  // Chunks being cut while the oldest is delivered, as for a plain file; the newest is delivered only
  // once the stream has ended, so the last batch is known to be last and saves the file as completed.
  const cuts = new CutQueue(visit, startOffset, ctx);
  let streamError: unknown;
  try {
    for await (const chunk of read.output as AsyncIterable<Buffer>) {
      if (ctx.stopping()) break; // resumed from its checkpoint after the restart
      ctx.progress?.read(read.diskBytes() - diskBytes);
      ctx.events.diskRead(read.diskBytes() - diskBytes);
      diskBytes = read.diskBytes();
      let data = chunk;
      if (skip > 0) {
        if (data.length <= skip) {
          skip -= data.length;
          continue;
        }
        data = data.subarray(skip);
        skip = 0;
      }
      cuts.push(cutter.cut(data, false));
      // At least one held back: the last is delivered once the stream has ended.
      if (cuts.length > (cutter.onThread ? CUTS_AHEAD : 1)) await cuts.deliverOldest();
    }
    if (!ctx.stopping()) outcome = 'complete';
  } catch (error) {
    streamError = error;
  } finally {
    read.close();
  }
  try {
    if (streamError !== undefined) {
      if (!isGzipReadError(streamError)) throw streamError;
      // Deleted while read: nothing is wrong with it, and the next pass does not list it.
      if ((streamError as NodeJS.ErrnoException).code !== 'ENOENT') {
        outcome = 'damaged';
        ctx.events.gzipDamaged(path, (streamError as Error).message);
      }
    }
    // A .gz is final: read cleanly to its end it is completed, an unfinished last line included. What
    // came before damage is delivered too.
    const complete = outcome === 'complete';
    while (cuts.length > 0) await cuts.deliverOldest(complete && cuts.length === 1);
  } finally {
    cutter.close();
  }
  await ctx.checkpointer.drain();
  if (outcome === 'complete') {
    if (cuts.last.pending > 0) ctx.events.garbage(path, 'unterminated-line', `${cuts.last.pending} bytes after the last newline`);
    await ctx.checkpointer.saveCompleted(path, fingerprint, startOffset + cuts.last.consumed);
  }
  ctx.events.visited(path, visit.lines, visit.bytes, true);
  return outcome;
}

/** Where the last complete line of a file ends (0 when it has none): `-start-at=end` starts there. */
export async function endOfLastLine(handle: FileHandle, size: number): Promise<number> {
  const block = 64 * 1024;
  const buffer = Buffer.allocUnsafe(block);
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - block);
    const { bytesRead } = await handle.read(buffer, 0, end - start, start);
    const nl = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl !== -1) return start + nl + 1;
    end = start;
  }
  return 0;
}

/** The decompressed position after the last newline of a .gz. */
export async function gzipEndOfLastLine(handle: FileHandle): Promise<number> {
  const read = gunzipFile(handle, { readBytes: 1024 * 1024 });
  let length = 0;
  let end = 0;
  try {
    for await (const chunk of read.output as AsyncIterable<Buffer>) {
      const nl = chunk.lastIndexOf(0x0a);
      if (nl !== -1) end = length + nl + 1;
      length += chunk.length;
    }
  } catch (error) {
    if (!isGzipReadError(error)) throw error;
  } finally {
    read.close();
  }
  return end;
}

/** zlib's errors for a truncated or damaged .gz (and the file vanishing while read). */
function isGzipReadError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return code.startsWith('Z_') || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ENOENT' || /unexpected end of file|incorrect header check/i.test(String((error as Error).message));
}
