/**
 * The managed clusters' export shapes, built by the tests from one set of native audit events (our
 * fixtures, test/fixtures/audit) as ../shared/reference/kubernetes-audit.md "Managed clouds" describes
 * each envelope: so every shape can be held to the rows the native file gives.
 *
 * A shape is either `lines` (what a file holds, one document per line) or a `body` (what a forwarder
 * posts to the webhook). GKE Cloud Audit Logs carry one entry per request (the request's last stage);
 * what they lack is listed in gkeComparable.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { SessionRow } from '../../src/audit/session.ts';
import { fixturesDir } from './support.ts';

export type AuditEventObject = Record<string, unknown> & { auditID: string };

/** Every native event of our .jsonl fixtures, in file order (legacy text lines are not native JSON events). */
export function nativeEvents(): AuditEventObject[] {
  const names = readdirSync(fixturesDir).filter((name) => name.endsWith('.jsonl')).sort();
  return names.flatMap((name) =>
    readFileSync(fixturesDir + name, 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as AuditEventObject),
  );
}

/** The events with `-<suffix>` added to every auditID: each shape's sessions are its own. */
export function withSuffix(events: readonly AuditEventObject[], suffix: string): AuditEventObject[] {
  return events.map((event) => ({ ...event, auditID: `${event.auditID}-${suffix}` }));
}

const timeMs = (event: AuditEventObject) => Date.parse(String(event.stageTimestamp ?? event.requestReceivedTimestamp));
const STREAM = 'kube-apiserver-audit-0f1e2d3c4b5a69788796a5b4c3d2e1f0';

/** `aws logs filter-log-events` items: the event as a JSON string in `message`. */
export function cloudWatchLogEvent(event: AuditEventObject, n: number): Record<string, unknown> {
  return { logStreamName: STREAM, timestamp: timeMs(event), message: JSON.stringify(event), ingestionTime: timeMs(event) + 900, eventId: `3759${String(n).padStart(52, '0')}` };
}

/** A CloudWatch Logs subscription delivery (Firehose, Lambda, Kinesis). */
export function subscriptionDocument(events: readonly AuditEventObject[]): Record<string, unknown> {
  return {
    messageType: 'DATA_MESSAGE',
    owner: '123456789012',
    logGroup: '/aws/eks/payments/cluster',
    logStream: STREAM,
    subscriptionFilters: ['exectrail'],
    logEvents: events.map((event, n) => ({ id: `3759${String(n).padStart(52, '0')}`, timestamp: timeMs(event), message: JSON.stringify(event) })),
  };
}

/** What CloudWatch sends first to check a subscription's destination: no events. */
export const controlMessage = {
  messageType: 'CONTROL_MESSAGE',
  owner: 'CloudwatchLogs',
  logGroup: '',
  logStream: '',
  subscriptionFilters: [],
  logEvents: [{ id: '', timestamp: 1730204504189, message: 'CWL CONTROL MESSAGE: Checking health of destination Firehose.' }],
};

/** An AKS diagnostic record (category kube-audit); `properties.log` as Event Hubs writes it (a string) or as an object. */
export function aksRecord(event: AuditEventObject, log: 'string' | 'object'): Record<string, unknown> {
  return {
    time: String(event.stageTimestamp ?? event.requestReceivedTimestamp),
    resourceId: '/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/PAYMENTS/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PAYMENTS',
    category: 'kube-audit',
    operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read',
    properties: { log: log === 'string' ? JSON.stringify(event) : event, stream: 'stdout', pod: 'kube-apiserver-7c9d8f6b5-x2x4z', containerID: '0f1e2d3c' },
  };
}

/** The last stage of each request: what Cloud Audit Logs keeps (one entry per request). */
function lastStages(events: readonly AuditEventObject[]): AuditEventObject[] {
  const byId = new Map<string, AuditEventObject>();
  for (const event of events) byId.set(event.auditID, event);
  return [...byId.values()];
}

/** A GKE Cloud Audit Logs entry for an event, with the fields the reference lists; undefined for a request without an object. */
export function gkeLogEntry(event: AuditEventObject): Record<string, unknown> | undefined {
  const ref = event.objectRef as Record<string, string | undefined> | undefined;
  if (!ref?.resource || !ref.name) return undefined;
  const group = ref.apiGroup || 'core';
  const version = ref.apiVersion ?? 'v1';
  const uri = String(event.requestURI ?? '');
  // nodes/proxy: the kubelet path after /proxy (the query is never in a LogEntry).
  const proxyPath = ref.subresource === 'proxy' ? (/\/proxy(\/[^?]*)/.exec(uri)?.[1] ?? '') : '';
  const resourceName = `${group}/${version}/${ref.namespace ? `namespaces/${ref.namespace}/` : ''}${ref.resource}/${ref.name}${ref.subresource ? `/${ref.subresource}${proxyPath}` : ''}`;
  const methodName = `io.k8s.${group}.${version}.${ref.resource}${ref.subresource ? `.${ref.subresource}` : ''}.${String(event.verb)}`;
  const code = (event.responseStatus as { code?: number } | undefined)?.code;
  const annotations = (event.annotations ?? {}) as Record<string, string>;
  const granted = annotations['authorization.k8s.io/decision'] !== 'forbid' && code !== 403;
  const sourceIPs = (event.sourceIPs ?? []) as string[];
  const user = (event.user ?? {}) as { username?: string };
  const entry: Record<string, unknown> = {
    protoPayload: {
      '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
      authenticationInfo: { principalEmail: user.username },
      authorizationInfo: [{ granted, permission: methodName, resource: resourceName }],
      methodName,
      requestMetadata: { callerIp: sourceIPs.at(-1), callerSuppliedUserAgent: event.userAgent },
      resourceName,
      serviceName: 'k8s.io',
      status: code === 403 ? { code: 7, message: 'PERMISSION_DENIED' } : { code: 0 },
      request: event.requestObject,
    },
    insertId: `${event.auditID.slice(0, 8)}-gke`,
    resource: { type: 'k8s_cluster', labels: { cluster_name: 'payments', location: 'europe-west1', project_id: 'payments-prod' } },
    timestamp: event.requestReceivedTimestamp ?? event.timestamp ?? event.stageTimestamp,
    severity: 'NOTICE',
    labels: Object.fromEntries(Object.entries(annotations).filter(([key]) => key.startsWith('authorization.k8s.io/'))),
    logName: 'projects/payments-prod/logs/cloudaudit.googleapis.com%2Factivity',
    operation: { id: event.auditID, producer: 'k8s.io', first: true, last: true },
    receiveTimestamp: event.stageTimestamp,
  };
  return entry;
}

export interface Shape {
  name: string;
  /** Lines of a file, when the shape is a file's content. */
  lines?: string[];
  /** A webhook body, when the shape is a batch a forwarder posts. */
  body?: string;
  /** The file name a directory of exports would hold it under. */
  fileName?: string;
  gzip?: boolean;
  /** GKE: rows compare through gkeComparable. */
  gke?: boolean;
}

const BOM = '\uFEFF';

/** Every shape of one set of events; each shape's events carry `-<shape name>` in their auditIDs. */
export function managedShapes(events: readonly AuditEventObject[]): Shape[] {
  const of = (name: string) => withSuffix(events, name);
  const gkeEntries = (name: string) => lastStages(of(name)).map(gkeLogEntry).filter((entry) => entry !== undefined);
  const sub = of('eks-subscription');
  return [
    { name: 'eks-log-events', fileName: 'eks-filter-log-events.jsonl', lines: of('eks-log-events').map((e, n) => JSON.stringify(cloudWatchLogEvent(e, n))) },
    { name: 'eks-filter-output', fileName: 'eks-filter-log-events-output.json', lines: [JSON.stringify({ events: of('eks-filter-output').map(cloudWatchLogEvent), searchedLogStreams: [{ logStreamName: STREAM, searchedCompletely: true }] })] },
    {
      name: 'eks-subscription',
      fileName: 'firehose-subscription.jsonl',
      lines: [JSON.stringify(controlMessage), JSON.stringify(subscriptionDocument(sub.slice(0, 10))), JSON.stringify(subscriptionDocument(sub.slice(10)))],
      body: JSON.stringify(subscriptionDocument(sub)),
    },
    // Firehose writes the delivered documents back to back, gzipped.
    { name: 'eks-firehose', fileName: 'PUT-S3-exectrail-1-2026-01-20-10-00-00-0f1e2d3c.gz', gzip: true, lines: [of('eks-firehose').map((e) => JSON.stringify(subscriptionDocument([e]))).join('')] },
    { name: 'eks-s3-export', fileName: '000000.gz', gzip: true, lines: of('eks-s3-export').map((e) => `${new Date(timeMs(e)).toISOString()} ${JSON.stringify(e)}`) },
    { name: 'aks-log-string', fileName: 'PT1H.json', lines: of('aks-log-string').map((e) => JSON.stringify(aksRecord(e, 'string'))) },
    { name: 'aks-log-object', fileName: 'aks-object.jsonl', lines: of('aks-log-object').map((e, n) => (n % 2 ? BOM : '') + JSON.stringify(aksRecord(e, 'object'))) },
    {
      name: 'aks-records',
      fileName: 'aks-eventhub.jsonl',
      lines: [JSON.stringify({ records: of('aks-records').map((e, n) => aksRecord(e, n % 2 ? 'object' : 'string')) })],
      body: BOM + JSON.stringify({ records: of('aks-records').map((e, n) => aksRecord(e, n % 2 ? 'object' : 'string')) }),
    },
    { name: 'gke-sink', fileName: 'cloudaudit.googleapis.com_activity_20260120_1000.jsonl', gke: true, lines: gkeEntries('gke-sink').map((e) => JSON.stringify(e)) },
    { name: 'gke-gcloud', fileName: 'gcloud-logging-read.json', gke: true, lines: [JSON.stringify(gkeEntries('gke-gcloud'))], body: JSON.stringify(gkeEntries('gke-gcloud'), null, 2) },
  ];
}

/** Shapes tested one document at a time rather than as a file of one set (envelopes.test.ts). */
export const singleDocumentShapes = ['gke-pubsub', 'ecs'] as const;

/** An Elastic/ECS document around one event. */
export function ecsDocument(event: AuditEventObject): string {
  return JSON.stringify({ '@timestamp': event.requestReceivedTimestamp, event: { dataset: 'kubernetes.audit_logs' }, kubernetes: { audit: event } });
}

/** A Pub/Sub push of one entry: what a push subscription POSTs. */
export function pubSubPush(entry: Record<string, unknown>, n: number): string {
  return JSON.stringify({
    message: { attributes: { 'logging.googleapis.com/timestamp': entry.timestamp }, data: Buffer.from(JSON.stringify(entry)).toString('base64'), messageId: String(9000 + n), publishTime: entry.receiveTimestamp },
    subscription: 'projects/payments-prod/subscriptions/exectrail-audit',
  });
}

/** The file content of a shape, gzipped when its name says so. */
export function shapeFileContent(shape: Shape): Buffer {
  const text = Buffer.from(shape.lines!.join('\n') + '\n');
  return shape.gzip ? gzipSync(text) : text;
}

/** Strips a shape's `-<name>` suffix from a row so it compares with the native row. */
export function withoutSuffix(row: SessionRow, suffix: string): SessionRow {
  const strip = (text: string) => (text.endsWith(`-${suffix}`) ? text.slice(0, -suffix.length - 1) : text);
  return { ...row, id: strip(row.id), auditId: strip(row.auditId) };
}

/**
 * What a GKE row keeps of the native row: Cloud Audit Logs have no query string (command, container,
 * stdin/stdout/stderr/tty, ports), no stages or end time, no status but PERMISSION_DENIED, only the
 * user name and the caller IP of the user, and no command for the tool's fingerprint.
 */
export function gkeComparable(row: SessionRow): Record<string, unknown> {
  const m = row.execMetadata;
  return {
    id: row.id,
    cluster: row.cluster,
    auditId: row.auditId,
    requestKey: row.requestKey,
    timestamp: row.timestamp,
    resourceKind: row.resourceKind,
    namespace: row.namespace,
    name: row.name,
    allowed: row.allowed,
    actor: { username: row.actor.username, source_ip: row.actor.source_ip },
    source: { user_agent: row.source.user_agent, client_name: row.source.client_name, client_version: row.source.client_version, client_platform: row.source.client_platform },
    exec: {
      target_type: m.target_type,
      subresource: m.subresource,
      verb: m.verb,
      transport: m.transport,
      decision: m.decision,
      reason: m.reason,
      started_at: m.started_at,
      node_name: m.node_name,
      kubelet_action: m.kubelet_action,
      kubelet_path: m.kubelet_path,
      target: m.target ? { namespace: m.target.namespace, pod: m.target.pod } : undefined,
      ephemeral_container: m.ephemeral_container,
    },
  };
}

/** The exec_metadata fields a GKE exec or attach row cannot have: they come from the query string. */
export const gkeAbsentFields = ['command', 'container', 'stdin', 'stdout', 'stderr', 'tty', 'ports'] as const;
