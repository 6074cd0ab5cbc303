/**
 * The files a file source knows, and one pass over them (see file-source.ts for the order): the ones
 * held open (live files, backups being read), the ones left alone until they change (read to their
 * end, copies, damaged .gz), and the ones that cannot be opened. For each file found it decides what
 * to do: drain it (renamed away), follow it (held), or open, identify and read it (new to us).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { discoverFiles, OPEN_NO_FOLLOW, type FileCandidate, type FileSpec } from './dir-discovery.ts';
import type { FileCheckpointer } from './file-checkpointer.ts';
import { endOfLastLine, gzipEndOfLastLine, readGzipFile, readPlainFile, type ReaderContext, type TrackedFile } from './file-reader.ts';
import type { FileSourceEvents } from './file-source-events.ts';
import { fingerprintGzipFile, fingerprintPlainFile } from './fingerprint.ts';
import type { BacklogProgress } from './progress.ts';
import { decideStart } from './start-position.ts';

/** A .gz only starts being compressed this long ago may just be unfinished, not damaged. */
const GZIP_SETTLE_MS = 30_000;

export interface FileTrackerOptions {
  files: readonly FileSpec[];
  /** Read links in a directory that point outside it (-audit-log-follow-symlinks). */
  followSymlinks: boolean;
  startAt: 'beginning' | 'end';
  progress?: BacklogProgress;
  reader: ReaderContext;
  /** A `-once` run: nothing is looked at again later. */
  onceMode(): boolean;
}

export class FileTracker {
  private readonly tracked = new Map<string, TrackedFile>();
  /** Files left alone until their size or mtime changes, by inode: read to their end, copies, damaged .gz. */
  private readonly leftAlone = new Map<string, { size: number; mtimeMs: number }>();
  /** Files that could not be opened on the last try, by path, with why. */
  private readonly unreadable = new Map<string, string>();
  private readonly missing: string[] = [];
  private readonly reader: ReaderContext;
  private readonly events: FileSourceEvents;
  private readonly checkpointer: FileCheckpointer;

  constructor(private readonly options: FileTrackerOptions) {
    this.reader = options.reader;
    this.events = options.reader.events;
    this.checkpointer = options.reader.checkpointer;
  }

  /** Bytes of unfinished last lines in the files held open. */
  pendingBytes(): number {
    let partial = 0;
    for (const t of this.tracked.values()) partial += t.pending;
    return partial;
  }

  unreadableFiles(): { file: string; error: string }[] {
    return [...this.unreadable].map(([file, error]) => ({ file, error }));
  }

  /** Lists the files and reads each to its end (see file-source.ts); throws when a read or commit fails. */
  async pass(initial: boolean): Promise<void> {
    const { files: candidates, refusedLinks, skipped } = await discoverFiles(this.options.files, { followSymlinks: this.options.followSymlinks });
    for (const refused of refusedLinks) this.events.symlinkNotFollowed(refused.link, refused.target, refused.dir);
    this.events.namesNotRead(skipped);
    if (initial) this.events.filesFound(candidates.map((c) => c.path));
    if (initial) this.reportMissingFiles(candidates);
    this.forgetWhatIsGone(candidates);
    const listed = new Set(candidates.map((c) => c.inode));
    const gone = [...this.tracked.values()].filter((t) => !listed.has(t.inode));
    const held = candidates.filter((c) => this.tracked.has(c.inode));
    const fresh = candidates.filter((c) => !this.tracked.has(c.inode) && !this.isLeftAlone(c));

    let backlog = 0;
    for (const t of gone) backlog += Math.max(0, (await t.handle.stat()).size - t.offset);
    for (const c of held) backlog += Math.max(0, c.size - this.tracked.get(c.inode)!.offset);
    for (const c of fresh) backlog += c.size;
    this.options.progress?.begin(backlog);
    try {
      for (const t of gone) await this.drainGone(t);
      for (const c of held) await this.follow(this.tracked.get(c.inode)!, c);
      for (const c of fresh) {
        if (this.reader.stopping()) break;
        if (c.gzip) await this.visitGzip(c, initial);
        else await this.visitPlain(c, initial);
      }
      await this.checkpointer.drain();
    } catch (error) {
      await this.checkpointer.reset();
      // Read again from what is committed; the sinks are idempotent.
      for (const t of this.tracked.values()) t.offset = t.committed;
      throw error;
    } finally {
      this.options.progress?.end();
    }
  }

  /** An inode number is reused once its file is gone, and a path may vanish: forget what was known. */
  private forgetWhatIsGone(candidates: FileCandidate[]): void {
    const inodes = new Set(candidates.map((c) => c.inode));
    for (const inode of this.leftAlone.keys()) if (!inodes.has(inode)) this.leftAlone.delete(inode);
    const paths = new Set(candidates.map((c) => c.path));
    for (const path of this.unreadable.keys()) {
      if (paths.has(path)) continue;
      this.unreadable.delete(path);
      this.events.fileReadableAgain(path, true);
    }
  }

  private reportMissingFiles(candidates: FileCandidate[]): void {
    const present = new Set(candidates.map((c) => resolve(c.path)));
    for (const spec of this.options.files) {
      if (!('file' in spec) || present.has(resolve(spec.file))) continue;
      this.missing.push(spec.file);
      this.events.fileMissing(spec.file, spec.flag ?? '-audit-log-file');
    }
  }

  /** Files named on their own (-audit-log-file) that did not exist at the first pass. */
  missingFiles(): string[] {
    return [...this.missing];
  }

  private isLeftAlone(c: FileCandidate): boolean {
    const known = this.leftAlone.get(c.inode);
    return known !== undefined && known.size === c.size && known.mtimeMs === c.mtimeMs;
  }

  private leaveAlone(c: { inode: string; size: number; mtimeMs: number }): void {
    this.leftAlone.set(c.inode, { size: c.size, mtimeMs: c.mtimeMs });
  }

  /** Another open file holds this content (a copytruncate copy, a hard link, a .gz being made). */
  private heldElsewhere(fingerprint: string, inode: string): TrackedFile | undefined {
    for (const t of this.tracked.values()) if (t.fingerprint === fingerprint && t.inode !== inode) return t;
    return undefined;
  }

  /** A file we held that is no longer listed: read it to its end through the open handle. */
  private async drainGone(t: TrackedFile): Promise<void> {
    const size = (await t.handle.stat()).size;
    const fingerprint = await fingerprintPlainFile(t.handle);
    if (t.fingerprint === undefined) t.fingerprint = fingerprint;
    else if (size < t.offset || fingerprint !== t.fingerprint) this.restartTruncated(t, fingerprint, size);
    t.size = Math.max(t.size, size);
    await readPlainFile(t, this.reader);
    if (this.reader.stopping()) return; // not at its end yet: finished after the restart, from the checkpoint
    if (t.pending > 0) this.events.garbage(t.path, 'unterminated-line', `${t.pending} bytes after the last newline`);
    await this.saveFinished(t);
    this.events.renamedAwayDrained(t.path, t.offset);
    await this.release(t);
  }

  /** A file we hold open and still see: detect truncation, then read what was appended. */
  private async follow(t: TrackedFile, c: FileCandidate): Promise<void> {
    if (t.path !== c.path) {
      this.events.followedRename(t.path, c.path);
      t.path = c.path;
    }
    t.backup = c.backup;
    t.mtimeMs = c.mtimeMs;
    const fingerprint = await fingerprintPlainFile(t.handle);
    if (t.fingerprint === undefined) {
      // Its first line just arrived: content seen before under another name resumes where it was.
      t.fingerprint = fingerprint;
      if (fingerprint && t.offset === 0 && !t.truncated) t.offset = t.committed = (await this.startOffset(c, fingerprint, false)) ?? 0;
    } else if (c.size < t.offset || fingerprint !== t.fingerprint) {
      this.restartTruncated(t, fingerprint, c.size);
    }
    t.size = c.size;
    await readPlainFile(t, this.reader);
    if (t.backup && !this.reader.stopping()) await this.finishBackup(t);
  }

  /**
   * copytruncate (or `> file`): the size fell below our position, or the file was truncated and
   * rewritten past it before we looked (a different first line). Its new content is read from 0.
   * (Truncated and rewritten past our position with the very same first line cannot be told apart
   * from appending; audit lines carry unique auditIDs, so that does not happen to audit logs.)
   */
  private restartTruncated(t: TrackedFile, fingerprint: string | undefined, size: number): void {
    this.events.truncated(t.path, t.offset, size);
    t.fingerprint = fingerprint;
    t.offset = t.committed = 0;
    t.truncated = true;
  }

  /** A plain file not held open: identify it, pick the start position, read it. */
  private async visitPlain(c: FileCandidate, initial: boolean): Promise<void> {
    const handle = await this.openForReading(c);
    if (!handle) return;
    const stats = await handle.stat();
    const inode = `${stats.dev}:${stats.ino}`;
    if (inode !== c.inode || this.tracked.has(inode)) {
      // Replaced between listing and opening: the next pass sees the new one.
      await handle.close();
      return;
    }
    const fingerprint = await fingerprintPlainFile(handle);
    const holder = fingerprint && this.heldElsewhere(fingerprint, inode);
    if (holder) {
      this.events.sameContentHeld(c.path, holder.path);
      this.options.progress?.discount(c.size);
      await handle.close();
      return;
    }
    // No fingerprint: no complete line yet, so nothing to skip either.
    const offset = fingerprint ? ((await this.startOffset({ ...c, size: stats.size }, fingerprint, initial, handle)) ?? 0) : 0;
    this.options.progress?.discount(offset);
    const t: TrackedFile = {
      inode,
      path: c.path,
      handle,
      fingerprint,
      offset,
      committed: offset,
      size: stats.size,
      mtimeMs: stats.mtimeMs,
      backup: c.backup,
      pending: 0,
      truncated: false,
    };
    this.tracked.set(inode, t);
    await readPlainFile(t, this.reader);
    if (t.backup && !this.reader.stopping()) await this.finishBackup(t);
  }

  /** A .gz file (a compressed backup): skipped when its content was read, else read from its start position. */
  private async visitGzip(c: FileCandidate, initial: boolean): Promise<void> {
    const handle = await this.openForReading(c);
    if (!handle) return;
    try {
      const fingerprint = await fingerprintGzipFile(handle);
      if (!fingerprint) {
        const settling = Date.now() - c.mtimeMs < GZIP_SETTLE_MS;
        this.events.gzipHeadUnreadable(c.path, settling);
        // One still being written is looked at again on the next pass; a damaged one once it changes.
        if (!settling || this.options.onceMode()) this.leaveAlone(c);
        this.options.progress?.discount(c.size);
        return;
      }
      if (this.heldElsewhere(fingerprint, c.inode)) {
        this.options.progress?.discount(c.size);
        return;
      }
      const offset = await this.startOffset(c, fingerprint, initial, handle);
      if (offset === undefined) {
        this.leaveAlone(c);
        this.options.progress?.discount(c.size);
        return;
      }
      const outcome = await readGzipFile(c.path, handle, fingerprint, offset, this.reader);
      if (outcome !== 'stopped') this.leaveAlone(c);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /**
   * Where reading `c` starts, as start-position.ts decides, doing the I/O the decision needs (finding
   * the end for -start-at=end, and saving it); undefined when the file is not to be read at all.
   */
  private async startOffset(c: FileCandidate, fingerprint: string, initial: boolean, handle?: FileHandle): Promise<number | undefined> {
    const checkpoint = this.checkpointer.get(fingerprint);
    const decision = decideStart({ gzip: c.gzip, checkpoint, size: c.gzip ? undefined : c.size, initial, startAt: this.options.startAt });
    switch (decision.start) {
      case 'skip-copy':
        this.events.copySkipped(c.path, decision.same);
        return undefined;
      case 'offset':
        if (decision.why === 'shorter-than-checkpoint') this.events.shorterThanCheckpoint(c.path, checkpoint!.offset, c.size);
        return decision.offset;
      case 'end': {
        if (c.gzip) {
          const end = await gzipEndOfLastLine(handle!);
          await this.checkpointer.saveNow(fingerprint, { path: c.path, offset: end, completed: true });
          this.events.startAtEndGzip(c.path);
          return undefined;
        }
        const end = await endOfLastLine(handle!, c.size);
        if (end > 0) {
          await this.checkpointer.saveNow(fingerprint, { path: c.path, offset: end, completed: false });
          this.events.startAtEnd(c.path, end);
        }
        return end;
      }
    }
  }

  /**
   * Opens a listed file (never through a link: dir-discovery.ts resolved the ones that may be read).
   * One that cannot be opened is skipped and reported, and the others are read.
   */
  private async openForReading(c: FileCandidate): Promise<FileHandle | undefined> {
    try {
      const handle = await open(c.openPath, OPEN_NO_FOLLOW);
      if (this.unreadable.delete(c.path)) this.events.fileReadableAgain(c.path, false);
      return handle;
    } catch (error) {
      const failure = error as NodeJS.ErrnoException;
      if (failure.code === 'ENOENT') return undefined;
      this.unreadable.set(c.path, failure.code === 'EACCES' || failure.code === 'EPERM' ? 'permission denied' : failure.message);
      this.events.fileUnreadable(c.path, failure);
      return undefined;
    }
  }

  /** A rotated backup read to its end: save it as completed (its .gz twin is then skipped) and let go. */
  private async finishBackup(t: TrackedFile): Promise<void> {
    await this.saveFinished(t);
    this.leaveAlone(t);
    await this.release(t);
  }

  private async saveFinished(t: TrackedFile): Promise<void> {
    // Let go only once everything of this file is committed: a failure keeps it open for the retry.
    await this.checkpointer.drain();
    if (t.fingerprint) await this.checkpointer.saveCompleted(t.path, t.fingerprint, t.offset);
  }

  private async release(t: TrackedFile): Promise<void> {
    this.tracked.delete(t.inode);
    this.events.fileReleased(t.path);
    await t.handle.close().catch(() => undefined);
  }

  /** Lets go of every file (after a -once run, or on stop). */
  async closeAll(): Promise<void> {
    await this.checkpointer.reset();
    for (const t of [...this.tracked.values()]) await this.release(t);
  }
}
