/**
 * Batches on their way to the sink, and the position saves that follow them. A batch's position is
 * saved only after that batch AND every batch before it are committed, so a saved position never
 * runs ahead of the data; a failure stops every later save. At most `maxInFlight` batches are
 * outstanding, and no more than the sink has room for (LineSink.room): `submit` waits when the sink is
 * behind, which pauses reading (backpressure).
 */
import type { LineBatch, LineSink } from './line-sink.ts';

/** A submitted batch, as far as a position save before it needs to know. */
interface Submitted {
  fingerprint: string;
  committed: boolean;
  next?: Submitted;
}

export class CommitPipeline {
  private steps: Promise<void>[] = [];
  private tail: Promise<void> = Promise.resolve();
  private last: Submitted | undefined;

  constructor(
    private readonly sink: LineSink,
    private readonly maxInFlight: number,
  ) {}

  /**
   * Sends a batch (an empty one only saves a position, e.g. past skipped lines) and returns once there
   * is room for another. Throws the first failure of any earlier batch. A batch's `afterCommit` is left
   * out when the next batch of the same file is already committed too (the sink stored them together):
   * that one's save covers both, one write fewer.
   */
  async submit(batch: LineBatch, afterCommit: () => Promise<void>): Promise<void> {
    const written = batch.runs.length > 0 ? this.sink.write(batch) : Promise.resolve();
    const submitted: Submitted = { fingerprint: batch.fingerprint, committed: false };
    written.then(
      () => (submitted.committed = true),
      () => undefined, // observed through the chain below
    );
    if (this.last) this.last.next = submitted;
    this.last = submitted;
    const step = this.tail.then(() => written).then(() => (coveredByNext(submitted) ? undefined : afterCommit()));
    step.catch(() => undefined);
    this.tail = step;
    this.steps.push(step);
    while (this.steps.length > this.maxInFlight) await this.steps.shift();
    await this.sink.room?.();
  }

  /** Waits for everything submitted; throws the first failure (after all have settled). */
  async drain(): Promise<void> {
    const steps = this.steps;
    this.steps = [];
    const results = await Promise.allSettled(steps);
    this.tail = Promise.resolve();
    this.last = undefined;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** After a failure: waits for what is still outstanding and starts a fresh chain. */
  async reset(): Promise<void> {
    await this.drain().catch(() => undefined);
  }
}

const coveredByNext = (submitted: Submitted): boolean => submitted.next?.committed === true && submitted.next.fingerprint === submitted.fingerprint;
