/**
 * Progress of a backlog (a directory of rotated logs, a large file read from the start): bytes done
 * of the total, MB/s and time left. On a terminal a live bar on stderr; otherwise a log line every few
 * seconds (stderr carries JSON logs, so progress is one of them). Nothing is shown for a backlog
 * read in less than one interval, so following a live file stays quiet.
 */
import type { Logger } from '../observe/log.ts';
import { formatDuration } from '../time/duration.ts';

export interface ProgressOptions {
  logger: Logger;
  /** How often to report; 0 turns progress off. */
  intervalMs: number;
  /** Where a live bar goes when it is a terminal (stderr). */
  stream?: NodeJS.WriteStream;
  now?: () => number;
}

/** Bytes read of a total, and the rate so far: the numbers both displays print. */
export interface ProgressSnapshot {
  doneBytes: number;
  totalBytes: number;
  elapsedMs: number;
  bytesPerSecond: number;
  /** Undefined until the rate is known. */
  etaSeconds: number | undefined;
}

export function progressSnapshot(doneBytes: number, totalBytes: number, elapsedMs: number): ProgressSnapshot {
  const bytesPerSecond = elapsedMs > 0 ? (doneBytes * 1000) / elapsedMs : 0;
  const left = Math.max(0, totalBytes - doneBytes);
  return { doneBytes, totalBytes, elapsedMs, bytesPerSecond, etaSeconds: bytesPerSecond > 0 ? left / bytesPerSecond : undefined };
}

export const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);

export function describeProgress(p: ProgressSnapshot): string {
  const percent = p.totalBytes > 0 ? Math.min(100, Math.floor((p.doneBytes * 100) / p.totalBytes)) : 100;
  const eta = p.etaSeconds === undefined ? 'time left unknown' : `about ${formatDuration(p.etaSeconds * 1000)} left`;
  return `${megabytes(p.doneBytes)} of ${megabytes(p.totalBytes)} MB (${percent} %), ${megabytes(p.bytesPerSecond)} MB/s, ${eta}`;
}

const BAR_WIDTH = 30;
const BAR_REFRESH_MS = 250;

export class BacklogProgress {
  private active = false;
  private startedAt = 0;
  private done = 0;
  private total = 0;
  private timer: NodeJS.Timeout | undefined;
  private shown = false;
  private readonly now: () => number;
  private readonly live: boolean;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? Date.now;
    this.live = Boolean(options.stream?.isTTY) && options.intervalMs > 0;
  }

  /** A backlog of about `totalBytes` starts being read. */
  begin(totalBytes: number): void {
    this.end();
    this.active = true;
    this.startedAt = this.now();
    this.done = 0;
    this.total = totalBytes;
    if (this.options.intervalMs <= 0) return;
    // The first report waits a whole interval, so short reads never print anything.
    const first = setTimeout(() => {
      this.report();
      this.timer = setInterval(() => this.report(), this.live ? BAR_REFRESH_MS : this.options.intervalMs);
      this.timer.unref();
    }, this.options.intervalMs);
    first.unref();
    this.timer = first;
  }

  read(bytes: number): void {
    if (!this.active) return;
    this.done += bytes;
    if (this.done > this.total) this.total = this.done;
  }

  /** Bytes counted in the total that turned out not to need reading (already read, a copy). */
  discount(bytes: number): void {
    if (this.active) this.total = Math.max(this.done, this.total - bytes);
  }

  snapshot(): ProgressSnapshot {
    return progressSnapshot(this.done, this.total, this.now() - this.startedAt);
  }

  end(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.active && this.shown && this.live) this.options.stream!.write('\r\x1b[K');
    this.active = false;
    this.shown = false;
  }

  private report(): void {
    if (!this.active) return;
    this.shown = true;
    const p = this.snapshot();
    if (this.live) {
      const filled = p.totalBytes > 0 ? Math.round((Math.min(p.doneBytes, p.totalBytes) / p.totalBytes) * BAR_WIDTH) : BAR_WIDTH;
      this.options.stream!.write(`\r\x1b[K[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${describeProgress(p)}`);
    } else {
      this.options.logger.info(
        {
          doneBytes: p.doneBytes,
          totalBytes: p.totalBytes,
          mbPerSecond: Number(megabytes(p.bytesPerSecond)),
          etaSeconds: p.etaSeconds === undefined ? null : Math.round(p.etaSeconds),
        },
        `reading backlog: ${describeProgress(p)}`,
      );
    }
  }
}
