/**
 * Exponential backoff with "equal jitter": the n-th delay is uniformly random in [d/2, d] where
 * d = min(max, initial * 2^n). The lower half is never skipped, so the rate of attempts stays bounded
 * even when every attempt fails at once (a feeder that ends a stream immediately with OK for a filter it
 * does not accept would otherwise become a reconnect storm); the random half spreads many clients
 * (one per node daemon) so they do not reconnect in step after a relay restart.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** For tests: a source of [0, 1). */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** Failures since the last reset. */
  get failures(): number {
    return this.attempt;
  }

  /** The delay before the next attempt; counts one more failure. */
  next(): number {
    const { initialMs, maxMs, random = Math.random } = this.options;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }

  /** After a success: the next delay starts from initialMs again. */
  reset(): void {
    this.attempt = 0;
  }
}
