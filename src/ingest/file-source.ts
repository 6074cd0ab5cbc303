/**
 * Reads audit log files line by line into the session writer, in batches. A batch's rows are committed
 * before its end offset is taken as read.
 *
 * Walking-skeleton version: whole files from the start, appended lines by polling. Rotation,
 * fingerprints and persistent checkpoints are the file-ingestion issue's.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExtractContext } from '../audit/extract.ts';
import { sessionsFromLine } from '../audit/lines.ts';
import type { SessionRow } from '../audit/session.ts';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { SessionWriter } from '../store/session-writer.ts';

export interface FileSourceOptions {
  writer: SessionWriter;
  context: ExtractContext;
  metrics: Metrics;
  logger: Logger;
  readChunkBytes?: number;
}

const NEWLINE = 0x0a;

export class AuditFileSource {
  private readonly offsets = new Map<string, number>();

  constructor(private readonly options: FileSourceOptions) {}

  /** Reads every complete line from the last position to the end of the file and stores the sessions. */
  async readToEnd(path: string): Promise<void> {
    const { writer, context, metrics, logger } = this.options;
    const chunkBytes = this.options.readChunkBytes ?? 1 << 20;
    let offset = this.offsets.get(path) ?? 0;
    const handle = await open(path, 'r');
    try {
      let carry = Buffer.alloc(0);
      let lineNumber = 0;
      const buffer = Buffer.allocUnsafe(chunkBytes);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, chunkBytes, offset + carry.length);
        if (bytesRead === 0) break;
        const data = carry.length ? Buffer.concat([carry, buffer.subarray(0, bytesRead)]) : buffer.subarray(0, bytesRead);
        const rows: SessionRow[] = [];
        let start = 0;
        for (let end = data.indexOf(NEWLINE); end !== -1; end = data.indexOf(NEWLINE, start)) {
          const line = data.subarray(start, end);
          start = end + 1;
          lineNumber++;
          metrics.linesRead.inc();
          const outcome = sessionsFromLine(line, context);
          if (outcome.rows.length) metrics.linesMatched.inc();
          for (const bad of outcome.rejected) {
            metrics.badInput.inc({ reason: bad.reason });
            logger.debug({ file: path, line: lineNumber, reason: bad.reason, detail: bad.detail }, 'skipped bad audit line');
          }
          rows.push(...outcome.rows);
        }
        metrics.sessionStagesSeen.inc(rows.length);
        if (rows.length) {
          const timer = metrics.dbWriteSeconds.startTimer();
          const result = await writer.write(rows);
          timer();
          metrics.sessionsStored.inc(result.inserted + result.updated);
        }
        metrics.bytesRead.inc(start);
        offset += start;
        carry = Buffer.from(data.subarray(start));
      }
      this.offsets.set(path, offset);
    } finally {
      await handle.close();
    }
  }

  /** Audit logs in a directory, oldest first (by modification time). */
  static async listAuditLogs(dir: string): Promise<string[]> {
    const names = (await readdir(dir)).filter((name) => name.endsWith('.log'));
    const withTimes = await Promise.all(names.map(async (name) => ({ path: join(dir, name), mtime: (await stat(join(dir, name))).mtimeMs })));
    return withTimes.sort((a, b) => a.mtime - b.mtime || a.path.localeCompare(b.path)).map((f) => f.path);
  }
}
