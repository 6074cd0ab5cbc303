/**
 * Keeps a condition that repeats (a file that stays unreadable, a pass that keeps failing) from
 * writing a log line on every attempt: the first occurrence is logged, then at most one line per
 * interval saying how many were suppressed since, and one line when it clears.
 */
export interface RepeatDecision {
  log: boolean;
  /** Occurrences not logged since the last logged one. */
  suppressed: number;
  /** Occurrences in a row, this one included. */
  occurrences: number;
}

export class RepeatLimiter {
  private readonly seen = new Map<string, { lastLoggedAt: number; suppressed: number; occurrences: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** One more occurrence of `key`: whether to log it, and how many were held back before it. */
  occurred(key: string): RepeatDecision {
    const time = this.now();
    const entry = this.seen.get(key);
    if (!entry) {
      this.seen.set(key, { lastLoggedAt: time, suppressed: 0, occurrences: 1 });
      return { log: true, suppressed: 0, occurrences: 1 };
    }
    entry.occurrences++;
    if (time - entry.lastLoggedAt >= this.intervalMs) {
      const suppressed = entry.suppressed;
      entry.lastLoggedAt = time;
      entry.suppressed = 0;
      return { log: true, suppressed, occurrences: entry.occurrences };
    }
    entry.suppressed++;
    return { log: false, suppressed: entry.suppressed, occurrences: entry.occurrences };
  }

  /** The condition cleared: the number of occurrences it had, or 0 when it was not active. */
  cleared(key: string): number {
    const entry = this.seen.get(key);
    this.seen.delete(key);
    return entry?.occurrences ?? 0;
  }

  /** Keys still active, for forgetting ones that cannot clear (a file that is gone). */
  active(): string[] {
    return [...this.seen.keys()];
  }
}
