/**
 * An incident timeline for one pod: the exec sessions into it (opened, ended), the denied attempts, the
 * processes those sessions ran and the alerts raised in the pod, merged in time order to the microsecond.
 * Pure: the rows come from src/timeline/queries.ts.
 */
import { buildProcessTree, compareEvents, depthsOf } from './process-tree.ts';
import { isBlockAlert, type RuntimeEventRecord, type SessionSummary } from './records.ts';

export interface TimelineTarget {
  /** Every cluster when absent. */
  cluster?: string;
  namespace: string;
  pod: string;
  /** Inclusive bounds, canonical UTC text with microseconds. */
  from: string;
  to: string;
}

export type TimelineEntry =
  | { kind: 'session-start' | 'session-end' | 'denied'; time: string; sessionId: string }
  | {
      /** process: a command ran; alert: a KubeArmor alert (Block, Audit...); event: file, network and other activity. */
      kind: 'process' | 'alert' | 'event';
      time: string;
      /** The session the event is attributed to, null for an alert no session caused. */
      sessionId: string | null;
      /** Depth in that session's process tree (0 = the session's first process). */
      depth: number;
      event: RuntimeEventRecord;
    };

export interface TimelineSummary {
  sessions: number;
  interactive: number;
  denied: number;
  processes: number;
  alerts: number;
  blocked: number;
}

export interface Timeline {
  target: TimelineTarget;
  summary: TimelineSummary;
  /** Every session overlapping the window, allowed or denied, by start time. */
  sessions: SessionSummary[];
  entries: TimelineEntry[];
  /** True when the runtime events hit the row limit: narrow the window to see them all. */
  truncated: boolean;
}

const within = (time: string | null, target: TimelineTarget): time is string => time !== null && time >= target.from && time <= target.to;

/** Session starts and denied attempts come before what happened at the same microsecond, ends after. */
const rank: Record<TimelineEntry['kind'], number> = { 'session-start': 0, denied: 0, process: 1, alert: 1, event: 1, 'session-end': 2 };

function compareEntries(a: TimelineEntry, b: TimelineEntry): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  const byRank = rank[a.kind] - rank[b.kind];
  if (byRank !== 0) return byRank;
  if ('event' in a && 'event' in b) return compareEvents(a.event, b.event);
  return a.sessionId! < b.sessionId! ? -1 : a.sessionId! > b.sessionId! ? 1 : 0;
}

export function assembleTimeline(
  target: TimelineTarget,
  sessions: readonly SessionSummary[],
  events: readonly RuntimeEventRecord[],
  options: { truncated?: boolean } = {},
): Timeline {
  const ordered = [...sessions].sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.id < b.id ? -1 : 1));
  const known = new Set(ordered.map((s) => s.id));
  const entries: TimelineEntry[] = [];
  for (const session of ordered) {
    if (!session.allowed) {
      if (within(session.startedAt, target)) entries.push({ kind: 'denied', time: session.startedAt, sessionId: session.id });
      continue;
    }
    if (within(session.startedAt, target)) entries.push({ kind: 'session-start', time: session.startedAt, sessionId: session.id });
    if (within(session.endedAt, target)) entries.push({ kind: 'session-end', time: session.endedAt, sessionId: session.id });
  }

  // An event linked to several sessions (overlapping windows) is drawn under the first one we show.
  const bySession = new Map<string | null, RuntimeEventRecord[]>();
  for (const event of events) {
    const sessionId = event.links.map((l) => l.sessionId).find((id) => known.has(id)) ?? null;
    const list = bySession.get(sessionId);
    if (list) list.push(event);
    else bySession.set(sessionId, [event]);
  }
  for (const [sessionId, sessionEvents] of bySession) {
    const depths = sessionId === null ? new Map<RuntimeEventRecord, number>() : depthsOf(buildProcessTree(sessionEvents));
    for (const event of sessionEvents) {
      const kind = event.kind === 'alert' ? 'alert' : event.operation === 'Process' ? 'process' : 'event';
      entries.push({ kind, time: event.time, sessionId, depth: depths.get(event) ?? 0, event });
    }
  }
  entries.sort(compareEntries);

  const allowed = ordered.filter((s) => s.allowed);
  return {
    target,
    summary: {
      sessions: allowed.length,
      interactive: allowed.filter((s) => s.tty).length,
      denied: ordered.length - allowed.length,
      processes: entries.filter((e) => e.kind === 'process').length,
      alerts: entries.filter((e) => e.kind === 'alert').length,
      blocked: entries.filter((e) => e.kind === 'alert' && isBlockAlert(e.event)).length,
    },
    sessions: ordered,
    entries,
    truncated: options.truncated ?? false,
  };
}
