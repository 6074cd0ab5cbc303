/**
 * `-kubearmor-file PATH|-`: KubeArmor JSON lines (json-lines.ts says which forms) into runtime_events.
 *
 * A PATH is read by the generic file source (src/ingest/file-source.ts) like an audit log: followed as
 * it grows, across rotation, with positions saved in file_checkpoints under scope `kubearmor` only after
 * the events before them are committed. `-` is standard input (`kubectl logs -f ... | audit-processor
 * -kubearmor-file -`): no position to save, read to its end by a small reader of our own.
 *
 * Both hand lines to the same sink, which stores through the one RuntimeEventWriter and resolves after
 * COMMIT (the LineSink contract). The writer is idempotent, so lines read again after a crash between
 * a commit and a position save change nothing.
 */
import type { Readable } from 'node:stream';
import { CheckpointStore } from '../ingest/checkpoints.ts';
import { FileSource, type FileSourceHealth } from '../ingest/file-source.ts';
import { linesOf, type LineBatch, type LineSink } from '../ingest/line-sink.ts';
import { LineRun } from '../ingest/line-splitter.ts';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { Database } from '../store/database.ts';
import { Backoff } from '../time/backoff.ts';
import type { Redaction } from '../audit/redact.ts';
import type { RawKept } from './event.ts';
import { RuntimeLinesBatch, type PreparedRuntimeLines } from './line-batch.ts';
import { PrepareThread, PrepareThreadStopped } from './prepare-thread.ts';
import type { RuntimeEventWriter } from './writer.ts';

/** Bad lines logged at warn before falling back to one in a thousand (the counters keep counting). */
const WARN_FIRST_BAD_LINES = 20;

/** Lines read between two turns of the event loop when a batch is read inline (a few milliseconds of work). */
const PARSE_SLICE_LINES = 256;

/** A batch of at least this many lines is read on the normalising thread; fewer (a followed file's appends) inline. */
export const ON_THREAD_FROM_LINES = PARSE_SLICE_LINES;

/** What the KubeArmor line sink has seen, for the `-once` summary. */
export interface RuntimeLineStats {
  lines: number;
  events: number;
  /** The relay's own log lines (zap JSON) and blank lines. */
  skipped: number;
  rejected: number;
}

export interface RuntimeLineSink extends LineSink {
  stats(): RuntimeLineStats;
  /** Ends the normalising thread if the sink started its own (not one it was given). */
  close(): Promise<void>;
}

export interface RuntimeLineSinkOptions {
  writer: Pick<RuntimeEventWriter, 'writePrepared' | 'operationsKept'>;
  cluster: string;
  redaction?: Redaction;
  raw?: RawKept;
  metrics: Metrics;
  logger: Logger;
  /** Where backlogs are read (prepare-thread.ts): a thread it is given (and does not end), by default one of its own; false: inline. */
  thread?: PrepareThread | false;
}

export function createRuntimeLineSink(options: RuntimeLineSinkOptions): RuntimeLineSink {
  const { writer, cluster, redaction, raw, metrics, logger } = options;
  const stats: RuntimeLineStats = { lines: 0, events: 0, skipped: 0, rejected: 0 };
  const operations = writer.operationsKept;
  const thread = options.thread === false ? undefined : (options.thread ?? new PrepareThread({ cluster, redaction, raw, operations }, logger));

  /**
   * A batch read inline, a slice of lines at a time with a turn of the event loop between slices: the
   * previous batch's COPY and statements are sent and answered in those turns, so the database works on
   * batch n while batch n+1 is read instead of waiting for the whole of it (profiled: a third of the run
   * was idle with the parse done in one go).
   */
  const prepareInline = async (batch: LineBatch, receivedAt: string): Promise<PreparedRuntimeLines> => {
    const lines = new RuntimeLinesBatch({ cluster, receivedAt, redaction, raw, operations });
    const all = linesOf(batch);
    for (let from = 0; from < all.length; from += PARSE_SLICE_LINES) {
      if (from > 0) await new Promise((resolve) => setImmediate(resolve));
      const to = Math.min(all.length, from + PARSE_SLICE_LINES);
      for (let i = from; i < to; i++) lines.add(all[i]!);
    }
    return lines.finish();
  };

  const prepare = async (batch: LineBatch): Promise<PreparedRuntimeLines> => {
    const receivedAt = new Date().toISOString();
    let lineCount = 0;
    for (const run of batch.runs) lineCount += run.count;
    if (thread?.usable && lineCount >= ON_THREAD_FROM_LINES) {
      try {
        return await thread.prepareLines(batch.runs, receivedAt);
      } catch (error) {
        // The batch still holds its lines: read them here (the thread said why, once).
        if (!(error instanceof PrepareThreadStopped)) throw error;
      }
    }
    return prepareInline(batch, receivedAt);
  };

  const count = (result: PreparedRuntimeLines, path: string) => {
    stats.lines += result.lines;
    stats.events += result.events;
    stats.skipped += result.skipped;
    metrics.runtimeEventsReceived.inc({ source: 'file' }, result.events);
    for (const [reason, n] of Object.entries(result.repaired)) metrics.badInput.inc({ reason }, n);
    for (const { reason, detail } of result.rejected) {
      stats.rejected++;
      metrics.badInput.inc({ reason });
      const fields = { file: path, reason, detail };
      if (stats.rejected <= WARN_FIRST_BAD_LINES || stats.rejected % 1000 === 0)
        logger.warn(fields, `skipped a line of ${path} that is not a KubeArmor event (${reason}: ${detail}); the lines after it are read`);
      else logger.debug(fields, 'skipped bad KubeArmor line');
    }
  };

  return {
    stats: () => ({ ...stats }),
    close: async () => {
      if (options.thread === undefined) await thread?.close();
    },
    // Batches are written as soon as they are read, so two can be in the database at once (the source
    // allows two outstanding): one's statements run in the other's round trips. The writer is
    // idempotent, and the source saves positions in order whatever commits first.
    async write(batch: LineBatch): Promise<void> {
      const result = await prepare(batch);
      count(result, batch.path);
      if (result.prepared.rows.events.length > 0 || Object.keys(result.prepared.filtered).length > 0) await writer.writePrepared(result.prepared);
    },
  };
}

export interface RuntimeFileSource {
  /** Follows the file (or reads stdin) until stop(); resolves once the backlog is read. */
  start(): Promise<void>;
  /** `-once`: reads what is there now (stdin: to its end) and lets go. */
  runOnce(): Promise<RuntimeLineStats>;
  stop(): Promise<void>;
  stats(): RuntimeLineStats;
  /** A file (not stdin): whether it can be read, for /readyz. */
  health?: () => FileSourceHealth;
}

export interface RuntimeFileOptions extends RuntimeLineSinkOptions {
  /** A path, or `-` for standard input. */
  path: string;
  db: Database;
  maxLineBytes?: number;
  /** For tests: what `-` reads instead of process.stdin. */
  stdin?: Readable;
}

export function createRuntimeFileSource(options: RuntimeFileOptions): RuntimeFileSource {
  const sink = createRuntimeLineSink(options);
  if (options.path === '-') return stdinSource(options.stdin ?? process.stdin, sink, options.logger, options.maxLineBytes);
  const files = new FileSource({
    files: [{ file: options.path, flag: '-kubearmor-file' }],
    // KubeArmor lines are not audit lines: the -once summary and /metrics count them apart.
    counters: { lines: options.metrics.runtimeLinesRead, bytes: options.metrics.runtimeBytesRead },
    sink,
    checkpoints: new CheckpointStore(options.db, options.cluster, 'kubearmor'),
    metrics: options.metrics,
    logger: options.logger,
    maxLineBytes: options.maxLineBytes,
    // 1 MiB reads: about 1,100 events a batch. Every event lives until its batch commits, so the heap
    // grows with the batch: 200k events peaked at 186-198 MB RSS with 1 MiB, 202-265 MB with 2 MiB, and
    // 360 MB with 8 MiB.
    readChunkBytes: 1024 * 1024,
    maxBatchesInFlight: 3,
  });
  return {
    start: () => files.start(),
    runOnce: async () => {
      try {
        await files.runOnce();
      } finally {
        await sink.close();
      }
      return sink.stats();
    },
    stop: async () => {
      await files.stop();
      await sink.close();
    },
    stats: () => sink.stats(),
    health: () => files.health(),
  };
}

/**
 * Standard input, line by line, in batches of up to `batchLines` lines (or what one chunk holds),
 * each committed before the next chunk is read. A last line without a newline counts at the end.
 */
function stdinSource(input: Readable, sink: RuntimeLineSink, logger: Logger, maxLineBytes = 16 * 1024 * 1024): RuntimeFileSource {
  let reading: Promise<void> | undefined;
  let stopped = false;
  const read = async () => {
    let carry: Buffer = Buffer.alloc(0);
    let offset = 0;
    let oversize = false;
    // Standard input cannot be read again: a batch the database did not take is retried until it is.
    const retry = new Backoff({ initialMs: 500, maxMs: 30_000 });
    const deliver = async (lines: Buffer[]) => {
      while (lines.length && !stopped) {
        try {
          await sink.write({ runs: LineRun.of(lines), path: 'stdin', fingerprint: 'stdin', endOffset: offset });
          retry.reset();
          return;
        } catch (error) {
          const delay = retry.next();
          logger.warn({ err: (error as Error).message, lines: lines.length, retryInMs: delay }, `cannot store KubeArmor events read from stdin; retrying in ${(delay / 1000).toFixed(1)}s: check the database`);
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    };
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      if (stopped) break;
      const data = carry.length ? Buffer.concat([carry, Buffer.from(chunk)]) : Buffer.from(chunk);
      const lines: Buffer[] = [];
      let start = 0;
      for (let end = data.indexOf(0x0a); end !== -1; end = data.indexOf(0x0a, start)) {
        if (!oversize && end > start) lines.push(data.subarray(start, end));
        oversize = false;
        offset += end + 1 - start;
        start = end + 1;
      }
      carry = data.subarray(start);
      if (carry.length > maxLineBytes) {
        logger.warn({ bytes: carry.length }, `a line on stdin is longer than ${maxLineBytes} bytes; it is skipped`);
        offset += carry.length;
        carry = Buffer.alloc(0);
        oversize = true;
      }
      await deliver(lines);
    }
    if (carry.length && !oversize) {
      offset += carry.length;
      await deliver([carry]);
    }
    logger.info({ lines: sink.stats().lines }, 'standard input ended');
  };
  return {
    start: async () => {
      reading = read();
      reading.catch((error: Error) => logger.error({ err: error.message }, `reading KubeArmor lines from stdin failed: ${error.message}`));
    },
    runOnce: async () => {
      try {
        await read();
      } finally {
        await sink.close();
      }
      return sink.stats();
    },
    stop: async () => {
      stopped = true;
      input.destroy();
      await reading?.catch(() => undefined);
      await sink.close();
    },
    stats: () => sink.stats(),
  };
}
