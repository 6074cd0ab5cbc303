/**
 * The identity of a runtime event, for idempotency: the same event received twice (from two relays,
 * from the relay and a node daemon, from a re-read file, from gRPC and from `karmor logs --json`) gets
 * the same key and is stored once (runtime_events primary key (event_time, event_key, kept)).
 *
 * What is in it: the facts of the event itself (where, when to the microsecond, which process, what it
 * did, what came of it) and, for alerts, which policy matched and what it did (action, enforcer).
 * What is not: enrichment and policy metadata that differ between renders and versions of the same
 * event (container image, labels, owner, severity, tags, message, cwd, tty, KubeArmor's ClusterName),
 * and the raw form. Empty, absent and 0 are the same value here: proto3 drops zeros that the relay's
 * JSON prints (PPID, UID) and the JSON forms drop what proto sends as "".
 */
import { hash } from 'node:crypto';
import type { RuntimeEventRow } from '../store/schema.ts';

type KeyedFields = Pick<
  RuntimeEventRow,
  | 'cluster'
  | 'kind'
  | 'eventTime'
  | 'hostName'
  | 'namespace'
  | 'pod'
  | 'containerId'
  | 'containerName'
  | 'pid'
  | 'ppid'
  | 'hostPid'
  | 'hostPpid'
  | 'uid'
  | 'execId'
  | 'processName'
  | 'parentProcessName'
  | 'type'
  | 'operation'
  | 'resource'
  | 'source'
  | 'data'
  | 'result'
  | 'policyName'
  | 'action'
  | 'enforcer'
>;

/**
 * 32 hex characters: the first 128 bits of a SHA-256 of the identity, the width of runtime_events.event_key
 * (keys stored before migration 0007 were the whole 64 hex; the migration kept their first 32, the same
 * value this gives).
 */
export function runtimeEventKey(event: KeyedFields): string {
  const v = orNull;
  // The same array, in the same order, as the keys stored since migration 0007 were computed from.
  const identity = [
    v(event.cluster),
    v(event.kind),
    v(event.eventTime),
    v(event.hostName),
    v(event.namespace),
    v(event.pod),
    v(event.containerId),
    v(event.containerName),
    v(event.pid),
    v(event.ppid),
    v(event.hostPid),
    v(event.hostPpid),
    v(event.uid),
    v(event.execId),
    v(event.processName),
    v(event.parentProcessName),
    v(event.type),
    v(event.operation),
    v(event.resource),
    v(event.source),
    v(event.data),
    v(event.result),
    v(event.policyName),
    v(event.action),
    v(event.enforcer),
  ];
  // crypto.hash: the one-shot digest (Node >= 20.12), without a Hash object per event.
  return hash('sha256', JSON.stringify(identity), 'hex').slice(0, 32);
}

/** Empty, absent and 0 are the same value in the key. */
function orNull<T>(value: T): T | null {
  return value === 0 || value === '' || value === undefined ? null : value;
}
