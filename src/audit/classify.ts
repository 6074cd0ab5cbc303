/**
 * Which audit events are interactive access (../shared/reference/kubernetes-audit.md, "Which requests
 * are interactive access"). Decided from objectRef, verb and (for nodes/proxy) the kubelet path, never
 * from names: a ConfigMap called `executor-config` is not an exec, nor is a pod called `exec-0` read
 * with pods/log.
 */
import type { AuditEvent } from './event.ts';
import { interactiveKubeletActions, kubeletRequestOf } from './kubelet.ts';

export type AccessKind = 'pod-exec' | 'pod-attach' | 'pod-portforward' | 'pod-debug' | 'node-proxy';

/** `interactive`: kubelet exec/run/attach/portForward only; `all`: every nodes/proxy request. */
export type NodeProxyMode = 'interactive' | 'all';

const podConnect: Record<string, AccessKind> = { exec: 'pod-exec', attach: 'pod-attach', portforward: 'pod-portforward' };

/** The kind of interactive access this event records, or undefined when it is none. */
export function classifyRequest(event: AuditEvent, nodeProxy: NodeProxyMode = 'interactive'): AccessKind | undefined {
  const ref = event.objectRef;
  // Only the core group has pods and nodes; a CRD called "pods" elsewhere is not a pod. The apiserver
  // writes the core group as ""; converters of GKE entries (Sysdig's bridge) write "core".
  if (!ref || (ref.apiGroup && ref.apiGroup !== 'core')) return undefined;
  const { resource, subresource } = ref;
  const verb = event.verb;
  if (resource === 'pods' && subresource) {
    const kind = podConnect[subresource];
    // Connect requests: WebSocket (kubectl >= 1.30) is logged as get, SPDY as create.
    if (kind) return verb === 'create' || verb === 'get' ? kind : undefined;
    // kubectl debug adds an ephemeral container with a PATCH (>= 1.23) or PUT (1.16-1.22, verb update).
    if (subresource === 'ephemeralcontainers') return verb === 'patch' || verb === 'update' ? 'pod-debug' : undefined;
    return undefined;
  }
  if (resource === 'nodes' && subresource === 'proxy') {
    if (nodeProxy === 'all') return 'node-proxy';
    const kubelet = event.requestURI ? kubeletRequestOf(event.requestURI) : undefined;
    return kubelet && interactiveKubeletActions.has(kubelet.action) ? 'node-proxy' : undefined;
  }
  return undefined;
}
