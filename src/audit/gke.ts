/**
 * A GKE Cloud Audit Logs `LogEntry` (protoPayload of type google.cloud.audit.AuditLog) rebuilt as the
 * audit Event the apiserver logged, so that it is classified and extracted like any other
 * (../shared/reference/kubernetes-audit.md "Managed clouds"). Pure.
 *
 * What the entry carries: `methodName` (`io.k8s.core.v1.pods.exec.create`: the verb is its last
 * segment), `resourceName` (`core/v1/namespaces/NS/pods/POD/exec`), `authenticationInfo.principalEmail`,
 * `requestMetadata.callerIp` and `callerSuppliedUserAgent`, `authorizationInfo[].granted`, `status.code`
 * (a google.rpc code: 7 PERMISSION_DENIED), `timestamp`, `operation.id` (the apiserver's auditID) and the
 * decision labels, and at Request level the body (`request`). What it lacks: the request URI's query, hence command, container and the stdin/tty
 * flags; the stage and the end time. Those stay empty; the row says `audit_format: gke-cloud-audit-log`.
 */

/** Marks an event rebuilt from a Cloud Audit Logs entry (read by extract.ts). */
export const CLOUD_AUDIT_LOG_KEY = 'exectrailCloudAuditLog';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** google.rpc.Code → the HTTP status the apiserver answered (googleapis/google/rpc/code.proto). */
const httpStatusOfRpcCode: Record<number, number> = { 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401 };

// `core/v1/namespaces/NS/pods/POD/exec`, `core/v1/nodes/NODE/proxy/...` (group/version/[namespaces/NS/]resource/name/subresource...).
const resourceNamePattern = /^([^/]+)\/([^/]+)\/(?:namespaces\/([^/]+)\/)?([^/]+)\/([^/]+)(?:\/([^/]+)(\/.*)?)?$/;

/** An entry that names an interactive request but cannot become an event (envelopes.ts counts it). */
export interface CloudAuditLogRejected {
  reason: 'not-an-event' | 'bad-field';
  detail: string;
}

export type CloudAuditLogConversion = { event: Record<string, unknown> } | { rejected?: CloudAuditLogRejected };

/**
 * The audit Event inside a Cloud Audit Logs entry. An entry about anything but the Kubernetes API
 * (serviceName other than k8s.io) is no audit event of ours: skipped, not bad input. One that lacks
 * what a session needs (time, ID, resource) is refused with the field it lacks.
 */
export function eventFromCloudAuditLogEntry(entry: Record<string, unknown>): CloudAuditLogConversion {
  const payload = entry.protoPayload as Record<string, unknown>;
  const service = text(payload.serviceName);
  if (service !== undefined && service !== 'k8s.io') return {};
  const method = text(payload.methodName);
  const resourceName = text(payload.resourceName);
  const parts = resourceName ? resourceNamePattern.exec(resourceName) : null;
  if (!method || !parts) return { rejected: { reason: 'not-an-event', detail: 'a GKE Cloud Audit Logs entry without a Kubernetes methodName and resourceName' } };
  const [, group, version, namespace, resource, name, subresource, rest] = parts;
  const operation = isObject(entry.operation) ? entry.operation : {};
  const auditID = text(operation.id) ?? text(entry.insertId);
  if (!auditID) return { rejected: { reason: 'bad-field', detail: 'a GKE Cloud Audit Logs entry without operation.id or insertId (the auditID)' } };
  const timestamp = text(entry.timestamp);
  if (!timestamp) return { rejected: { reason: 'bad-field', detail: 'timestamp: a GKE Cloud Audit Logs entry without a time' } };

  const authentication = isObject(payload.authenticationInfo) ? payload.authenticationInfo : {};
  const metadata = isObject(payload.requestMetadata) ? payload.requestMetadata : {};
  // `callerIp` in Google's JSON; Panther's normalised copies spell it `callerIP`.
  const callerIp = text(metadata.callerIp) ?? text(metadata.callerIP);
  const status = isObject(payload.status) ? payload.status : {};
  const rpcCode = typeof status.code === 'number' ? status.code : 0;
  const denied = Array.isArray(payload.authorizationInfo) && payload.authorizationInfo.some((a) => isObject(a) && a.granted === false);
  const httpCode = rpcCode !== 0 ? (httpStatusOfRpcCode[rpcCode] ?? 500) : denied ? 403 : undefined;
  const labels = isObject(entry.labels) ? entry.labels : {};
  const annotations: Record<string, string> = {};
  for (const key of ['authorization.k8s.io/decision', 'authorization.k8s.io/reason']) {
    if (typeof labels[key] === 'string') annotations[key] = labels[key];
  }
  const apiPrefix = group === 'core' ? `/api/${version}` : `/apis/${group}/${version}`;
  const path = `${apiPrefix}/${namespace ? `namespaces/${namespace}/` : ''}${resource}/${name}${subresource ? `/${subresource}${rest ?? ''}` : ''}`;
  return {
    event: {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      auditID,
      requestURI: path,
      verb: method.slice(method.lastIndexOf('.') + 1),
      user: { username: text(authentication.principalEmail) ?? text(authentication.principalSubject) ?? '' },
      sourceIPs: callerIp ? [callerIp] : undefined,
      userAgent: text(metadata.callerSuppliedUserAgent),
      objectRef: { resource, namespace, name, apiGroup: group === 'core' ? '' : group, apiVersion: version, subresource },
      responseStatus: httpCode === undefined ? undefined : { code: httpCode, status: 'Failure', message: text(status.message) },
      // Request level and above: the body (kubectl debug's patch names the ephemeral container).
      requestObject: payload.request,
      requestReceivedTimestamp: timestamp,
      annotations: Object.keys(annotations).length ? annotations : undefined,
      [CLOUD_AUDIT_LOG_KEY]: true,
    },
  };
}
