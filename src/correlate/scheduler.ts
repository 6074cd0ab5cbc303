/**
 * Runs correlation in the background when either side arrives: the session writer reports the sessions it
 * committed, the runtime writer the events it committed. Both calls only note what changed and return at
 * once; a debounced pass then recomputes the affected pods. Ingestion never waits for correlation and
 * never fails because of it.
 *
 * Failures are isolated per pod: a pod whose pass fails is retried with its own backoff while the
 * others go on (one pod's odd rows must not stop correlation everywhere), and when the one query that
 * picks the pods worth a pass fails, each pod is asked alone. Failing pods are a metric and part of
 * status(), which /readyz shows in its detail.
 */
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import { describeDatabaseError, type Database } from '../store/database.ts';
import type { SessionChangeHook } from '../store/session-changes.ts';
import { Backoff } from '../time/backoff.ts';
import { isoToMicros } from '../time/micros.ts';
import type { CorrelationSession } from './model.ts';
import { runPodPass, scopedSession, scopeOfSession, scopesOfSessions, scopesToCorrelate, type CorrelationScope } from './pod-pass.ts';
import type { StoredSession } from './session-target.ts';

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
  /** Hears, inside each pass's transaction, of the sessions whose links changed (the export outbox). */
  inTransaction?: SessionChangeHook;
}

/** What /readyz shows of correlation (detail, not the verdict: ingestion goes on without it). */
export interface CorrelationStatus {
  /** Pods whose last pass failed, waiting for their retry. */
  failingPods: number;
  lastFailure?: { at: string; namespace: string; pod: string; error: string };
}

export interface PassResult {
  pods: number;
  sessions: number;
  events: number;
  links: number;
  failedPods: number;
}

/** `2025-10-19T14:41:07.123456Z`: event times as src/time/micros.ts writes them. */
const CANONICAL_TIME_LENGTH = 27;

const podKey = (s: { cluster: string; namespace: string; pod: string }) => `${s.cluster}\u0000${s.namespace}\u0000${s.pod}`;

/** A pod whose pass failed: when it may be tried again. */
interface FailingPod {
  backoff: Backoff;
  retryAtMs: number;
}

export class Correlator {
  /** Sessions known by id only (catchUp): read back at the pass. */
  private readonly pendingSessions = new Set<string>();
  /** Sessions the writer handed over as stored: their scopes need no read (the latest row of an id wins). */
  private readonly pendingStored = new Map<string, CorrelationSession>();
  private readonly pendingScopes = new Map<string, CorrelationScope>();
  private readonly failing = new Map<string, FailingPod>();
  private lastFailure: CorrelationStatus['lastFailure'];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PassResult> | undefined;
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
    // A batch holds thousands of events of a few pods: their first and last times per pod are found
    // first, comparing the canonical text (fixed width, UTC: src/time/micros.ts, so text order is time
    // order), and only those are turned into scopes.
    const spans = new Map<string, { cluster: string; namespace: string; first: string; last: string }[]>();
    for (const event of events) {
      const { namespace, pod, eventTime } = event;
      if (!namespace || !pod) continue;
      const cluster = event.cluster ?? '';
      let ofPod = spans.get(pod);
      if (!ofPod) spans.set(pod, (ofPod = []));
      const span = ofPod.find((s) => s.namespace === namespace && s.cluster === cluster);
      if (!span) ofPod.push({ cluster, namespace, first: eventTime, last: eventTime });
      else if (eventTime.length !== CANONICAL_TIME_LENGTH || span.first.length !== CANONICAL_TIME_LENGTH) {
        // Not canonical text: keep both ends as they are and let micros decide below.
        ofPod.push({ cluster, namespace, first: eventTime, last: eventTime });
      } else if (eventTime < span.first) span.first = eventTime;
      else if (eventTime > span.last) span.last = eventTime;
    }
    let noted = false;
    for (const [pod, ofPod] of spans) {
      for (const { cluster, namespace, first, last } of ofPod) {
        let fromUs: number;
        let toUs: number;
        try {
          fromUs = isoToMicros(first);
          toUs = isoToMicros(last);
        } catch {
          continue;
        }
        this.addScope({ cluster, namespace, pod, fromUs: Math.min(fromUs, toUs), toUs: Math.max(fromUs, toUs) });
        noted = true;
      }
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

  /**
   * Sessions were committed, as stored (SessionWriter `onCommitted`), bound for passing around. Never
   * throws. Their scopes come from these rows: reading back every session just written cost the
   * exec-heavy bench a query and a parse per session, for scopes the writer already had.
   */
  readonly onSessionsCommitted = (sessions: readonly StoredSession[]): void => {
    let noted = false;
    for (const row of sessions) {
      const session = scopedSession(row);
      if (!session) continue;
      this.pendingStored.set(session.id, session);
      noted = true;
    }
    if (noted) this.schedule(this.debounceMs);
  };

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

  /** Failing pods and the last failure, for /readyz detail. */
  status(): CorrelationStatus {
    return { failingPods: this.failing.size, ...(this.lastFailure ? { lastFailure: this.lastFailure } : {}) };
  }

  private async pass(): Promise<PassResult> {
    const sessionIds = [...this.pendingSessions];
    this.pendingSessions.clear();
    const started = process.hrtime.bigint();
    const result: PassResult = { pods: 0, sessions: 0, events: 0, links: 0, failedPods: 0 };
    const nowMs = this.now();
    const options = { skewUs: this.options.skewMs * 1000, nowUs: nowMs * 1000 };
    for (const session of this.pendingStored.values()) this.addScope(scopeOfSession(session, options.nowUs));
    this.pendingStored.clear();
    try {
      for (const scope of await scopesOfSessions(this.options.db, sessionIds, options.nowUs)) this.addScope(scope);
    } catch (error) {
      // Only the database being away fails this lookup by id: nothing to isolate, everything waits.
      for (const id of sessionIds) this.pendingSessions.add(id);
      this.options.logger.warn({ sessions: sessionIds.length, err: describeDatabaseError(error) }, 'correlation could not read the sessions just stored; retrying (check that the database is reachable)');
      this.options.metrics?.correlationPasses.inc({ result: 'failed' });
      this.schedule(this.debounceMs * 4);
      result.failedPods = 1;
      return result;
    }
    // Pods waiting out a backoff stay pending; the rest go now. (Backoff runs on the wall clock, not on
    // this.now, which is "now" for the end of open sessions and pinned by tests.)
    const due: CorrelationScope[] = [];
    for (const [key, scope] of this.pendingScopes) {
      const failing = this.failing.get(key);
      if (failing && failing.retryAtMs > Date.now()) continue;
      due.push(scope);
      this.pendingScopes.delete(key);
    }
    for (const scope of await this.scopesWorthAPass(due, options.skewUs, result)) {
      try {
        const pod = await runPodPass(this.options.db, scope, options, this.options.inTransaction);
        this.failing.delete(podKey(scope));
        result.pods++;
        result.sessions += pod.sessions;
        result.events += pod.events;
        result.links += pod.links;
        this.options.metrics?.correlationLinks.inc(pod.linksMade);
      } catch (error) {
        this.podFailed(scope, error, result);
      }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.lastPassMs = seconds * 1000;
    this.options.metrics?.correlationSeconds.observe(seconds);
    this.options.metrics?.correlationPasses.inc({ result: result.failedPods ? 'failed' : 'ok' });
    this.options.metrics?.correlationFailingPods.set(this.failing.size);
    if (result.pods > 0)
      this.options.logger.debug({ ...result, seconds }, `correlated ${result.pods} pods: ${result.links} links from ${result.events} runtime events`);
    if (this.pendingScopes.size > 0) this.schedule(this.nextRetryDelayMs());
    return result;
  }

  /**
   * The scopes that need a pass, asked in one query; when that fails, each scope alone, so that a scope
   * the database cannot answer for fails by itself.
   */
  private async scopesWorthAPass(scopes: CorrelationScope[], skewUs: number, result: PassResult): Promise<CorrelationScope[]> {
    if (scopes.length === 0) return [];
    try {
      return await scopesToCorrelate(this.options.db, scopes, skewUs);
    } catch (error) {
      if (scopes.length === 1) {
        this.podFailed(scopes[0]!, error, result);
        return [];
      }
    }
    const worth: CorrelationScope[] = [];
    for (const scope of scopes) {
      try {
        worth.push(...(await scopesToCorrelate(this.options.db, [scope], skewUs)));
      } catch (error) {
        this.podFailed(scope, error, result);
      }
    }
    return worth;
  }

  private podFailed(scope: CorrelationScope, error: unknown, result: PassResult): void {
    const key = podKey(scope);
    const failing = this.failing.get(key) ?? { backoff: new Backoff({ initialMs: this.debounceMs, maxMs: this.maxRetryMs }), retryAtMs: 0 };
    const retryInMs = failing.backoff.next();
    failing.retryAtMs = Date.now() + retryInMs;
    this.failing.set(key, failing);
    this.addScope(scope);
    result.failedPods++;
    const message = describeDatabaseError(error);
    this.lastFailure = { at: new Date().toISOString(), namespace: scope.namespace, pod: scope.pod, error: message };
    this.options.metrics?.correlationFailures.inc();
    const fields = { cluster: scope.cluster, namespace: scope.namespace, pod: scope.pod, err: message, retryInMs, failures: failing.backoff.failures };
    const text = `correlation of pod ${scope.namespace}/${scope.pod} failed; the other pods go on and this one is retried in ${Math.round(retryInMs)} ms (check the database log for SQLSTATE ${message.split(':')[0]})`;
    if (failing.backoff.failures === 1) this.options.logger.error(fields, text);
    else this.options.logger.warn(fields, text);
  }

  /** How long until the earliest pending pod may go (its backoff), at least the debounce. */
  private nextRetryDelayMs(): number {
    const nowMs = Date.now();
    let earliest = Infinity;
    for (const [key] of this.pendingScopes) earliest = Math.min(earliest, this.failing.get(key)?.retryAtMs ?? nowMs);
    return Math.max(this.debounceMs, earliest - nowMs);
  }
}
