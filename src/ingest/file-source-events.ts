/**
 * Everything the file source says: every log line, metric and `-once` statistic it emits is one
 * method here (Vector's internal_events). Reading this module tells you all a file source can report;
 * the reader, the checkpointer and the loop call these methods and never log or count on their own.
 *
 * Conditions that repeat on every pass (a file that stays unreadable, a pass that keeps failing) are
 * logged the first time, then at most once per -log-repeat-interval with how many were held back,
 * and once more when they clear; `exectrail_file_source_errors_total` keeps the full count.
 */
import { countBadInput, type BadInputReason } from '../observe/bad-input.ts';
import type { Counter } from 'prom-client';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import { RepeatLimiter } from '../observe/repeat-limiter.ts';
import { formatDuration } from '../time/duration.ts';
import { megabytes } from './progress.ts';

/** What a run did, for the `-once` summary. */
export interface FileSourceStats {
  /** Distinct files (by fingerprint) lines were read from. */
  filesRead: number;
  /** Files skipped because their content was already read under another name (mostly .gz backups). */
  copiesSkipped: number;
  /** Bytes of finished lines consumed (decompressed for .gz). */
  bytesRead: number;
  /** Bytes read from disk (compressed for .gz): what MB/s is measured on. */
  diskBytesRead: number;
  linesRead: number;
  linesTooLong: number;
  linesGarbage: number;
  truncations: number;
  /** .gz files found damaged or truncated (each counted once until it changes). */
  damagedGzip: number;
  /** Bytes of unfinished last lines, left to be read once their newline arrives. */
  partialLineBytes: number;
  /** Files named on their own that did not exist when the source started (a `-once` run then fails). */
  missingFiles: string[];
  elapsedMs: number;
}

/** Bad input a file source finds in the bytes themselves, before any line is parsed. */
export type FileGarbageReason = Extract<BadInputReason, 'binary' | 'invalid-utf8' | 'unterminated-line'>;

/**
 * once: a `-once` run (everything is worth an info line); backlog: the first pass of a follow run;
 * follow: later passes (routine reads are debug).
 */
export type FileSourcePhase = 'once' | 'backlog' | 'follow';

/** Garbage warnings per file before the rest go to debug (the counter keeps counting). */
const GARBAGE_WARNINGS_PER_FILE = 5;

/** Where a source counts the lines and bytes it reads (audit logs and KubeArmor lines apart). */
export interface LineCounters {
  lines: Pick<Counter, 'inc'>;
  bytes: Pick<Counter, 'inc'>;
}

export interface FileSourceEventsOptions {
  logger: Logger;
  metrics: Metrics;
  /** Default: exectrail_lines_read_total and exectrail_bytes_read_total (audit logs). */
  counters?: LineCounters;
  phase: () => FileSourcePhase;
  /** How often a condition that repeats is logged again (default 5 minutes). */
  repeatIntervalMs?: number;
  now?: () => number;
}

export const DEFAULT_REPEAT_LOG_INTERVAL_MS = 5 * 60_000;

export class FileSourceEvents {
  readonly stats: FileSourceStats = {
    filesRead: 0,
    copiesSkipped: 0,
    bytesRead: 0,
    diskBytesRead: 0,
    linesRead: 0,
    linesTooLong: 0,
    linesGarbage: 0,
    truncations: 0,
    damagedGzip: 0,
    partialLineBytes: 0,
    missingFiles: [],
    elapsedMs: 0,
  };
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly repeats: RepeatLimiter;
  private readonly counters: LineCounters;
  private readonly garbageWarnings = new Map<string, number>();
  private readonly linksReported = new Set<string>();
  private readonly namesReported = new Set<string>();

  constructor(private readonly options: FileSourceEventsOptions) {
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.repeats = new RepeatLimiter(options.repeatIntervalMs ?? DEFAULT_REPEAT_LOG_INTERVAL_MS, options.now);
    this.counters = options.counters ?? { lines: options.metrics.linesRead, bytes: options.metrics.bytesRead };
  }

  private get phase(): FileSourcePhase {
    return this.options.phase();
  }

  // ---- the loop -------------------------------------------------------------------------------

  passFailed(error: Error, retryInMs: number): void {
    this.metrics.fileSourceErrors.inc({ error: 'pass-failed' });
    const repeat = this.repeats.occurred(`pass:${error.message}`);
    if (!repeat.log) return;
    const held = repeat.suppressed ? ` (${repeat.suppressed} more failures like this since the last report)` : '';
    this.logger.error(
      { err: error, retryInMs, attempts: repeat.occurrences, suppressed: repeat.suppressed },
      `reading log files failed: ${error.message}; nothing past the last saved position is lost, retrying in ${formatDuration(retryInMs)}${held}`,
    );
  }

  passSucceeded(): void {
    for (const key of this.repeats.active()) {
      if (!key.startsWith('pass:')) continue;
      const attempts = this.repeats.cleared(key);
      this.logger.info({ attempts }, `reading log files again after ${attempts} failed attempt${attempts === 1 ? '' : 's'}`);
    }
  }

  watcherFailed(error: Error): void {
    this.logger.warn({ err: error }, `file watcher: ${error.message}; the periodic check keeps reading`);
  }

  fileMissing(path: string, flag: string): void {
    if (this.phase === 'once') this.logger.warn({ file: path }, `${path} does not exist: nothing read from it; check ${flag}`);
    else this.logger.info({ file: path }, `${path} does not exist yet; it is read from its first line as soon as it appears`);
  }

  /** At start-up: the files the first pass reads. */
  filesFound(paths: readonly string[]): void {
    const shown = paths.slice(0, 20).join(', ');
    const more = paths.length > 20 ? ` and ${paths.length - 20} more` : '';
    this.logger.info({ files: paths.length }, `reading ${paths.length} file${paths.length === 1 ? '' : 's'}${paths.length ? `: ${shown}${more}` : ''}`);
  }

  /** Files in a directory whose names its patterns do not take: each said once. */
  namesNotRead(skipped: readonly { dir: string; name: string }[]): void {
    const fresh = skipped.filter(({ dir, name }) => {
      const key = `${dir}\0${name}`;
      if (this.namesReported.has(key)) return false;
      this.namesReported.add(key);
      return true;
    });
    if (fresh.length === 0) return;
    const names = fresh.slice(0, 20).map((s) => s.name).join(', ');
    const more = fresh.length > 20 ? ` and ${fresh.length - 20} more` : '';
    this.logger.info(
      { dir: fresh[0]!.dir, skipped: fresh.length },
      `not reading ${fresh.length} file${fresh.length === 1 ? '' : 's'} in ${fresh[0]!.dir} whose names no -audit-log-dir-pattern takes: ${names}${more}`,
    );
  }

  /** Said once per link (and again if it changes target). */
  symlinkNotFollowed(link: string, target: string, dir: string): void {
    const key = `${link}\0${target}`;
    if (this.linksReported.has(key)) return;
    this.linksReported.add(key);
    this.logger.warn(
      { file: link, target, dir },
      `not reading ${link}: it is a symbolic link to ${target}, outside ${dir}; give -audit-log-follow-symlinks to read such links`,
    );
  }

  // ---- one file -------------------------------------------------------------------------------

  fileUnreadable(path: string, error: NodeJS.ErrnoException): void {
    this.metrics.fileSourceErrors.inc({ error: 'unreadable' });
    const repeat = this.repeats.occurred(`file:${path}`);
    if (!repeat.log) return;
    const why =
      error.code === 'EACCES' || error.code === 'EPERM'
        ? 'permission denied; the audit log is mode 0600, run as root or add the file\'s group'
        : `${error.message}; check the file`;
    const held = repeat.suppressed ? ` (failed ${repeat.suppressed} more times since the last report)` : '';
    this.logger.error({ file: path, code: error.code, attempts: repeat.occurrences, suppressed: repeat.suppressed }, `cannot read ${path}: ${why}; skipping it, trying again on every pass${held}`);
  }

  /** A file that was unreadable can be opened again (or is gone). */
  fileReadableAgain(path: string, gone: boolean): void {
    const attempts = this.repeats.cleared(`file:${path}`);
    if (attempts === 0 || gone) return;
    this.logger.info({ file: path, attempts }, `${path} can be read again (after ${attempts} failed attempts)`);
  }

  renamedAwayDrained(path: string, offset: number): void {
    this.logger.info({ file: path, offset }, `${path} was renamed or deleted; read it to its end through the open file before moving on`);
  }

  followedRename(from: string, to: string): void {
    this.metrics.checkpointLagBytes.remove({ file: from });
    this.logger.debug({ from, to }, 'followed file renamed');
  }

  truncated(path: string, offset: number, size: number): void {
    this.stats.truncations++;
    this.logger.info({ file: path, offset, size }, `${path} was truncated (size ${size} < position ${offset}, or its first line changed); reading it again from the start`);
  }

  shorterThanCheckpoint(path: string, offset: number, size: number): void {
    this.stats.truncations++;
    this.logger.info({ file: path, offset, size }, `${path} is shorter than when it was last read (truncated?); reading it from the start`);
  }

  sameContentHeld(path: string, holder: string): void {
    this.logger.debug({ file: path, same: holder }, 'same content as a file being read; skipped for now');
  }

  startAtEnd(path: string, offset: number): void {
    this.logger.info({ file: path, offset }, `-start-at=end: ${path} is read from its end (${megabytes(offset)} MB skipped)`);
  }

  startAtEndGzip(path: string): void {
    this.logger.info({ file: path }, `-start-at=end: ${path} is left unread`);
  }

  copySkipped(path: string, same: string): void {
    this.stats.copiesSkipped++;
    this.logger.info({ file: path, same }, `skipped ${path}: same content as ${same}, already read`);
  }

  /**
   * A .gz whose first line cannot be decompressed. Recently written, it is probably still being
   * compressed: said at debug, and looked at again when it changes. Otherwise it is damaged.
   */
  gzipHeadUnreadable(path: string, recentlyWritten: boolean): void {
    if (recentlyWritten && this.phase !== 'once') {
      this.logger.debug({ file: path }, `cannot read the first line of ${path} yet (still being compressed?); it is looked at again when it changes`);
      return;
    }
    this.gzipDamaged(path, 'not gzip, damaged, or empty: its first line cannot be read');
  }

  /** A .gz that cannot be read to its end: counted once, and left alone until its size or mtime changes. */
  gzipDamaged(path: string, detail: string): void {
    this.stats.damagedGzip++;
    countBadInput(this.metrics, 'damaged-gzip');
    this.logger.warn({ file: path, reason: 'damaged-gzip' }, `cannot read ${path} to its end: ${detail}; the lines before that are stored, and it is read again only once it changes`);
  }

  // ---- lines ----------------------------------------------------------------------------------

  lineTooLong(path: string, bytes: number, maxLineBytes: number): void {
    this.stats.linesTooLong++;
    countBadInput(this.metrics, 'line-too-long');
    this.logger.warn(
      { file: path, bytes, maxLineBytes },
      `skipped a line of ${megabytes(bytes)} MB in ${path}: longer than -max-line-bytes (${maxLineBytes}); raise it to keep such lines`,
    );
  }

  garbage(path: string, reason: FileGarbageReason, detail: string): void {
    this.stats.linesGarbage++;
    countBadInput(this.metrics, reason);
    const warned = this.garbageWarnings.get(path) ?? 0;
    this.garbageWarnings.set(path, warned + 1);
    if (warned < GARBAGE_WARNINGS_PER_FILE) this.logger.warn({ file: path, reason }, `skipped ${detail} in ${path} (${reason}); the lines after it are read`);
    else this.logger.debug({ file: path, reason }, `skipped ${detail}`);
  }

  /** Lines (and the bytes they span) handed on, whether kept or dropped as bad input. */
  linesRead(lines: number, bytes: number): void {
    this.stats.linesRead += lines;
    this.stats.bytesRead += bytes;
    this.counters.lines.inc(lines);
    this.counters.bytes.inc(bytes);
  }

  diskRead(bytes: number): void {
    this.stats.diskBytesRead += bytes;
  }

  checkpointSaved(path: string, offset: number, completed: boolean): void {
    this.logger.debug({ file: path, offset, completed }, 'checkpoint saved');
  }

  checkpointLag(path: string, bytes: number): void {
    this.metrics.checkpointLagBytes.set({ file: path }, Math.max(0, bytes));
  }

  fileReleased(path: string): void {
    this.metrics.checkpointLagBytes.remove({ file: path });
  }

  /** One read of one file is over. */
  visited(path: string, lines: number, bytes: number, finished: boolean): void {
    if (lines === 0) return;
    const fields = { file: path, lines, bytes };
    const message = `read ${lines} lines (${megabytes(bytes)} MB) of ${path}`;
    if (this.phase !== 'follow' || finished) this.logger.info(fields, message);
    else this.logger.debug(fields, message);
  }
}
