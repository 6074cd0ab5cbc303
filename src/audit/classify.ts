/**
 * Which audit events are interactive access (../shared/reference/kubernetes-audit.md, "Which requests
 * are interactive access"). Decided from objectRef and verb, never from names: a ConfigMap called
 * `executor-config` is not an exec.
 */
import type { AuditEvent } from './event.ts';

export type AccessKind = 'pod-exec';

/** The kind of interactive access this event records, or undefined when it is none. */
export function classifyRequest(event: AuditEvent): AccessKind | undefined {
  const ref = event.objectRef;
  if (!ref || ref.apiGroup) return undefined;
  // WebSocket exec (kubectl >= 1.30) is logged with verb get, SPDY with create.
  const connectVerb = event.verb === 'create' || event.verb === 'get';
  if (ref.resource === 'pods' && ref.subresource === 'exec' && connectVerb) return 'pod-exec';
  return undefined;
}
