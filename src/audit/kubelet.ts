/**
 * Requests to the kubelet API through the apiserver's node proxy (`nodes/NAME/proxy/...`). The audit
 * event says only `nodes/proxy` and the node; what the request does is in the kubelet path that
 * follows `proxy/` in requestURI (kubernetes pkg/kubelet/server/server.go routes):
 *   /exec/NS/POD/CONTAINER, /exec/NS/POD/UID/CONTAINER   (GET/POST, command= repeated)
 *   /attach/NS/POD/CONTAINER, /attach/NS/POD/UID/CONTAINER
 *   /run/NS/POD/CONTAINER, /run/NS/POD/UID/CONTAINER     (POST, cmd= one string)
 *   /portForward/NS/POD, /portForward/NS/POD/UID
 * Everything else (metrics, stats, logs, pods, configz, ...) is scraping, not interactive access.
 */
import { pathSegments } from './request-uri.ts';

/** The kubelet endpoints that open a process or a stream into a container. Case-sensitive, as routed. */
export const interactiveKubeletActions = new Set(['exec', 'run', 'attach', 'portForward']);

export interface KubeletTarget {
  namespace: string;
  pod: string;
  pod_uid?: string;
  container?: string;
}

export interface KubeletRequest {
  /** First path segment: exec, run, attach, portForward, metrics, stats, ... ('' for the root). */
  action: string;
  /** The kubelet path without its query, e.g. `/exec/kube-system/etcd-cp-1/etcd`. */
  path: string;
  target?: KubeletTarget;
}

/**
 * The kubelet request inside a nodes/proxy requestURI: the segments after `.../nodes/NAME/proxy`.
 * Returns undefined when the URI is not a node proxy URI.
 */
export function kubeletRequestOf(requestURI: string): KubeletRequest | undefined {
  const segments = pathSegments(requestURI);
  const at = segments.findIndex((s, i) => s === 'proxy' && segments[i - 2] === 'nodes');
  if (at === -1) return undefined;
  const path = segments.slice(at + 1);
  const action = path[0] ?? '';
  return { action, path: '/' + path.join('/'), target: targetOf(action, path.slice(1)) };
}

function targetOf(action: string, args: string[]): KubeletTarget | undefined {
  const [namespace, pod] = args;
  if (!interactiveKubeletActions.has(action) || !namespace || !pod) return undefined;
  if (action === 'portForward') return args.length >= 3 ? { namespace, pod, pod_uid: args[2] } : { namespace, pod };
  if (args.length >= 4) return { namespace, pod, pod_uid: args[2], container: args[3] };
  return args[2] ? { namespace, pod, container: args[2] } : { namespace, pod };
}

/**
 * The node's name from a node proxy object name, which may be `name`, `name:port` or
 * `scheme:name:port` (k8s.io/apimachinery pkg/util/net SplitSchemeNamePort).
 */
export function nodeNameOf(proxyName: string): string {
  const parts = proxyName.split(':');
  if (parts.length === 3) return parts[1] || proxyName;
  return parts[0] || proxyName;
}
