/**
 * From a stored session (a change_events EXEC row) to what correlation needs: which pod and container the
 * session reached, what it ran, and when. Pure.
 *
 * - pods/exec, pods/attach: the row's namespace and name, `exec_metadata.container`.
 * - nodes/proxy exec/run/attach: the row names the node; the pod is `exec_metadata.target` {namespace,
 *   pod, container}, parsed by src/audit from the kubelet path `/exec/NS/POD/CONTAINER`.
 * - pods/ephemeralcontainers (`kubectl debug`): the container it creates. Its name is read from the
 *   debug fields src/audit extracts from the patch.
 * Denied sessions never reached a container, and port-forwards start no process: neither is correlated.
 */
import type { ChangeEventRow } from '../store/schema.ts';
import { isoToMicros } from '../time/micros.ts';
import type { CorrelationSession } from './model.ts';

/** The columns of change_events correlation reads, named and typed as the schema declares them. */
export const storedSessionKeys = ['id', 'cluster', 'resourceKind', 'namespace', 'name', 'allowed', 'execMetadata', 'timestamp'] as const;
export type StoredSession = Pick<ChangeEventRow, (typeof storedSessionKeys)[number]>;

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const record = (value: unknown): Record<string, unknown> | undefined =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

/** The ephemeral container a `kubectl debug` patch creates: `exec_metadata.ephemeral_container.name` (or `container`). */
export function ephemeralContainerName(meta: Record<string, unknown>): string | undefined {
  return text(record(meta.ephemeral_container)?.name) ?? text(meta.container);
}

export function correlationSession(row: StoredSession): CorrelationSession | undefined {
  const meta: Record<string, unknown> = row.execMetadata ?? {};
  if (!row.allowed) return undefined;
  const command = Array.isArray(meta.command) ? meta.command.filter((a): a is string => typeof a === 'string') : [];
  const target = targetOf(row, meta, command);
  if (!target) return undefined;
  const startedAt = text(meta.started_at) ?? row.timestamp;
  const endedAt = text(meta.ended_at);
  let startUs: number;
  let endUs: number | null;
  try {
    startUs = isoToMicros(startedAt);
    endUs = endedAt ? isoToMicros(endedAt) : null;
  } catch {
    return undefined;
  }
  // One literal, no spread: the session writer hands every committed session here.
  return {
    id: row.id,
    cluster: row.cluster,
    command,
    tty: meta.tty === true,
    startUs,
    endUs,
    kind: target.kind,
    namespace: target.namespace,
    pod: target.pod,
    container: target.container,
  };
}

type Target = Pick<CorrelationSession, 'kind' | 'namespace' | 'pod' | 'container'>;

/** Which container of which pod the session reached, and how; undefined for one that reached none. */
function targetOf(row: StoredSession, meta: Record<string, unknown>, command: string[]): Target | undefined {
  const subresource = text(meta.subresource);
  if (row.resourceKind === 'Node' || meta.target_type === 'node') {
    const target = record(meta.target);
    const namespace = text(target?.namespace);
    const pod = text(target?.pod);
    if (!namespace || !pod) return undefined;
    const container = text(target?.container) ?? text(meta.container);
    // kubelet_action is the kubelet path's first segment; without it, a command means exec/run.
    const action = text(meta.kubelet_action) ?? (command.length > 0 ? 'exec' : 'attach');
    if ((action === 'exec' || action === 'run') && command.length > 0) return { kind: 'exec', namespace, pod, container };
    if (action === 'attach' && container) return { kind: 'attach', namespace, pod, container };
    return undefined;
  }

  if (subresource === 'exec' && command.length > 0) return { kind: 'exec', namespace: row.namespace, pod: row.name, container: text(meta.container) };
  if (subresource === 'attach') return { kind: 'attach', namespace: row.namespace, pod: row.name, container: text(meta.container) };
  if (subresource === 'ephemeralcontainers') {
    const container = ephemeralContainerName(meta);
    if (!container) return undefined;
    return { kind: 'debug', namespace: row.namespace, pod: row.name, container };
  }
  return undefined;
}
