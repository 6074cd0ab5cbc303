/**
 * Test plumbing for correlation: scenario lines into the real tables through the real readers and
 * writers, the rows read back as the correlation store reads them, and links scored against the truth.
 *
 * Audit lines go through the audit line sink and the SessionWriter, KubeArmor JSON lines through the
 * KubeArmor line sink (runtimeEventFromLine) and the RuntimeEventWriter: the same objects
 * `-audit-log-file` and `-kubearmor-file` hand their lines to. Nothing here maps a field itself, so a
 * defect in the real row mapping shows up as a wrong or missing link.
 */
import assert from 'node:assert/strict';
import { sessionId } from '../../src/audit/session.ts';
import { correlate } from '../../src/correlate/decide.ts';
import type { CorrelationEvent, CorrelationSession } from '../../src/correlate/model.ts';
import { correlationSession, type StoredSession } from '../../src/correlate/session-target.ts';
import { eventColumnsSql, sessionColumnsSql, toCorrelationEvent, type EventRow } from '../../src/correlate/pod-pass.ts';
import { createAuditIntake } from '../../src/ingest/audit-intake.ts';
import { createAuditSink } from '../../src/ingest/audit-sink.ts';
import type { LineBatch } from '../../src/ingest/line-sink.ts';
import { LineRun } from '../../src/ingest/line-splitter.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { counterByLabel, createMetrics } from '../../src/observe/metrics.ts';
import { createRuntimeLineSink } from '../../src/runtime/file.ts';
import { runtimeEventFromLine } from '../../src/runtime/json-lines.ts';
import { RuntimeEventWriter, type RuntimeCommitHook } from '../../src/runtime/writer.ts';
import type { Database, Queryable } from '../../src/store/database.ts';
import { SessionWriter, type SessionWriterOptions } from '../../src/store/session-writer.ts';
import { isoToMicros } from '../../src/time/micros.ts';

export interface CommitHooks {
  /** Called with the sessions each SessionWriter batch committed, as stored (Correlator.onSessionsCommitted). */
  onSessionsCommitted?: SessionWriterOptions['onCommitted'];
  /** Called after each RuntimeEventWriter batch (Correlator.onRuntimeCommitted). */
  onRuntimeCommitted?: RuntimeCommitHook;
}

/** What a processor's readers and writers do with the lines of one cluster. */
export interface ScenarioWriters {
  /** Stores audit log lines (one JSON event per line, as kube-apiserver writes them). */
  audit(lines: readonly string[], batchSize?: number): Promise<void>;
  /** Stores KubeArmor JSON lines (as the relay prints them). */
  runtime(lines: readonly string[], batchSize?: number): Promise<void>;
  /** Bad input the readers counted, by reason: a scenario line that is not read is a broken test. */
  badInput(): Promise<Record<string, number>>;
}

const batchOf = (lines: readonly string[], path: string): LineBatch => ({ runs: LineRun.of(lines.map((l) => Buffer.from(l))), path, fingerprint: path, endOffset: 0 });

export function scenarioWriters(db: Database, cluster: string, hooks: CommitHooks = {}): ScenarioWriters {
  const metrics = createMetrics();
  const sessions = new SessionWriter(db, { onCommitted: hooks.onSessionsCommitted });
  const auditSink = createAuditSink({ intake: createAuditIntake({ writer: sessions, metrics, logger: silentLogger }), context: { cluster }, metrics });
  const runtimeWriter = new RuntimeEventWriter(db, { metrics, logger: silentLogger, onCommitted: hooks.onRuntimeCommitted });
  const runtimeSink = createRuntimeLineSink({ writer: runtimeWriter, cluster, metrics, logger: silentLogger });
  const inBatches = async (lines: readonly string[], size: number, write: (batch: LineBatch) => Promise<void>, path: string) => {
    for (let i = 0; i < lines.length; i += size) await write(batchOf(lines.slice(i, i + size), path));
  };
  return {
    audit: (lines, batchSize = 5) => inBatches(lines, batchSize, (b) => auditSink.write(b), 'scenario-audit.log'),
    runtime: (lines, batchSize = 17) => inBatches(lines, batchSize, (b) => runtimeSink.write(b), 'scenario-kubearmor.log'),
    badInput: () => counterByLabel(metrics.badInput, 'reason'),
  };
}

/** Stores audit and KubeArmor lines of one cluster; fails if the readers refused any of them. */
export async function storeScenario(db: Database, cluster: string, auditLines: readonly string[], runtimeLines: readonly string[]): Promise<void> {
  const writers = scenarioWriters(db, cluster);
  await writers.audit(auditLines);
  await writers.runtime(runtimeLines);
  assert.deepEqual(await writers.badInput(), {}, 'every scenario line is read');
}

/** The key the real KubeArmor reader gives a line: what runtime_events and exec_session_links hold. */
export function eventKeyOf(line: string, cluster: string): string {
  const outcome = runtimeEventFromLine(line, { cluster });
  if (outcome.kind !== 'event') throw new Error(`scenario KubeArmor line is not an event (${JSON.stringify(outcome)}): ${line}`);
  return outcome.event.eventKey;
}

/** The truth keyed as the tables key events: event key → auditID of its session, or null. */
export function truthByKey(lines: readonly { line: string; truth: string | null }[], cluster: string): Map<string, string | null> {
  return new Map(lines.map(({ line, truth }) => [eventKeyOf(line, cluster), truth]));
}

// Read back as src/correlate/pod-pass.ts reads them for a pass (its column lists), for the whole cluster.
const selectSessions = `
  SELECT ${sessionColumnsSql('change_events')}
  FROM change_events WHERE operation = 'EXEC' AND cluster = $1 ORDER BY "timestamp", id`;
const selectEvents = `SELECT ${eventColumnsSql('r')} FROM runtime_events r WHERE r.cluster = $1 ORDER BY r.event_time, r.event_key`;

/** The stored sessions and runtime events of a cluster, as the pure correlation sees them. */
export async function correlationInput(db: Queryable, cluster: string): Promise<{ sessions: CorrelationSession[]; events: CorrelationEvent[] }> {
  const sessions = (await db.query<StoredSession>(selectSessions, [cluster])).rows
    .map(correlationSession)
    .filter((s): s is CorrelationSession => s !== undefined);
  const events = (await db.query<EventRow>(selectEvents, [cluster])).rows.map(toCorrelationEvent);
  return { sessions, events };
}

/**
 * KubeArmor lines of every shape (fixtures, real captures) stored by the real reader and writer, then
 * correlated against an open session into every pod they name: nothing throws, whatever fields they lack.
 */
export async function assertCorrelationCopes(db: Database, lines: readonly string[], cluster: string): Promise<void> {
  await storeScenario(db, cluster, [], lines);
  const { events } = await correlationInput(db, cluster);
  assert.ok(events.length > 10, `${events.length} events stored`);
  const pods = [...new Set(events.map((e) => `${e.namespace ?? ''}/${e.pod ?? ''}`))];
  const sessions: CorrelationSession[] = pods.map((key, i) => ({
    id: `s${i}`, cluster, namespace: key.split('/')[0]!, pod: key.split('/')[1]!, kind: i % 2 ? 'exec' : 'attach', command: ['bash'], tty: true, startUs: 0, endUs: null,
  }));
  assert.doesNotThrow(() => correlate(sessions, events, { skewUs: 2_000_000, nowUs: isoToMicros('2027-01-01T00:00:00Z') }));
}


export interface Score {
  precision: number;
  recall: number;
  truePositives: number;
  linked: number;
  expected: number;
  /** Links that should not exist: "event → session". */
  wrong: string[];
  /** Links that are missing. */
  missed: string[];
}

/** Scores (session, event) links against the truth (event key → auditID or null). */
export function score(links: readonly { sessionId: string; eventKey: string }[], truth: ReadonlyMap<string, string | null>, cluster: string): Score {
  const expected = new Set<string>();
  for (const [key, auditId] of truth) if (auditId) expected.add(`${key} → ${sessionId(cluster, auditId)}`);
  const linked = new Set(links.map((l) => `${l.eventKey} → ${l.sessionId}`));
  const wrong = [...linked].filter((l) => !expected.has(l));
  const missed = [...expected].filter((l) => !linked.has(l));
  const truePositives = linked.size - wrong.length;
  return {
    precision: linked.size === 0 ? (expected.size === 0 ? 1 : 0) : truePositives / linked.size,
    recall: expected.size === 0 ? 1 : truePositives / expected.size,
    truePositives,
    linked: linked.size,
    expected: expected.size,
    wrong,
    missed,
  };
}
