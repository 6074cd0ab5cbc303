/**
 * The one backoff: exponential with "equal jitter", a maximum, and a reset after success. The n-th
 * delay is uniformly random in [d/2, d] where d = min(max, initial * 2^n).
 *
 * Why equal jitter: the lower half is never skipped, so the rate of attempts stays bounded even when
 * every attempt fails at once (a KubeArmor feeder that ends a stream immediately with OK for a filter
 * it does not accept would otherwise become a reconnect storm); the random half spreads many clients
 * (one per node daemon, many replicas) so they do not retry in step after a shared outage.
 *
 * Used by every retry loop: the file source's passes, runtime streams, the runtime queue, feeder
 * discovery, standard input; the correlator and the session writer follow.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A source of [0, 1); tests pass a seeded one to replay a sequence. */
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

/**
 * Waits `ms`, or less when `signal` is aborted (a stop request must not wait out a 30 s backoff).
 * Resolves either way; the caller checks why.
 */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
