/**
 * Between the feeder streams and the database: events (the feeder's messages as received, feeder-
 * messages.ts) are collected and written in batches, so a burst becomes a few large COPYs instead of
 * thousands of small ones.
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
import { Backoff } from '../time/backoff.ts';
import type { RuntimeEvent } from './event.ts';

/** Stores a batch; resolves after COMMIT, rejects when nothing was stored (the batch is then retried). */
export interface BatchWriter<T> {
  write(batch: T[]): Promise<unknown>;
}

export interface RuntimeEventQueueOptions<T = RuntimeEvent> {
  writer: BatchWriter<T>;
  metrics: Metrics;
  logger: Logger;
  /** Events per INSERT. */
  maxBatch?: number;
  /** Above this many waiting events, offer() asks the caller to pause. */
  highWater?: number;
  /** Resume once the queue is down to this many. */
  lowWater?: number;
  /** Batches written at the same time when more than one is waiting (default 2). */
  concurrency?: number;
  /** Retry delays for failed writes. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export class RuntimeEventQueue<T = RuntimeEvent> {
  private queue: T[] = [];
  private readonly lanes = new Set<Promise<void>>();
  /** Events taken off the queue by a lane and not yet committed. */
  private inFlight = 0;
  private abandoned = false;
  private readonly concurrency: number;
  private readonly drainListeners = new Set<() => void>();
  private aboveHighWater = false;
  private closed = false;
  private readonly retry: Backoff;
  private readonly maxBatch: number;
  private readonly highWater: number;
  private readonly lowWater: number;
  private failingSince: number | undefined;

  constructor(private readonly options: RuntimeEventQueueOptions<T>) {
    this.maxBatch = options.maxBatch ?? 1000;
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    this.highWater = options.highWater ?? 10_000;
    this.lowWater = options.lowWater ?? Math.floor(this.highWater / 2);
    this.retry = new Backoff({ initialMs: options.retryInitialMs ?? 500, maxMs: options.retryMaxMs ?? 30_000 });
  }

  /** Events waiting to be committed (including the batches being written). */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** Queues events for writing. False means "pause your source": more than highWater are waiting. */
  offer(events: readonly T[]): boolean {
    if (this.closed) throw new Error('runtime event queue is closed');
    for (const event of events) this.queue.push(event);
    this.options.metrics.runtimeEventsPending.set(this.pending);
    this.startWriting();
    if (this.pending > this.highWater) this.aboveHighWater = true;
    return !this.aboveHighWater;
  }

  /** Registers a listener for "below low water again"; returns its remover. */
  onDrain(listener: () => void): () => void {
    this.drainListeners.add(listener);
    return () => this.drainListeners.delete(listener);
  }

  /** Resolves when everything offered so far is committed. */
  async flushed(): Promise<void> {
    while (this.lanes.size > 0) await Promise.all(this.lanes);
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
      const unwritten = this.pending;
      this.queue = [];
      this.abandoned = true;
      this.options.metrics.eventsDropped.inc(unwritten);
      this.options.logger.error({ unwritten }, `stopping with ${unwritten} runtime events not written: the database did not accept them in time; they are lost`);
      return { unwritten };
    }
    return { unwritten: 0 };
  }

  /**
   * Writers ("lanes") take batches off the front of the queue: one while there is less than a batch
   * waiting, up to `concurrency` when more is (Postgres then uses more than one core; PGlite runs them
   * one after the other).
   */
  private startWriting(): void {
    while (this.queue.length > 0 && this.lanes.size < this.concurrency && (this.lanes.size === 0 || this.queue.length >= this.maxBatch)) {
      const lane: Promise<void> = this.runLane().finally(() => {
        this.lanes.delete(lane);
        // Something may have been offered after the lane's last look at the queue.
        this.startWriting();
      });
      this.lanes.add(lane);
    }
  }

  private async runLane(): Promise<void> {
    // Let events offered in the same tick join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    const { logger, metrics } = this.options;
    while (this.queue.length > 0 && !this.abandoned) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight += batch.length;
      try {
        await this.options.writer.write(batch);
      } catch (error) {
        this.inFlight -= batch.length;
        // Back to the front: nothing is skipped, and the retry keeps roughly the order.
        if (!this.abandoned) this.queue.unshift(...batch);
        this.failingSince ??= Date.now();
        const delay = this.retry.next();
        logger.warn(
          { err: (error as Error).message, pending: this.pending, retryInMs: delay, failingForMs: Date.now() - this.failingSince },
          `cannot store runtime events (${this.pending} waiting, feeder streams paused above ${this.highWater}); retrying in ${(delay / 1000).toFixed(1)}s: check the database`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
        continue;
      }
      this.inFlight -= batch.length;
      if (this.failingSince !== undefined) {
        logger.info({ failedForMs: Date.now() - this.failingSince }, 'storing runtime events again');
        this.failingSince = undefined;
      }
      this.retry.reset();
      metrics.runtimeEventsPending.set(this.pending);
      if (this.aboveHighWater && this.pending <= this.lowWater) {
        this.aboveHighWater = false;
        for (const listener of [...this.drainListeners]) listener();
      }
    }
  }
}
