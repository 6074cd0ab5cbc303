/**
 * Generated audit events and the many ways they are written down, for the property tests: interactive
 * requests and look-alike traps; v1, v1beta1, no apiVersion, legacy `timestamp`; serialised with
 * shuffled keys, spaces after colons, Go's `\u0026` escapes, `\/`, `\uXXXX` for non-ASCII; wrapped bare,
 * in an EventList, an array, AKS records (`properties.log` as a JSON string), behind a BOM; or as a
 * `--audit-log-format=legacy` text line.
 */
import type { ExtractContext } from '../../src/audit/extract.ts';
import { sessionsFromLine } from '../../src/audit/input.ts';
import type { SessionRow } from '../../src/audit/session.ts';
import { gkeLogEntry } from './managed-shapes.ts';
import { pick, shuffle } from './support.ts';

type Random = () => number;
export type AuditEventObject = Record<string, unknown>;

const namespaces = ['shop', 'prod', 'kube-system', 'exec', 'proxy-ns', 'default'];
const pods = ['web-0', 'api-7d9f5c6b8-x2k4t', 'exec-0', 'attach-me', 'db-0', 'portforward-svc', 'café-1'];
const containers = ['web', 'api', 'sidecar', 'exec', 'debugger-8xk2p'];
const users = ['kubernetes-admin', 'dev@example.com', 'system:serviceaccount:monitoring:metrics-reader', 'système', 'system:kube-proxy'];
const agents = [
  'kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9',
  'kubectl/v1.29.3 (linux/amd64) kubernetes/6813625',
  'oc/4.15.0 (darwin/arm64) kubernetes/abc1234',
  'kube-proxy/v1.29.0 (linux/amd64) kubernetes/3f7a50f',
  'Go-http-client/1.1',
  'curl/8.5.0',
];
const commands = [
  ['/bin/sh'],
  ['sh', '-c', 'cat /etc/passwd | head -n 3 && echo done'],
  ['bash'],
  ['mysql', '-uroot', '-pS3cret', 'shop'],
  ['sh', '-c', 'command -v bash >/dev/null && exec bash || exec sh'],
  ['tar', 'cf', '-', '/app/config'],
  ['env', 'PGPASSWORD=hunter2', 'psql', '-h', 'db', '<', '/tmp/x.sql'],
];
const kubeletScrapes = ['metrics', 'metrics/cadvisor', 'stats/summary', 'logs/kube-apiserver.log', 'pods', 'configz', 'containerLogs/shop/web-0/web'];

function hex(random: Random, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(random() * 16).toString(16);
  return s;
}

export function auditIdFor(random: Random): string {
  return `${hex(random, 8)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 12)}`;
}

const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');

/** A path segment, sometimes percent-encoded the way a crafted client may send it. */
function pathSegment(random: Random, segment: string): string {
  if (random() < 0.1 && segment.length > 0) return `%${segment.charCodeAt(0).toString(16)}${segment.slice(1)}`;
  return encodeURIComponent(segment);
}

export interface RequestShape {
  requestURI: string;
  verb: string;
  objectRef: Record<string, string>;
  requestObject?: unknown;
  /** Whether the classifier must accept it with -node-proxy=interactive. */
  interactive: boolean;
}

/** A request: an interactive-access one or a trap that looks like one. */
export function generateRequest(random: Random): RequestShape {
  const ns = pick(random, namespaces);
  const pod = pick(random, pods);
  const container = pick(random, containers);
  const podPath = `/api/v1/namespaces/${pathSegment(random, ns)}/pods/${pathSegment(random, pod)}`;
  const ref = (subresource?: string, resource = 'pods') => ({ resource, namespace: ns, name: pod, apiVersion: 'v1', ...(subresource ? { subresource } : {}) });
  const connectVerb = pick(random, ['get', 'create']);
  const query = () => {
    const parts = pick(random, commands).map((arg) => `command=${formEncode(arg)}`);
    parts.push(`container=${container}`);
    for (const flag of ['stderr', 'stdin', 'stdout', 'tty']) if (random() < 0.6) parts.push(`${flag}=true`);
    return parts.join('&');
  };
  const node = pick(random, ['worker-1', 'worker-1:10250', 'https:worker-2:10250', 'cp-exec-1']);
  const nodePath = `/api/v1/nodes/${node}/proxy`;
  switch (Math.floor(random() * 14)) {
    case 0:
    case 1:
      return { requestURI: `${podPath}/${pathSegment(random, 'exec')}?${query()}`, verb: connectVerb, objectRef: ref('exec'), interactive: true };
    case 2:
      return { requestURI: `${podPath}/attach?container=${container}&stdin=true&stdout=true&tty=true`, verb: connectVerb, objectRef: ref('attach'), interactive: true };
    case 3:
      return { requestURI: `${podPath}/portforward${random() < 0.3 ? '?ports=8080' : ''}`, verb: connectVerb, objectRef: ref('portforward'), interactive: true };
    case 4:
      return {
        requestURI: `${podPath}/ephemeralcontainers`,
        verb: pick(random, ['patch', 'update']),
        objectRef: ref('ephemeralcontainers'),
        requestObject: { spec: { ephemeralContainers: [{ name: 'debugger-x1', image: 'busybox:1.36', targetContainerName: container, stdin: true, tty: true }] } },
        interactive: true,
      };
    case 5: {
      const action = pick(random, ['exec', 'run', 'attach', 'portForward']);
      const target = action === 'portForward' ? `${ns}/${pod}` : `${ns}/${pod}/${container}`;
      const q = action === 'run' ? `cmd=${formEncode('cat /etc/shadow')}` : action === 'exec' ? `${query().replace(/stdin=true/, 'input=1')}&output=1` : 'output=1';
      return {
        requestURI: `${nodePath}/${pathSegment(random, action)}/${target}?${q}`,
        verb: action === 'run' ? 'create' : 'get',
        objectRef: { resource: 'nodes', name: node, apiVersion: 'v1', subresource: 'proxy' },
        interactive: true,
      };
    }
    // Traps: none of these is interactive access.
    case 6:
      return { requestURI: `${nodePath}/${pick(random, kubeletScrapes)}`, verb: 'get', objectRef: { resource: 'nodes', name: node, apiVersion: 'v1', subresource: 'proxy' }, interactive: false };
    case 7:
      return { requestURI: `${podPath}/log?container=${container}`, verb: 'get', objectRef: ref('log'), interactive: false };
    case 8:
      return { requestURI: `${podPath}/status`, verb: pick(random, ['patch', 'get']), objectRef: ref('status'), interactive: false };
    case 9:
      return { requestURI: `/api/v1/namespaces/${ns}/services/exec-svc/proxy/exec`, verb: 'get', objectRef: { resource: 'services', namespace: ns, name: 'exec-svc', apiVersion: 'v1', subresource: 'proxy' }, interactive: false };
    case 10:
      return { requestURI: `/api/v1/namespaces/${ns}/configmaps/executor-config`, verb: 'update', objectRef: { resource: 'configmaps', namespace: ns, name: 'executor-config', apiVersion: 'v1' }, interactive: false };
    case 11:
      return { requestURI: `${podPath}/exec?command=ls`, verb: pick(random, ['delete', 'list', 'patch']), objectRef: ref('exec'), interactive: false };
    case 12:
      return { requestURI: `/apis/storage.k8s.io/v1/volumeattachments/attach-exec-proxy`, verb: 'get', objectRef: { resource: 'volumeattachments', name: 'attach-exec-proxy', apiGroup: 'storage.k8s.io', apiVersion: 'v1' }, interactive: false };
    default:
      return { requestURI: `${podPath}`, verb: 'get', objectRef: ref(), interactive: false };
  }
}

const stages = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'];

export function isoMicros(ms: number, micros: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}Z`;
}

/** One stage of one request as the apiserver would log it (in one of the historic shapes). */
export function eventFor(random: Random, request: RequestShape, opts: { auditID: string; stage: string; startMs: number; stageMs: number; code?: number }): AuditEventObject {
  const { auditID, stage } = opts;
  const received = isoMicros(opts.startMs, Math.floor(random() * 1e6));
  const stageAt = stage === 'RequestReceived' ? received : isoMicros(opts.stageMs, Math.floor(random() * 1e6));
  const event: AuditEventObject = {
    kind: 'Event',
    apiVersion: pick(random, ['audit.k8s.io/v1', 'audit.k8s.io/v1', 'audit.k8s.io/v1beta1', undefined]),
    level: pick(random, ['Metadata', 'Request', 'RequestResponse']),
    auditID,
    stage,
    requestURI: request.requestURI,
    verb: request.verb,
    user: { username: pick(random, users), groups: ['system:authenticated'] },
    sourceIPs: random() < 0.3 ? ['203.0.113.7', '192.0.2.10'] : ['192.0.2.10'],
    userAgent: pick(random, agents),
    objectRef: request.objectRef,
  };
  if (stage !== 'RequestReceived') {
    const code = opts.code ?? 101;
    event.responseStatus = code === 403 ? { metadata: {}, status: 'Failure', message: 'forbidden & denied <here>', reason: 'Forbidden', code } : { metadata: {}, code };
    event.annotations = { 'authorization.k8s.io/decision': code === 403 ? 'forbid' : 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed by "x" µ' };
  }
  if (request.requestObject && event.level !== 'Metadata') event.requestObject = request.requestObject;
  if (random() < 0.15) {
    // Very old logs: only `timestamp` (seconds).
    event.timestamp = `${received.slice(0, 19)}Z`;
  } else {
    event.requestReceivedTimestamp = received;
    event.stageTimestamp = stageAt;
  }
  for (const key of Object.keys(event)) if (event[key] === undefined) delete event[key];
  return event;
}

/** A random stage of a random request. */
export function generateEvent(random: Random): { event: AuditEventObject; request: RequestShape } {
  const request = generateRequest(random);
  const stage = pick(random, stages);
  const startMs = Date.UTC(2025, 0, 1) + Math.floor(random() * 1e10);
  const event = eventFor(random, request, { auditID: auditIdFor(random), stage, startMs, stageMs: startMs + Math.floor(random() * 1e6), code: pick(random, [101, 101, 200, 403, 500]) });
  return { event, request };
}

export interface JsonStyle {
  shuffleKeys: boolean;
  spaces: boolean;
  /** Go's encoder: `&`, `<`, `>` as \u0026, \u003c, \u003e. */
  goEscapes: boolean;
  slashEscapes: boolean;
  asciiOnly: boolean;
}

export function randomStyle(random: Random): JsonStyle {
  return { shuffleKeys: random() < 0.5, spaces: random() < 0.3, goEscapes: random() < 0.7, slashEscapes: random() < 0.2, asciiOnly: random() < 0.2 };
}

function jsonString(text: string, style: JsonStyle): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (code < 0x20) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else if (style.goEscapes && (ch === '&' || ch === '<' || ch === '>')) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else if (style.slashEscapes && ch === '/') out += '\\/';
    else if (style.asciiOnly && code > 0x7e) {
      const units = ch.length === 2 ? [ch.charCodeAt(0), ch.charCodeAt(1)] : [code];
      out += units.map((u) => `\\u${u.toString(16).padStart(4, '0')}`).join('');
    } else out += ch;
  }
  return out + '"';
}

/** JSON text written with the given style (our own writer: JSON.stringify knows no styles). */
export function toJson(random: Random, value: unknown, style: JsonStyle): string {
  const colon = style.spaces ? ': ' : ':';
  const comma = style.spaces ? ', ' : ',';
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'string') return jsonString(value, style);
  if (Array.isArray(value)) return `[${value.map((v) => toJson(random, v, style)).join(comma)}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  const ordered = style.shuffleKeys ? shuffle(random, entries) : entries;
  return `{${ordered.map(([k, v]) => `${jsonString(k, style)}${colon}${toJson(random, v, style)}`).join(comma)}}`;
}

const goQuote = (text: string) =>
  '"' +
  [...text]
    .map((ch) => (ch === '"' ? '\\"' : ch === '\\' ? '\\\\' : ch.codePointAt(0)! < 0x20 ? `\\x${ch.codePointAt(0)!.toString(16).padStart(2, '0')}` : ch))
    .join('') +
  '"';

/** The same event as an `--audit-log-format=legacy` line (pkg/audit/format.go EventString). */
export function legacyLine(event: AuditEventObject): string {
  const user = event.user as { username?: string; groups?: string[] } | undefined;
  const ref = event.objectRef as { namespace?: string } | undefined;
  const status = event.responseStatus as { code?: number } | undefined;
  const time = (event.requestReceivedTimestamp ?? event.timestamp) as string;
  return (
    `${time} AUDIT: id=${goQuote(String(event.auditID))} stage=${goQuote(String(event.stage))} ip=${goQuote((event.sourceIPs as string[])[0]!)} ` +
    `method=${goQuote(String(event.verb))} user=${goQuote(user?.username ?? '<none>')} groups=${goQuote((user?.groups ?? []).map(goQuote).join(','))} ` +
    `as="<self>" asgroups="<lookup>" user-agent=${goQuote(String(event.userAgent ?? ''))} namespace=${goQuote(ref?.namespace ?? '<none>')} ` +
    `uri=${goQuote(String(event.requestURI))} response="${status?.code ?? '<deferred>'}"`
  );
}

export type Envelope =
  | 'bare'
  | 'EventList'
  | 'array'
  | 'aks-records'
  | 'aks-record'
  | 'aks-record-object'
  | 'legacy'
  | 'eks-log-event'
  | 'eks-subscription'
  | 's3-export'
  | 'gke'
  | 'gke-array';

/** One line holding the events, in a random envelope and style, sometimes behind a BOM. */
export function serializeLine(random: Random, events: AuditEventObject[], envelope: Envelope, style: JsonStyle): Buffer {
  let text: string;
  if (envelope === 'legacy') text = legacyLine(events[0]!);
  else if (envelope === 'bare') text = toJson(random, events[0], style);
  else if (envelope === 'EventList') text = toJson(random, { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: events }, style);
  else if (envelope === 'array') text = toJson(random, events, style);
  else if (envelope === 'eks-log-event') text = toJson(random, { logStreamName: 'kube-apiserver-audit-0f1e', timestamp: 1730204504189, message: toJson(random, events[0], style), ingestionTime: 1730204505000, eventId: '37' }, style);
  else if (envelope === 'eks-subscription') {
    const logEvents = events.map((event, n) => ({ id: String(n), timestamp: 1730204504189, message: toJson(random, event, style) }));
    text = toJson(random, { messageType: 'DATA_MESSAGE', owner: '1', logGroup: '/aws/eks/x/cluster', logStream: 'kube-apiserver-audit-0f1e', subscriptionFilters: ['f'], logEvents }, style);
  } else if (envelope === 's3-export') text = `2024-10-29T12:21:44.189Z ${toJson(random, events[0], style)}`;
  else if (envelope === 'gke') text = toJson(random, gkeLogEntry(events[0] as AuditEventObject & { auditID: string }), style);
  else if (envelope === 'gke-array') text = toJson(random, events.map((event) => gkeLogEntry(event as AuditEventObject & { auditID: string })), style);
  else if (envelope === 'aks-record-object') {
    text = toJson(random, { category: 'kube-audit', properties: { log: events[0], stream: 'stdout' }, time: '2020-05-08T22:44:17Z' }, style);
  } else {
    const record = (event: AuditEventObject) => ({
      operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read',
      category: 'kube-audit',
      properties: { log: toJson(random, event, style) + '\n', stream: 'stdout', pod: 'kube-apiserver-x' },
      time: '2020-05-08T22:44:17Z',
    });
    text = envelope === 'aks-record' ? toJson(random, record(events[0]!), style) : toJson(random, { records: events.map(record) }, style);
  }
  return Buffer.from((random() < 0.1 ? '\uFEFF' : '') + text, 'utf8');
}

export interface GeneratedSession {
  auditID: string;
  request: RequestShape;
  /** The stages logged for it (a random subset, as omitStages and lost files leave them). */
  events: AuditEventObject[];
  /** What the merged row must say. */
  expected: { stages: string[]; endedAt: string | null; code?: number };
}

/** All stages of one interactive request, sharing user, agent, URI and times as the apiserver writes them. */
export function generateSession(random: Random): GeneratedSession {
  let request = generateRequest(random);
  while (!request.interactive) request = generateRequest(random);
  const auditID = auditIdFor(random);
  const startMs = Date.UTC(2025, 0, 1) + Math.floor(random() * 1e10);
  const code = pick(random, [101, 101, 101, 200, 403]);
  const base = eventFor(random, request, { auditID, stage: 'RequestReceived', startMs, stageMs: startMs });
  if (!base.requestReceivedTimestamp) {
    base.requestReceivedTimestamp = isoMicros(startMs, 1);
    base.stageTimestamp = base.requestReceivedTimestamp;
    delete base.timestamp;
  }
  const received = base.requestReceivedTimestamp as string;
  const startedAtMs = Date.parse(received);
  const ending = random() < 0.1 ? 'Panic' : 'ResponseComplete';
  const all = ['RequestReceived', 'ResponseStarted', ending].filter(() => random() < 0.75);
  if (all.length === 0) all.push('ResponseStarted');
  const events = all.map((stage, i) => {
    const event: AuditEventObject = structuredClone(base);
    event.stage = stage;
    if (stage === 'RequestReceived') return event;
    const stageCode = stage === 'Panic' ? 500 : code;
    event.responseStatus = stageCode === 403 ? { metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403 } : { metadata: {}, code: stageCode };
    event.annotations = { 'authorization.k8s.io/decision': code === 403 ? 'forbid' : 'allow', 'authorization.k8s.io/reason': '' };
    event.stageTimestamp = isoMicros(startedAtMs + 10 * (i + 1) + (stage === ending ? Math.floor(random() * 1e7) : 0), Math.floor(random() * 1e6));
    return event;
  });
  const last = events.find((e) => e.stage === ending);
  const codes = events.map((e) => (e.responseStatus as { code?: number } | undefined)?.code).filter((c): c is number => c !== undefined);
  return {
    auditID,
    request,
    events,
    expected: { stages: all, endedAt: last ? (last.stageTimestamp as string) : null, code: codes.length ? Math.max(...codes) : undefined },
  };
}

/** The stage rows of a generated session, each stage written as its own line and read back. */
export function stageRowsOf(random: Random, session: GeneratedSession, context: ExtractContext): SessionRow[] {
  return session.events.flatMap((event) => sessionsFromLine(serializeLine(random, [event], 'bare', randomStyle(random)), context).rows);
}
