/**
 * Between the feeder streams and the database: events are collected and written in batches, one batch
 * at a time, so a burst becomes a few large INSERTs instead of thousands of small ones.
 *
 * Backpressure: `offer()` always keeps what it is given (nothing is dropped), and answers false once
 * more than `highWater` events wait; the caller then pauses its gRPC stream (HTTP/2 flow control makes
 * the feeder buffer, and beyond its per-client queue KubeArmor itself drops, visibly to its own
 * metrics). `onDrain` listeners run when the queue is back under `lowWater`, to resume.
 *
 * A failed write (database down, statement timeout) is retried with backoff, never skipped: the
 * events stay queued, the queue grows past high water, and the streams stay paused until it recovers.
 */
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import { Backoff } from './backoff.ts';
import type { RuntimeEvent } from './event.ts';
import type { RuntimeEventWriter } from './writer.ts';

export interface RuntimeEventQueueOptions {
  writer: Pick<RuntimeEventWriter, 'write'>;
  metrics: Metrics;
  logger: Logger;
  /** Events per INSERT. */
  maxBatch?: number;
  /** Above this many waiting events, offer() asks the caller to pause. */
  highWater?: number;
  /** Resume once the queue is down to this many. */
  lowWater?: number;
  /** Retry delays for failed writes. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export class RuntimeEventQueue {
  private queue: RuntimeEvent[] = [];
  private writing: Promise<void> | undefined;
  private readonly drainListeners = new Set<() => void>();
  private aboveHighWater = false;
  private closed = false;
  private readonly retry: Backoff;
  private readonly maxBatch: number;
  private readonly highWater: number;
  private readonly lowWater: number;
  private failingSince: number | undefined;

  constructor(private readonly options: RuntimeEventQueueOptions) {
    this.maxBatch = options.maxBatch ?? 1000;
    this.highWater = options.highWater ?? 10_000;
    this.lowWater = options.lowWater ?? Math.floor(this.highWater / 2);
    this.retry = new Backoff({ initialMs: options.retryInitialMs ?? 500, maxMs: options.retryMaxMs ?? 30_000 });
  }

  /** Events waiting to be committed (including the batch being written). */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues events for writing. False means "pause your source": more than highWater are waiting. */
  offer(events: readonly RuntimeEvent[]): boolean {
    if (this.closed) throw new Error('runtime event queue is closed');
    for (const event of events) this.queue.push(event);
    this.options.metrics.runtimeEventsPending.set(this.queue.length);
    this.startWriting();
    if (this.queue.length > this.highWater) this.aboveHighWater = true;
    return !this.aboveHighWater;
  }

  /** Registers a listener for "below low water again"; returns its remover. */
  onDrain(listener: () => void): () => void {
    this.drainListeners.add(listener);
    return () => this.drainListeners.delete(listener);
  }

  /** Resolves when everything offered so far is committed. */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /**
   * Stops accepting and writes what is queued, retrying until `deadlineMs`. Events still unwritten
   * then are counted in exectrail_events_dropped_total and logged: gRPC has no replay, so they are lost.
   */
  async close(deadlineMs = 10_000): Promise<{ unwritten: number }> {
    this.closed = true;
    const deadline = new Promise<'timeout'>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), deadlineMs);
      timer.unref();
    });
    if ((await Promise.race([this.flushed().then(() => 'done' as const), deadline])) === 'timeout') {
      const unwritten = this.queue.length;
      this.queue = [];
      this.options.metrics.eventsDropped.inc(unwritten);
      this.options.logger.error({ unwritten }, `stopping with ${unwritten} runtime events not written: the database did not accept them in time; they are lost`);
      return { unwritten };
    }
    return { unwritten: 0 };
  }

  private startWriting(): void {
    if (this.writing || this.queue.length === 0) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = undefined;
      // Something may have been offered after the last check of the loop.
      if (this.queue.length > 0) this.startWriting();
    });
  }

  private async writeAll(): Promise<void> {
    // Let events offered in the same tick join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    const { logger, metrics } = this.options;
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, this.maxBatch);
      try {
        await this.options.writer.write(batch);
      } catch (error) {
        this.failingSince ??= Date.now();
        const delay = this.retry.next();
        logger.warn(
          { err: (error as Error).message, pending: this.queue.length, retryInMs: delay, failingForMs: Date.now() - this.failingSince },
          `cannot store runtime events (${this.queue.length} waiting, feeder streams paused above ${this.highWater}); retrying in ${(delay / 1000).toFixed(1)}s: check the database`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
        continue;
      }
      if (this.failingSince !== undefined) {
        logger.info({ failedForMs: Date.now() - this.failingSince }, 'storing runtime events again');
        this.failingSince = undefined;
      }
      this.retry.reset();
      this.queue.splice(0, batch.length);
      metrics.runtimeEventsPending.set(this.queue.length);
      if (this.aboveHighWater && this.queue.length <= this.lowWater) {
        this.aboveHighWater = false;
        for (const listener of [...this.drainListeners]) listener();
      }
    }
  }
}
