/**
 * What a requestURI names, read the way the apiserver reads it (k8s.io/apiserver
 * pkg/endpoints/request/requestinfo.go): `/api/v1/namespaces/NS/RES/NAME/SUB/...` or
 * `/apis/GROUP/VERSION/...`. Path segments are percent-decoded, because the apiserver routes on the
 * decoded path: `/pods/p/%65xec` is an exec.
 *
 * The query string is decoded with form rules (`+` is a space): kubectl form-encodes argv, so
 * `URLSearchParams`, never `decodeURIComponent` (reference "The command lives only in requestURI").
 */

export interface UriTarget {
  apiGroup: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
  /** Segments after the subresource (for `nodes/NAME/proxy/...`: the kubelet path). */
  rest: string[];
}

function decodeSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The path of a requestURI as decoded segments (empty and `.` segments dropped). */
export function pathSegments(requestURI: string): string[] {
  const q = requestURI.indexOf('?');
  const path = q === -1 ? requestURI : requestURI.slice(0, q);
  return path
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .map(decodeSegment);
}

/** The query of a requestURI, form-decoded. */
export function queryOf(requestURI: string | undefined): URLSearchParams {
  const at = requestURI?.indexOf('?') ?? -1;
  return new URLSearchParams(at === -1 || !requestURI ? '' : requestURI.slice(at + 1));
}

/** The resource a requestURI names, or undefined for non-resource URLs (`/healthz`, `/apis`). */
export function targetFromRequestURI(requestURI: string): UriTarget | undefined {
  const segments = pathSegments(requestURI);
  let rest: string[];
  let apiGroup: string;
  if (segments[0] === 'api' && segments.length >= 3) {
    apiGroup = '';
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    apiGroup = segments[1]!;
    rest = segments.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource, ...tail] = rest;
  if (!resource) return undefined;
  return { apiGroup, namespace, resource, name, subresource, rest: tail };
}
