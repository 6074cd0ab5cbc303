/**
 * Follows line-oriented log files (plain or .gz) into a LineSink, across rotation, and saves read
 * positions only for committed data. Generic over what a line becomes: audit-sink.ts makes audit
 * lines into sessions; the same source reads KubeArmor JSON lines with another sink.
 *
 * This module is the loop (Vector's file_server): when to pass, retries, the watcher, health. One
 * module per job beside it: which files (dir-discovery.ts), the files known and one pass over them
 * (file-tracker.ts), where to start in one (start-position.ts), reading one (file-reader.ts), saving
 * positions after commit (file-checkpointer.ts), and everything it says (file-source-events.ts).
 * A pass lists the files, then reads each to its end, oldest first:
 *   1. files we hold open that are no longer listed (renamed away, deleted) are drained through the
 *      open handle to their end, and let go: their last lines are not lost to the rename;
 *   2. files we hold open are checked for truncation (size below our position, or a different first
 *      line: copytruncate) and read from where we are (or from 0 when truncated);
 *   3. files not held open are identified by fingerprint (fingerprint.ts): a copy of content we read
 *      or are reading (the .gz of a backup, a copytruncate copy) is skipped, anything else is read
 *      from where start-position.ts says.
 * Rotated backups and .gz files are let go once read to their end; live files stay open. A file read
 * to its end, a copy, or a damaged .gz is left alone until its size or mtime changes.
 *
 * A pass runs on every chokidar event and on a timer: chokidar drops `change` events within 50 ms of
 * each other and reports a rename-and-recreate as a `change`, so no event is trusted to say what
 * happened; each pass looks at inode, size and first line itself. A failed pass is retried with
 * backoff from the last committed position.
 */
import { basename, dirname, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { ReadinessContributor } from '../observe/readiness.ts';
import { Backoff, sleepUnlessAborted } from '../time/backoff.ts';
import type { CheckpointStore } from './checkpoints.ts';
import { CutterThread, CutterThreadStopped } from './cutter-thread.ts';
import { isDefaultAuditDirName, type FileSpec } from './dir-discovery.ts';
import { FileCheckpointer } from './file-checkpointer.ts';
import type { ReaderContext } from './file-reader.ts';
import { FileSourceEvents, type FileSourcePhase, type FileSourceStats, type LineCounters } from './file-source-events.ts';
import { FileTracker } from './file-tracker.ts';
import type { LineSink } from './line-sink.ts';
import type { BacklogProgress } from './progress.ts';

export type { FileSpec } from './dir-discovery.ts';
export type { FileSourceStats } from './file-source-events.ts';

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

export interface FileSourceOptions {
  files: FileSpec[];
  sink: LineSink;
  checkpoints: CheckpointStore;
  metrics: Metrics;
  logger: Logger;
  /** Longer lines are skipped and counted (bad input `line-too-long`). */
  maxLineBytes?: number;
  /** Where to start in a file never seen before that is already there at startup. */
  startAt?: 'beginning' | 'end';
  /** Bytes per read (and at most per batch): large reads keep syscalls and batches few. */
  readChunkBytes?: number;
  /** Batches handed to the sink and not yet committed before reading pauses. */
  maxBatchesInFlight?: number;
  /** The safety-net pass interval, whatever chokidar reports. */
  statIntervalMs?: number;
  /** First delay after a failed pass (doubles, with jitter, up to 30 s). */
  retryDelayMs?: number;
  /** Read links in a directory that point outside it (-audit-log-follow-symlinks). */
  followSymlinks?: boolean;
  /** How often a condition that repeats (an unreadable file, a failing pass) is logged again. */
  repeatLogIntervalMs?: number;
  /** Where lines and bytes read are counted; default the audit log counters. */
  counters?: LineCounters;
  progress?: BacklogProgress;
}

/** Whether the source can read, for /readyz (its field names are documented in the README). */
export interface FileSourceHealth {
  /** starting: before the first pass; reading-backlog: the first pass; following; failing: the last pass failed; stopped. */
  state: 'starting' | 'reading-backlog' | 'following' | 'failing' | 'stopped';
  /** The last pass that succeeded (RFC 3339), or null. */
  lastPassAt: string | null;
  /** While failing: the error (and what to do), since when, and how many passes failed in a row. */
  error: string | null;
  failingSince: string | null;
  failedPasses: number;
  /** Files listed that cannot be opened, each with why. */
  unreadableFiles: { file: string; error: string }[];
}

export class FileSource {
  private readonly tracker: FileTracker;
  private readonly events: FileSourceEvents;
  private readonly checkpointer: FileCheckpointer;
  private readonly reader: ReaderContext;
  private readonly cutters: CutterThread;
  private readonly retry: Backoff;
  private readonly stopSignal = new AbortController();
  private startedAt = Date.now();
  private checkpointsLoaded = false;
  private initialPassDone = false;
  private onceMode = false;
  private started = false;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopping = false;
  private lastPassAt: string | null = null;
  private failure: { message: string; since: string; passes: number } | undefined;

  constructor(private readonly options: FileSourceOptions) {
    this.events = new FileSourceEvents({
      logger: options.logger,
      metrics: options.metrics,
      phase: (): FileSourcePhase => (this.onceMode ? 'once' : this.initialPassDone ? 'follow' : 'backlog'),
      repeatIntervalMs: options.repeatLogIntervalMs,
      counters: options.counters,
    });
    this.checkpointer = new FileCheckpointer(options.sink, options.checkpoints, this.events, options.maxBatchesInFlight ?? 2);
    this.cutters = new CutterThread(options.logger);
    this.reader = {
      maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
      // A backfill is bounded by commit latency (one transaction and one checkpoint per batch), not CPU:
      // 8 MiB batches read a 1 GB log at 153 MB/s against 95 MB/s with 4 MiB, for ~17 MB more RSS.
      readChunkBytes: options.readChunkBytes ?? 8 * 1024 * 1024,
      lineSelection: options.sink.lineSelection ?? 'all',
      cutters: this.cutters,
      checkpointer: this.checkpointer,
      events: this.events,
      progress: options.progress,
      stopping: () => this.stopping,
    };
    this.retry = new Backoff({ initialMs: options.retryDelayMs ?? 1000, maxMs: 30_000 });
    this.tracker = new FileTracker({
      files: options.files,
      followSymlinks: options.followSymlinks ?? false,
      startAt: options.startAt ?? 'beginning',
      progress: options.progress,
      reader: this.reader,
      onceMode: () => this.onceMode,
    });
  }

  /** `-once`: reads everything the files hold now (the .gz backups included), then lets go of them. */
  async runOnce(): Promise<FileSourceStats> {
    this.onceMode = true;
    this.startedAt = Date.now();
    try {
      await this.poll();
    } finally {
      await this.closeAll();
    }
    return this.snapshotStats();
  }

  /** Reads the backlog (resolves once a first pass has succeeded), then keeps following until stop(). */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.started = true;
    await this.loadCheckpoints();
    this.startWatching();
    this.timer = setInterval(() => this.wake(), this.options.statIntervalMs ?? 1000);
    this.wake();
    while (!this.initialPassDone && !this.stopping && this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.stopSignal.abort();
    await this.watcher?.close();
    await this.running;
    await this.closeAll();
  }

  /** One pass now (waits for a running one first). For tests and step-by-step use. */
  async poll(): Promise<void> {
    await this.running;
    await this.loadCheckpoints();
    try {
      await this.pass(!this.initialPassDone);
    } catch (error) {
      // The cutting thread stopped mid-read: the pass went back to what is committed, and every read
      // is now cut inline, so the same pass made again reads those lines (a followed source's loop
      // does the same after its backoff).
      if (!(error instanceof CutterThreadStopped)) throw error;
      await this.pass(!this.initialPassDone);
    }
    this.initialPassDone = true;
  }

  snapshotStats(): FileSourceStats {
    const partialLineBytes = this.tracker.pendingBytes();
    return {
      ...this.events.stats,
      filesRead: this.checkpointer.filesRead,
      partialLineBytes,
      missingFiles: this.tracker.missingFiles(),
      elapsedMs: Date.now() - this.startedAt,
    };
  }

  health(): FileSourceHealth {
    const state = this.stopping
      ? 'stopped'
      : this.failure
        ? 'failing'
        : !this.started && !this.initialPassDone
          ? 'starting'
          : this.initialPassDone
            ? 'following'
            : 'reading-backlog';
    return {
      state,
      lastPassAt: this.lastPassAt,
      error: this.failure?.message ?? null,
      failingSince: this.failure?.since ?? null,
      failedPasses: this.failure?.passes ?? 0,
      unreadableFiles: this.tracker.unreadableFiles(),
    };
  }

  private async loadCheckpoints(): Promise<void> {
    if (this.checkpointsLoaded) return;
    await this.checkpointer.load();
    this.checkpointsLoaded = true;
  }

  // ---- the loop -------------------------------------------------------------------------------

  private wake(): void {
    if (this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.pass(!this.initialPassDone);
        this.initialPassDone = true;
        this.lastPassAt = new Date().toISOString();
        this.retry.reset();
        if (this.failure) this.events.passSucceeded();
        this.failure = undefined;
      } catch (error) {
        const delay = this.retry.next();
        const message = (error as Error).message;
        this.failure = { message, since: this.failure?.since ?? new Date().toISOString(), passes: (this.failure?.passes ?? 0) + 1 };
        this.events.passFailed(error as Error, delay);
        await sleepUnlessAborted(delay, this.stopSignal.signal);
        this.again = true;
      }
    } while (this.again && !this.stopping);
  }

  private startWatching(): void {
    const files = new Set<string>();
    const dirs = new Map<string, (name: string) => boolean>();
    for (const spec of this.options.files) {
      if ('file' in spec) files.add(resolve(spec.file));
      else dirs.set(resolve(spec.dir), spec.accept ?? isDefaultAuditDirName);
    }
    const watched = new Set([...dirs.keys(), ...[...files].map((f) => dirname(f))]);
    this.watcher = watch([...watched], { ignoreInitial: true, depth: 0, ignorePermissionErrors: true, followSymlinks: this.options.followSymlinks ?? false });
    this.watcher.on('all', (_event, path) => {
      const full = resolve(path);
      const accept = dirs.get(dirname(full));
      if (files.has(full) || accept?.(basename(full))) this.wake();
    });
    this.watcher.on('error', (error) => this.events.watcherFailed(error as Error));
  }

  private async pass(initial: boolean): Promise<void> {
    await this.tracker.pass(initial);
  }

  private async closeAll(): Promise<void> {
    await this.tracker.closeAll();
    await this.cutters.close();
  }
}

/**
 * A file source's part of /readyz: one entry of `fileSources` (`source`, `paths`, then the fields of
 * FileSourceHealth), and not ready while it cannot read: its last pass failed (a missing
 * -audit-log-dir, a database that refuses the batch), or a file it lists cannot be opened.
 */
export function fileSourceReadiness(source: string, paths: readonly string[], files: Pick<FileSource, 'health'>): ReadinessContributor {
  return () => {
    const health = files.health();
    const reasons: string[] = [];
    if (health.state === 'failing') {
      reasons.push(`${source} files: ${health.error} (failing since ${health.failingSince}, ${health.failedPasses} attempt${health.failedPasses === 1 ? '' : 's'})`);
    }
    for (const { file, error } of health.unreadableFiles) reasons.push(`${source} files: cannot read ${file}: ${error}; fix its permissions or ownership`);
    return { ready: reasons.length === 0, reasons, fields: { fileSources: [{ source, paths, ...health }] } };
  };
}
