/**
 * The shapes the audit log generator (audit-log.ts) writes with: the simulated cluster (nodes,
 * namespaces, workloads, people), the apiserver's line layout (fields in its order, Go's escaping), and
 * the mixes of sessions and commands. No state: everything random comes in through a Random.
 */
import type { Random } from './random.ts';

export const K8S_VERSION = 'v1.29.4';
export const K8S_COMMIT = '55c64c0';
export const goClient = (binary: string, suffix = '') => `${binary}/${K8S_VERSION} (linux/amd64) kubernetes/${K8S_COMMIT}${suffix}`;

// Go's JSON encoder escapes & (and < >) in strings: a query string `a=1&b=2` is written `a=1\u0026b=2`.
export const AMP = '\\u0026';
export const goQuery = (pairs: string[]) => (pairs.length ? '?' + pairs.join(AMP) : '');

export interface Cluster {
  nodes: string[];
  nodeUids: Map<string, string>;
  namespaces: string[];
  /** namespace → workloads (deployment name, container, image, probe kind). */
  workloads: Map<string, Workload[]>;
  humans: Human[];
}

export interface Workload {
  namespace: string;
  deployment: string;
  replicaSet: string;
  container: string;
  image: string;
  /** Databases and caches use `exec` probes (`redis-cli ping`, `pg_isready`): their pod bodies say "exec". */
  probe: 'exec' | 'http' | 'tcp';
  pods: string[];
  serviceAccount: string;
}

export interface Human {
  username: string;
  groups: string[];
  userAgent: string;
  ip: string;
}

export const NAMESPACES = [
  'shop', 'payments', 'checkout', 'catalog', 'search', 'auth', 'billing', 'notifications', 'analytics', 'ml-serving',
  'data', 'ingest', 'reporting', 'web', 'api-gateway', 'monitoring', 'logging', 'cert-manager', 'argocd', 'istio-system',
];
export const APPS: [string, string, Workload['probe']][] = [
  ['web', 'registry.example.com/web:2.14.1', 'http'],
  ['api', 'registry.example.com/api:5.3.0', 'http'],
  ['worker', 'registry.example.com/worker:5.3.0', 'tcp'],
  ['redis', 'docker.io/library/redis:7.2.4-alpine', 'exec'],
  ['postgres', 'docker.io/library/postgres:15.6', 'exec'],
  ['frontend', 'registry.example.com/frontend:1.9.0', 'http'],
  ['consumer', 'registry.example.com/consumer:0.31.2', 'tcp'],
  ['cron-runner', 'registry.example.com/cron:1.0.7', 'exec'],
];
export const HUMANS: Human[] = [
  { username: 'oidc:alice@example.com', groups: ['oidc:sre', 'system:authenticated'], userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350', ip: '10.20.1.15' },
  { username: 'oidc:bob@example.com', groups: ['oidc:developers', 'system:authenticated'], userAgent: 'kubectl/v1.31.1 (darwin/arm64) kubernetes/948afe5', ip: '10.20.3.41' },
  { username: 'oidc:carol@example.com', groups: ['oidc:sre', 'oidc:oncall', 'system:authenticated'], userAgent: 'kubectl/v1.28.9 (linux/amd64) kubernetes/587f5fe', ip: '10.20.1.77' },
  { username: 'oidc:dave@example.com', groups: ['oidc:developers', 'system:authenticated'], userAgent: 'kubectl/v1.30.2 (windows/amd64) kubernetes/3968350', ip: '10.20.4.9' },
  { username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'], userAgent: 'kubectl/v1.29.3 (linux/amd64) kubernetes/6813625', ip: '192.0.2.10' },
  { username: 'system:serviceaccount:ci:deployer', groups: ['system:serviceaccounts', 'system:serviceaccounts:ci', 'system:authenticated'], userAgent: 'kubectl/v1.29.3 (linux/amd64) kubernetes/6813625', ip: '10.244.7.31' },
];

export function buildCluster(random: Random): Cluster {
  const nodes = Array.from({ length: 40 }, (_, i) => `ip-10-0-${Math.floor(i / 8) + 1}-${(i * 37) % 250}.eu-west-1.compute.internal`);
  const nodeUids = new Map(nodes.map((n) => [n, random.uuid()]));
  const workloads = new Map<string, Workload[]>();
  for (const namespace of NAMESPACES) {
    const list: Workload[] = [];
    for (const [app, image, probe] of APPS) {
      if (!random.chance(0.55)) continue;
      const hash = random.hex(10).replace(/[0-9]/g, (d) => 'bcdfghjklm'[Number(d)]!);
      const pods = Array.from({ length: random.int(1, 6) }, () => `${app}-${hash}-${random.hex(5).replace(/[0-9]/g, (d) => 'npqrstvwxz'[Number(d)]!)}`);
      list.push({ namespace, deployment: app, replicaSet: `${app}-${hash}`, container: app, image, probe, pods, serviceAccount: app });
    }
    if (list.length === 0) {
      const [app, image, probe] = APPS[0]!;
      list.push({ namespace, deployment: app, replicaSet: `${app}-7d9f5c6b8`, container: app, image, probe, pods: [`${app}-7d9f5c6b8-x2k4t`], serviceAccount: app });
    }
    workloads.set(namespace, list);
  }
  return { nodes, nodeUids, namespaces: NAMESPACES, workloads, humans: HUMANS };
}

/** `2024-05-02T09:15:01.104512Z` from microseconds since the epoch (Go MicroTime). */
export function microTime(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return iso.slice(0, 23) + String(micros % 1000).padStart(3, '0') + 'Z';
}
export const seconds = (micros: number) => new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19) + 'Z';

export const jsonArray = (items: string[]) => '[' + items.map((s) => `"${s}"`).join(',') + ']';

export interface EventParts {
  level: 'Metadata' | 'Request' | 'RequestResponse';
  auditId: string;
  stage: string;
  requestURI: string;
  verb: string;
  user: string; // JSON object text
  impersonated?: string;
  sourceIPs: string[];
  userAgent: string;
  objectRef?: string; // JSON object text
  code?: number;
  responseStatusExtra?: string; // ,"status":"Failure",...
  requestObject?: string;
  responseObject?: string;
  received: number;
  stageAt: number;
  annotations?: string; // JSON object text
}

/** One event line, fields in the apiserver's order. */
export function eventLine(p: EventParts): string {
  let s =
    `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"${p.level}","auditID":"${p.auditId}","stage":"${p.stage}",` +
    `"requestURI":"${p.requestURI}","verb":"${p.verb}","user":${p.user},`;
  if (p.impersonated) s += `"impersonatedUser":${p.impersonated},`;
  s += `"sourceIPs":${jsonArray(p.sourceIPs)},"userAgent":"${p.userAgent}",`;
  if (p.objectRef) s += `"objectRef":${p.objectRef},`;
  if (p.code !== undefined) s += `"responseStatus":{"metadata":{}${p.responseStatusExtra ?? ''},"code":${p.code}},`;
  if (p.requestObject) s += `"requestObject":${p.requestObject},`;
  if (p.responseObject) s += `"responseObject":${p.responseObject},`;
  s += `"requestReceivedTimestamp":"${microTime(p.received)}","stageTimestamp":"${microTime(p.stageAt)}"`;
  if (p.annotations) s += `,"annotations":${p.annotations}`;
  return s + '}';
}

export function objectRef(fields: { resource: string; namespace?: string; name?: string; uid?: string; apiGroup?: string; apiVersion: string; resourceVersion?: string; subresource?: string }): string {
  let s = `{"resource":"${fields.resource}"`;
  if (fields.namespace) s += `,"namespace":"${fields.namespace}"`;
  if (fields.name) s += `,"name":"${fields.name}"`;
  if (fields.uid) s += `,"uid":"${fields.uid}"`;
  if (fields.apiGroup) s += `,"apiGroup":"${fields.apiGroup}"`;
  s += `,"apiVersion":"${fields.apiVersion}"`;
  if (fields.resourceVersion) s += `,"resourceVersion":"${fields.resourceVersion}"`;
  if (fields.subresource) s += `,"subresource":"${fields.subresource}"`;
  return s + '}';
}

export const allow = (reason: string) => `{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"${reason}"}`;
/** Arguments come JSON-escaped already (`\\"name\\"`), as the apiserver writes the quotes of RBAC reasons. */
export const rbacAllow = (binding: string, role: string, subject: string) => allow(`RBAC: allowed by ${binding} of ${role} to ${subject}`);

/** The generator: call next() for each line. */

export type SessionKind = 'exec-websocket' | 'exec-spdy' | 'attach' | 'portforward' | 'debug' | 'node-proxy-exec';

export const SESSION_MIX: readonly (readonly [SessionKind, number])[] = [
  ['exec-websocket', 50],
  ['exec-spdy', 20],
  ['attach', 7],
  ['portforward', 10],
  ['debug', 4],
  ['node-proxy-exec', 9],
];

export const COMMANDS: string[][] = [
  ['/bin/sh'],
  ['bash'],
  ['sh', '-c', 'command -v bash >/dev/null && exec bash || exec sh'],
  ['cat', '/etc/nginx/nginx.conf'],
  ['env'],
  ['ps', 'aux'],
  ['tar', 'cf', '-', '/var/log/app'],
  ['redis-cli', 'INFO', 'memory'],
  ['psql', '-U', 'postgres', '-c', 'select count(*) from orders'],
  ['curl', '-s', 'http://localhost:8080/debug/pprof/heap?seconds=30&gc=1'],
];

/** Form-encodes one argv element as kubectl does (URLSearchParams rules: space is +). */
export function encodeForm(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

export function sha256Like(random: Random): string {
  return random.hex(64);
}

/** What a line builder needs of the generator: its PRNG, the cluster, the clock, and the identities. */
export interface Traffic {
  readonly random: Random;
  readonly cluster: Cluster;
  /** Microseconds since the epoch of the line being written. */
  readonly now: number;
  resourceVersion: number;
  auditId(): string;
  rv(): string;
  kubeletUser(node: string): string;
  serviceAccountUser(namespace: string, name: string, node: string, pod: string): string;
  systemUser(name: string): string;
  humanUser(h: Human): string;
  nodeIp(node: string): string;
  workload(): Workload;
}
