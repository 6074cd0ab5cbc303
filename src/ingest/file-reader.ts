/**
 * Reading one file (Vector's file_watcher): a plain file from a position to its end through a handle
 * we hold, or a .gz decompressed from its start. Lines are cut (line-splitter.ts), cleaned of garbage
 * (NUL blocks, invalid UTF-8, over-long lines: counted and dropped) and handed to the checkpointer in
 * batches of at most one read chunk, as runs of lines sharing the chunk (no Buffer per line).
 */
import { isUtf8 } from 'node:buffer';
import type { FileHandle } from 'node:fs/promises';
import { startVisit, type FileCheckpointer, type Visit } from './file-checkpointer.ts';
import type { FileSourceEvents } from './file-source-events.ts';
import { gunzipFile } from './gunzip-file.ts';
import { LineRun, LineSplitter, type SplitResult } from './line-splitter.ts';
import type { BacklogProgress } from './progress.ts';

export interface ReaderContext {
  maxLineBytes: number;
  /** Bytes per read (and at most per batch). */
  readChunkBytes: number;
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

const NUL = 0x00;

/** Reads a held plain file from its position to its end (or to a stop), batch by batch. */
export async function readPlainFile(t: TrackedFile, ctx: ReaderContext): Promise<void> {
  if (t.fingerprint === undefined) return; // no complete line yet
  const splitter = new LineSplitter(ctx.maxLineBytes);
  const base = t.offset;
  const visit = startVisit(t.path, t.fingerprint, base, (offset) => {
    t.committed = offset;
    ctx.events.checkpointLag(t.path, t.size - offset);
  });
  // Sized to what stat said is there (small appends do not allocate the whole chunk).
  const readAt = async (at: number): Promise<Buffer> => {
    const want = Math.min(ctx.readChunkBytes, Math.max(64 * 1024, t.size - at + 64 * 1024));
    const buffer = Buffer.allocUnsafe(want);
    const { bytesRead } = await t.handle.read(buffer, 0, want, at);
    return buffer.subarray(0, bytesRead);
  };
  let position = base;
  let next = ctx.stopping() ? undefined : readAt(position);
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
      const split = splitter.push(chunk);
      await deliver(visit, split, base + splitter.consumed, ctx, t.backup && position >= t.size && splitter.pending === 0);
      if (ctx.stopping()) break;
    }
  } finally {
    // A read still running is dropped, but waited for: the caller may close the handle next.
    await next?.catch(() => undefined);
  }
  t.offset = base + splitter.consumed;
  t.pending = splitter.pending;
  ctx.events.checkpointLag(t.path, t.size - t.committed);
  ctx.events.visited(visit.path, visit.lines, visit.bytes, t.backup);
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
  const splitter = new LineSplitter(ctx.maxLineBytes);
  const visit = startVisit(path, fingerprint, startOffset);
  let skip = startOffset;
  let diskBytes = 0;
  let outcome: GzipReadOutcome = 'stopped';
  // Each batch waits for the next chunk, so the last one is known to be last and saves the file as
  // completed itself.
  let held: { split: SplitResult; end: number } | undefined;
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
      const split = splitter.push(data);
      if (held) await deliver(visit, held.split, held.end, ctx);
      held = { split, end: startOffset + splitter.consumed };
    }
    if (!ctx.stopping()) outcome = 'complete';
  } catch (error) {
    if (!isGzipReadError(error)) throw error;
    // Deleted while read: nothing is wrong with it, and the next pass does not list it.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      outcome = 'damaged';
      ctx.events.gzipDamaged(path, (error as Error).message);
    }
  } finally {
    read.close();
  }
  // A .gz is final: read cleanly to its end it is completed, an unfinished last line included.
  const complete = outcome === 'complete';
  if (held) await deliver(visit, held.split, held.end, ctx, complete);
  await ctx.checkpointer.drain();
  if (complete) {
    if (splitter.pending > 0) ctx.events.garbage(path, 'unterminated-line', `${splitter.pending} bytes after the last newline`);
    await ctx.checkpointer.saveCompleted(path, fingerprint, startOffset + splitter.consumed);
  }
  ctx.events.visited(path, visit.lines, visit.bytes, true);
  return outcome;
}

/** Drops garbage lines (counted), counts over-long ones, and submits the rest with their end position. */
async function deliver(visit: Visit, split: SplitResult, endOffset: number, ctx: ReaderContext, completed = false): Promise<void> {
  const runs: LineRun[] = [];
  let count = split.tooLong.length;
  for (const run of split.runs) {
    count += run.count;
    const clean = withoutGarbage(run, visit.path, ctx);
    if (clean.count > 0) runs.push(clean);
  }
  for (const long of split.tooLong) ctx.events.lineTooLong(visit.path, long.bytes, ctx.maxLineBytes);
  await ctx.checkpointer.submit(visit, runs, count, endOffset, completed);
}

/**
 * The run without its garbage lines (counted). One search for NUL and one UTF-8 check over the whole
 * run decide the usual case (a line boundary is an ASCII byte, so the run is UTF-8 exactly when every
 * line is); only a run that fails either is judged line by line.
 */
function withoutGarbage(run: LineRun, path: string, ctx: ReaderContext): LineRun {
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
      ctx.events.garbage(path, 'binary', nuls > 0 ? `${nuls} NUL bytes` : `a line of ${line.length} bytes with NUL bytes`);
      if (nuls === 0 || nuls === line.length || line.indexOf(NUL, nuls) !== -1) continue;
      start += nuls;
    }
    if (!isUtf8(run.text.subarray(start, end))) ctx.events.garbage(path, 'invalid-utf8', `a line of ${end - start} bytes that is not UTF-8`);
    else kept.push(start, end);
  }
  return new LineRun(run.text, Int32Array.from(kept));
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
