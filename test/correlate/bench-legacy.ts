/**
 * NOT USED BY ANY TEST. bench/rows/correlation.ts imports these from test/correlate/support.ts; they are
 * kept (re-exported there) only so the bench still builds. They map rows by hand, which the tests no
 * longer do (issue 17: rows go through the real readers and writers). Delete this file once the bench no
 * longer imports test/ code (issue 17, "the bench imports test/ code").
 */
import { createHash } from 'node:crypto';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { mergeStages, type SessionRow } from '../../src/audit/session.ts';
import type { CorrelationEvent } from '../../src/correlate/model.ts';
import { isoToMicros, microsToIso } from '../../src/time/micros.ts';
import type { Queryable } from '../../src/store/database.ts';
import { toCorrelationEvent } from '../../src/correlate/store.ts';

/** Session rows from audit log lines, through the real audit transform. */
export function sessionsOf(auditLines: readonly string[], cluster: string): SessionRow[] {
  return mergeStages(auditLines.flatMap((line) => sessionsFromLine(Buffer.from(line), { cluster }).rows));
}

const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : null);
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);

/** A runtime_events row from one KubeArmor JSON line (PascalCase, as the relay prints it). */
export function runtimeRow(line: string, cluster: string) {
  const e = JSON.parse(line) as Record<string, unknown>;
  const exec = (e.ExecEvent ?? {}) as Record<string, unknown>;
  const execId = str(exec.ExecID);
  const eventTime = microsToIso(isoToMicros(String(e.UpdatedTime)));
  return {
    event_key: createHash('sha256').update(`${cluster}\n${line}`).digest('hex'),
    event_time: eventTime,
    cluster,
    kind: e.PolicyName || e.Action ? 'alert' : 'log',
    host_name: str(e.HostName),
    namespace: str(e.NamespaceName),
    pod: str(e.PodName),
    container_name: str(e.ContainerName),
    container_id: str(e.ContainerID),
    pid: num(e.PID),
    ppid: num(e.PPID),
    host_pid: num(e.HostPID),
    host_ppid: num(e.HostPPID),
    process_name: str(e.ProcessName),
    parent_process_name: str(e.ParentProcessName),
    resource: str(e.Resource),
    source: str(e.Source),
    operation: str(e.Operation),
    data: str(e.Data),
    tty: str(e.TTY),
    exec_id: execId === '0' ? null : execId,
    type: str(e.Type),
    policy_name: str(e.PolicyName),
    severity: str(e.Severity),
    action: str(e.Action),
    result: str(e.Result),
    raw: e,
  };
}

export type RuntimeRow = ReturnType<typeof runtimeRow>;

/** The same row as the pure correlation sees it: exactly what src/correlate/store.ts builds from the table. */
export function correlationEventOf(row: RuntimeRow): CorrelationEvent {
  return toCorrelationEvent(row);
}

const columns = [
  'event_key text', 'event_time timestamptz', 'cluster text', 'kind text', 'host_name text', 'namespace text', 'pod text',
  'container_name text', 'container_id text', 'pid integer', 'ppid integer', 'host_pid integer', 'host_ppid integer',
  'process_name text', 'parent_process_name text', 'resource text', 'source text', 'operation text', 'data text', 'tty text',
  'exec_id text', 'type text', 'policy_name text', 'severity text', 'action text', 'result text', 'raw jsonb',
];
const names = columns.map((c) => c.split(' ')[0]).join(', ');

/** Stores runtime rows (idempotent, like the runtime writer) and returns what a commit hook would report. */
export async function insertRuntimeRows(db: Queryable, rows: readonly RuntimeRow[]) {
  await db.query(
    `INSERT INTO runtime_events (${names}) SELECT ${names} FROM jsonb_to_recordset($1::jsonb) AS r(${columns.join(', ')})
     ON CONFLICT (event_key, event_time) DO NOTHING`,
    [JSON.stringify(rows)],
  );
  return rows.map((r) => ({ cluster: r.cluster, namespace: r.namespace, pod: r.pod, eventTime: r.event_time }));
}
