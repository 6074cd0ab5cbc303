/**
 * Runs correlation in the background when either side arrives: the session writer reports the sessions it
 * committed, the runtime writer the events it committed. Both calls only note what changed and return at
 * once; a debounced pass then recomputes the affected pods. Ingestion never waits for correlation and
 * never fails because of it: a failed pass is logged and its pods are retried later with backoff.
 */
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { Database } from '../store/database.ts';
import { isoToMicros } from './model.ts';
import { correlatePod, scopesOfSessions, scopesToCorrelate, type CorrelationScope } from './store.ts';

/** What a runtime writer reports per committed event (runtime_events columns). */
export interface CommittedRuntimeEvent {
  cluster?: string | null;
  namespace?: string | null;
  pod?: string | null;
  /** event_time, ISO 8601. */
  eventTime: string;
}

export interface CorrelatorOptions {
  db: Database;
  /** -correlation-skew, in milliseconds. */
  skewMs: number;
  logger: Logger;
  metrics?: Metrics;
  /** Wait this long after the first change before a pass, to batch what arrives together. */
  debounceMs?: number;
  /** Longest wait between retries after failures. */
  maxRetryMs?: number;
  /** Wall clock in milliseconds (tests pin it). */
  now?: () => number;
}

export interface PassResult {
  pods: number;
  sessions: number;
  events: number;
  links: number;
  failedPods: number;
}

const podKey = (s: { cluster: string; namespace: string; pod: string }) => `${s.cluster}\u0000${s.namespace}\u0000${s.pod}`;

export class Correlator {
  private readonly pendingSessions = new Set<string>();
  private readonly pendingScopes = new Map<string, CorrelationScope>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PassResult> | undefined;
  private failures = 0;
  private lastPassMs = 0;
  private closed = false;
  private readonly debounceMs: number;
  private readonly maxRetryMs: number;
  private readonly now: () => number;

  constructor(private readonly options: CorrelatorOptions) {
    this.debounceMs = options.debounceMs ?? 500;
    this.maxRetryMs = options.maxRetryMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Sessions were committed (SessionWriter onCommitted). Never throws. */
  noteSessions(ids: readonly string[]): void {
    for (const id of ids) this.pendingSessions.add(id);
    if (ids.length > 0) this.schedule(this.debounceMs);
  }

  /** Runtime events were committed. Never throws; events without a pod (host events) are not correlated. */
  noteRuntimeEvents(events: Iterable<CommittedRuntimeEvent>): void {
    let noted = false;
    for (const event of events) {
      if (!event.namespace || !event.pod) continue;
      let us: number;
      try {
        us = isoToMicros(event.eventTime);
      } catch {
        continue;
      }
      this.addScope({ cluster: event.cluster ?? '', namespace: event.namespace, pod: event.pod, fromUs: us, toUs: us });
      noted = true;
    }
    if (noted) this.schedule(this.debounceMs);
  }

  /**
   * At start: notes the sessions that may have lost a pass when the process last stopped (a pass runs
   * shortly after a commit): those changed in the last `recentMs`, and open ones. Returns how many.
   */
  async catchUp(recentMs = 3_600_000): Promise<number> {
    const { rows } = await this.options.db.query<{ id: string }>(
      `SELECT id FROM change_events
       WHERE operation = 'EXEC' AND (updated_at >= now() - make_interval(secs => $1) OR exec_metadata->>'ended_at' IS NULL)
       ORDER BY updated_at DESC LIMIT 10000`,
      [recentMs / 1000],
    );
    this.noteSessions(rows.map((r) => r.id));
    return rows.length;
  }

  /** The runtime writer's hook (`onCommitted` of src/runtime's RuntimeEventWriter), bound for passing around. */
  readonly onRuntimeCommitted = (commit: { events: Iterable<CommittedRuntimeEvent> }): void => this.noteRuntimeEvents(commit.events);

  /** The session writer's hook (SessionWriter `onCommitted`), bound for passing around. */
  readonly onSessionsCommitted = (ids: readonly string[]): void => this.noteSessions(ids);

  /** Runs everything pending now (and waits for a pass already running). For -once and tests. */
  async flush(): Promise<PassResult> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) await this.running.catch(() => undefined);
    return this.runPass();
  }

  /** Stops scheduling; waits for a running pass. Pending work is dropped (a restart recomputes it from the tables). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) await this.running.catch(() => undefined);
  }

  private addScope(scope: CorrelationScope): void {
    const key = podKey(scope);
    const existing = this.pendingScopes.get(key);
    this.pendingScopes.set(
      key,
      existing ? { ...existing, fromUs: Math.min(existing.fromUs, scope.fromUs), toUs: Math.max(existing.toUs, scope.toUs) } : scope,
    );
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.timer) return;
    // Correlation takes at most about half the database's time: after a pass of T ms, wait at least T ms.
    delayMs = Math.max(delayMs, this.lastPassMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running) {
        // One pass at a time; what arrived meanwhile goes in the next one.
        void this.running.finally(() => this.schedule(this.debounceMs));
        return;
      }
      void this.runPass();
    }, delayMs);
    this.timer.unref?.();
  }

  private runPass(): Promise<PassResult> {
    const pass = this.pass().finally(() => {
      this.running = undefined;
    });
    this.running = pass;
    return pass;
  }

  private async pass(): Promise<PassResult> {
    const sessionIds = [...this.pendingSessions];
    this.pendingSessions.clear();
    const started = process.hrtime.bigint();
    const result: PassResult = { pods: 0, sessions: 0, events: 0, links: 0, failedPods: 0 };
    const nowUs = this.now() * 1000;
    const options = { skewUs: this.options.skewMs * 1000, nowUs };
    try {
      for (const scope of await scopesOfSessions(this.options.db, sessionIds, nowUs)) this.addScope(scope);
    } catch (error) {
      for (const id of sessionIds) this.pendingSessions.add(id);
      this.failed(error, { sessions: sessionIds.length });
      result.failedPods = 1;
      return result;
    }
    const pending = [...this.pendingScopes.values()];
    this.pendingScopes.clear();
    let scopes: CorrelationScope[];
    try {
      scopes = await scopesToCorrelate(this.options.db, pending, options.skewUs);
    } catch (error) {
      for (const scope of pending) this.addScope(scope);
      this.failed(error, { pods: pending.length });
      result.failedPods = pending.length;
      return result;
    }
    for (const scope of scopes) {
      try {
        const pod = await correlatePod(this.options.db, scope, options);
        result.pods++;
        result.sessions += pod.sessions;
        result.events += pod.events;
        result.links += pod.links;
        this.options.metrics?.correlationLinks.inc(pod.linksMade);
      } catch (error) {
        this.addScope(scope);
        result.failedPods++;
        this.failed(error, { namespace: scope.namespace, pod: scope.pod });
      }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.lastPassMs = seconds * 1000;
    this.options.metrics?.correlationSeconds.observe(seconds);
    this.options.metrics?.correlationPasses.inc({ result: result.failedPods ? 'failed' : 'ok' });
    if (result.failedPods === 0) this.failures = 0;
    if (scopes.length > 0)
      this.options.logger.debug({ ...result, seconds }, `correlated ${result.pods} pods: ${result.links} links from ${result.events} runtime events`);
    return result;
  }

  private failed(error: unknown, context: Record<string, unknown>): void {
    this.failures++;
    const retryMs = Math.min(this.maxRetryMs, this.debounceMs * 2 ** Math.min(this.failures, 16));
    this.options.logger.warn(
      { ...context, err: (error as Error).message, retryInMs: retryMs },
      'correlation pass failed; ingestion goes on and the pass is retried (check that the database is reachable)',
    );
    this.schedule(retryMs);
  }
}
