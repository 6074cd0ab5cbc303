/**
 * `-audit-log-file` / `-audit-log-dir`: the generic file source with the audit sink, checkpoints in
 * scope `audit`, and progress on stderr. What cmd/audit-processor.ts starts.
 */
import type { ExtractContext } from '../audit/extract.ts';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { Database } from '../store/database.ts';
import { SessionWriter } from '../store/session-writer.ts';
import { createAuditIntake } from './audit-intake.ts';
import { createAuditSink } from './audit-sink.ts';
import { CheckpointStore } from './checkpoints.ts';
import { dirNameFilter, type FileSpec } from './dir-discovery.ts';
import type { ReadinessContributor } from '../observe/readiness.ts';
import { FileSource, fileSourceReadiness, type FileSourceStats } from './file-source.ts';
import { formatDuration } from '../time/duration.ts';
import { BacklogProgress, megabytes } from './progress.ts';

export interface AuditFileFlags {
  'audit-log-file': string;
  'audit-log-dir': string;
  /** Globs of the names -audit-log-dir reads; empty for the default set. */
  'audit-log-dir-pattern'?: readonly string[];
  'start-at': 'beginning' | 'end';
  'max-line-bytes': number;
  /** Milliseconds; 0 for none. */
  'progress-interval': number;
  'audit-log-follow-symlinks'?: boolean;
  /** Milliseconds. */
  'log-repeat-interval'?: number;
  cluster: string;
}

export function auditFileSpecs(flags: Pick<AuditFileFlags, 'audit-log-file' | 'audit-log-dir' | 'audit-log-dir-pattern'>): FileSpec[] {
  const specs: FileSpec[] = [];
  if (flags['audit-log-dir']) specs.push({ dir: flags['audit-log-dir'], accept: dirNameFilter(flags['audit-log-dir-pattern'] ?? []) });
  if (flags['audit-log-file']) specs.push({ file: flags['audit-log-file'] });
  return specs;
}

export function createAuditFileSource(options: {
  db: Database;
  flags: AuditFileFlags;
  metrics: Metrics;
  logger: Logger;
  writer?: SessionWriter;
  context?: ExtractContext;
}): FileSource {
  const { db, flags, metrics, logger } = options;
  const sink = createAuditSink({
    intake: createAuditIntake({ writer: options.writer ?? new SessionWriter(db), metrics, logger }),
    context: options.context ?? { cluster: flags.cluster },
    metrics,
  });
  return new FileSource({
    files: auditFileSpecs(flags),
    sink,
    checkpoints: new CheckpointStore(db, flags.cluster, 'audit'),
    metrics,
    logger,
    maxLineBytes: flags['max-line-bytes'],
    // 2 MiB batches: exec-heavy input (every line a session) peaked at 400 MB with 8 MiB, 229 MB with 2 MiB, in the same time.
    readChunkBytes: 2 * 1024 * 1024,
    // Up to 8 batches outstanding, as long as the sink has room for their stages (audit-sink.ts): the 1 GiB
    // backfill waited on commits for 0.95 s of its 2.0 s with 2, 0.26 s with 8, and took 1.67 s instead of 2.28 s.
    maxBatchesInFlight: 8,
    startAt: flags['start-at'],
    followSymlinks: flags['audit-log-follow-symlinks'],
    repeatLogIntervalMs: flags['log-repeat-interval'] || undefined,
    progress: new BacklogProgress({ logger, intervalMs: flags['progress-interval'], stream: process.stderr }),
  });
}

/** The audit file source's part of /readyz (`fileSources[].source` is "audit"). */
export function auditFileReadiness(flags: Pick<AuditFileFlags, 'audit-log-file' | 'audit-log-dir'>, files: Pick<FileSource, 'health'>): ReadinessContributor {
  return fileSourceReadiness('audit', auditFileSpecs(flags).map((spec) => ('file' in spec ? spec.file : spec.dir)), files);
}

/** The file part of the `-once` summary. */
export function describeFileIngest(stats: FileSourceStats): string {
  const seconds = stats.elapsedMs / 1000;
  // The rate is of text read (decompressed for .gz): that is the work done.
  const rate = seconds > 0 ? stats.bytesRead / 1e6 / seconds : 0;
  const text = megabytes(stats.bytesRead);
  const disk = megabytes(stats.diskBytesRead);
  const parts = [
    `read ${stats.linesRead} lines from ${stats.filesRead} file${stats.filesRead === 1 ? '' : 's'} ` +
      `(${text} MB${disk !== text ? `, ${disk} MB on disk` : ''}) in ${formatDuration(stats.elapsedMs)}, ${rate.toFixed(1)} MB/s`,
  ];
  if (stats.copiesSkipped) parts.push(`${stats.copiesSkipped} compressed cop${stats.copiesSkipped === 1 ? 'y' : 'ies'} of files already read skipped`);
  if (stats.linesTooLong) parts.push(`${stats.linesTooLong} over-long line${stats.linesTooLong === 1 ? '' : 's'} skipped`);
  if (stats.linesGarbage) parts.push(`${stats.linesGarbage} garbage line${stats.linesGarbage === 1 ? '' : 's'} skipped`);
  if (stats.partialLineBytes) parts.push(`${stats.partialLineBytes} bytes of an unfinished last line left until its newline arrives`);
  return parts.join('; ');
}
