/**
 * Realistic synthetic Kubernetes audit logs (audit.k8s.io/v1, one event per line, fields in the order
 * the apiserver writes them; ../shared/reference/kubernetes-audit.md).
 *
 * What makes it realistic rather than a repeated fixture:
 * - the mix of a busy production cluster: node and leader-election lease renewals, controllers reading
 *   ConfigMaps and Secrets, kubelet pod and node status patches, Event creation, kube-proxy watches,
 *   token and access reviews, health probes, CSI volume attachments, custom resources;
 * - levels Metadata, Request and RequestResponse, so lines are 1-4 KB (request/response bodies with
 *   managedFields, pod specs, conditions);
 * - Go's encoder: `&` in every query string is written `\u0026`;
 * - lines that contain the words a byte pre-filter looks for without being interactive access: kubelet
 *   patches of pods whose probes are `exec` probes, `kube-proxy` in user and user agent, CSI
 *   `volumeattachments`, service `proxy` paths. A pre-filter pays for those; the bench must too;
 * - interactive sessions (pods exec over WebSocket `get` and SPDY `create`, denied attempts, attach,
 *   port-forward, kubectl debug, nodes/proxy exec) whose stages are written on different lines:
 *   RequestReceived, ResponseStarted a few lines later, ResponseComplete when the stream ends, often
 *   thousands of lines later; sessions still open at the end of the file stay open.
 *
 * Everything comes from one seeded PRNG: the same options give the same bytes.
 */
import { Random, weighted } from './random.ts';

export interface AuditLogOptions {
  seed?: number;
  /** Fraction of lines that are interactive-access session stages (0.005 = 0.5 %; 1 = every line). */
  interactiveRatio: number;
  /** Microseconds since the epoch of the first event. */
  startMicros?: number;
  /** Longest distance in lines between a session's ResponseStarted and ResponseComplete. */
  maxSessionLines?: number;
  /** Prefix of every generated auditID, e.g. to make webhook batches distinct. */
  auditIdPrefix?: string;
}

export interface AuditLine {
  text: string;
  /** The line is a stage of an interactive-access session. */
  interactive: boolean;
  /** auditID of the event (sessions: shared by their stages). */
  auditId: string;
}

const K8S_VERSION = 'v1.29.4';
const K8S_COMMIT = '55c64c0';
const goClient = (binary: string, suffix = '') => `${binary}/${K8S_VERSION} (linux/amd64) kubernetes/${K8S_COMMIT}${suffix}`;

// Go's JSON encoder escapes & (and < >) in strings: a query string `a=1&b=2` is written `a=1\u0026b=2`.
const AMP = '\\u0026';
const goQuery = (pairs: string[]) => (pairs.length ? '?' + pairs.join(AMP) : '');

interface Cluster {
  nodes: string[];
  nodeUids: Map<string, string>;
  namespaces: string[];
  /** namespace → workloads (deployment name, container, image, probe kind). */
  workloads: Map<string, Workload[]>;
  humans: Human[];
}

interface Workload {
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

interface Human {
  username: string;
  groups: string[];
  userAgent: string;
  ip: string;
}

const NAMESPACES = [
  'shop', 'payments', 'checkout', 'catalog', 'search', 'auth', 'billing', 'notifications', 'analytics', 'ml-serving',
  'data', 'ingest', 'reporting', 'web', 'api-gateway', 'monitoring', 'logging', 'cert-manager', 'argocd', 'istio-system',
];
const APPS: [string, string, Workload['probe']][] = [
  ['web', 'registry.example.com/web:2.14.1', 'http'],
  ['api', 'registry.example.com/api:5.3.0', 'http'],
  ['worker', 'registry.example.com/worker:5.3.0', 'tcp'],
  ['redis', 'docker.io/library/redis:7.2.4-alpine', 'exec'],
  ['postgres', 'docker.io/library/postgres:15.6', 'exec'],
  ['frontend', 'registry.example.com/frontend:1.9.0', 'http'],
  ['consumer', 'registry.example.com/consumer:0.31.2', 'tcp'],
  ['cron-runner', 'registry.example.com/cron:1.0.7', 'exec'],
];
const HUMANS: Human[] = [
  { username: 'oidc:alice@example.com', groups: ['oidc:sre', 'system:authenticated'], userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350', ip: '10.20.1.15' },
  { username: 'oidc:bob@example.com', groups: ['oidc:developers', 'system:authenticated'], userAgent: 'kubectl/v1.31.1 (darwin/arm64) kubernetes/948afe5', ip: '10.20.3.41' },
  { username: 'oidc:carol@example.com', groups: ['oidc:sre', 'oidc:oncall', 'system:authenticated'], userAgent: 'kubectl/v1.28.9 (linux/amd64) kubernetes/587f5fe', ip: '10.20.1.77' },
  { username: 'oidc:dave@example.com', groups: ['oidc:developers', 'system:authenticated'], userAgent: 'kubectl/v1.30.2 (windows/amd64) kubernetes/3968350', ip: '10.20.4.9' },
  { username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'], userAgent: 'kubectl/v1.29.3 (linux/amd64) kubernetes/6813625', ip: '192.0.2.10' },
  { username: 'system:serviceaccount:ci:deployer', groups: ['system:serviceaccounts', 'system:serviceaccounts:ci', 'system:authenticated'], userAgent: 'kubectl/v1.29.3 (linux/amd64) kubernetes/6813625', ip: '10.244.7.31' },
];

function buildCluster(random: Random): Cluster {
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
const seconds = (micros: number) => new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19) + 'Z';

const jsonArray = (items: string[]) => '[' + items.map((s) => `"${s}"`).join(',') + ']';

interface EventParts {
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
function eventLine(p: EventParts): string {
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

function objectRef(fields: { resource: string; namespace?: string; name?: string; uid?: string; apiGroup?: string; apiVersion: string; resourceVersion?: string; subresource?: string }): string {
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

const allow = (reason: string) => `{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"${reason}"}`;
/** Arguments come JSON-escaped already (`\\"name\\"`), as the apiserver writes the quotes of RBAC reasons. */
const rbacAllow = (binding: string, role: string, subject: string) => allow(`RBAC: allowed by ${binding} of ${role} to ${subject}`);

/** The generator: call next() for each line. */
export class AuditLogGenerator {
  private readonly random: Random;
  private readonly cluster: Cluster;
  private readonly sessionStartChance: number;
  private readonly maxSessionLines: number;
  private readonly prefix: string;
  private now: number;
  private lineIndex = 0;
  private resourceVersion = 48_211_907;
  /** Stage lines waiting for their line number (ResponseStarted / ResponseComplete of open sessions). */
  private readonly pending: { due: number; line: () => AuditLine }[] = [];

  constructor(options: AuditLogOptions) {
    this.random = new Random(options.seed ?? 20240502);
    this.cluster = buildCluster(this.random);
    const f = Math.min(1, Math.max(0, options.interactiveRatio));
    // Each session writes 3 lines; starting one with probability q on the lines left free gives a
    // fraction f = 3q / (1 + 2q) of session lines, so q = f / (3 - 2f).
    this.sessionStartChance = f / (3 - 2 * f);
    this.maxSessionLines = options.maxSessionLines ?? 50_000;
    this.prefix = options.auditIdPrefix ?? '';
    this.now = options.startMicros ?? Date.UTC(2026, 0, 20, 3, 0, 0) * 1000;
  }

  /** Lines generated so far. */
  get lines(): number {
    return this.lineIndex;
  }

  next(): AuditLine {
    this.lineIndex++;
    // A busy apiserver writes a few hundred events a second.
    this.now += this.random.int(200, 6000);
    const first = this.pending[0];
    if (first && first.due <= this.lineIndex) {
      this.pending.shift();
      return first.line();
    }
    if (this.random.chance(this.sessionStartChance)) return this.startSession();
    return this.ordinaryEvent();
  }

  private auditId(): string {
    return this.prefix ? this.prefix + this.random.uuid().slice(this.prefix.length) : this.random.uuid();
  }

  private rv(): string {
    this.resourceVersion += this.random.int(1, 40);
    return String(this.resourceVersion);
  }

  private schedule(due: number, line: () => AuditLine): void {
    // Insert keeping `pending` sorted by due line (short queue: open sessions only).
    let i = this.pending.length;
    while (i > 0 && this.pending[i - 1]!.due > due) i--;
    this.pending.splice(i, 0, { due, line });
  }

  // ---------------------------------------------------------------- users

  private kubeletUser(node: string): string {
    return `{"username":"system:node:${node}","groups":["system:nodes","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["X509SHA256=${sha256Like(this.random)}"]}}`;
  }

  private serviceAccountUser(namespace: string, name: string, node: string, pod: string): string {
    return (
      `{"username":"system:serviceaccount:${namespace}:${name}","uid":"${this.random.uuid()}",` +
      `"groups":["system:serviceaccounts","system:serviceaccounts:${namespace}","system:authenticated"],` +
      `"extra":{"authentication.kubernetes.io/credential-id":["JTI=${this.random.uuid()}"],"authentication.kubernetes.io/node-name":["${node}"],` +
      `"authentication.kubernetes.io/node-uid":["${this.cluster.nodeUids.get(node)}"],"authentication.kubernetes.io/pod-name":["${pod}"],` +
      `"authentication.kubernetes.io/pod-uid":["${this.random.uuid()}"]}}`
    );
  }

  private systemUser(name: string): string {
    return `{"username":"${name}","groups":["system:authenticated"]}`;
  }

  private humanUser(h: Human): string {
    return `{"username":"${h.username}","groups":${jsonArray(h.groups)}}`;
  }

  private nodeIp(node: string): string {
    const m = /ip-(\d+)-(\d+)-(\d+)-(\d+)/.exec(node);
    return m ? `${m[1]}.${m[2]}.${m[3]}.${m[4]}` : '10.0.0.1';
  }

  private workload(): Workload {
    const ns = this.random.pick(this.cluster.namespaces);
    return this.random.pick(this.cluster.workloads.get(ns)!);
  }

  // ---------------------------------------------------------------- ordinary traffic

  private ordinaryEvent(): AuditLine {
    const kind = weighted(this.random, ORDINARY_MIX);
    const text = this[kind]();
    return { text, interactive: false, auditId: '' };
  }

  private nodeLease(): string {
    const node = this.random.pick(this.cluster.nodes);
    const received = this.now - this.random.int(1500, 9000);
    const uid = this.random.uuid();
    const rvBefore = this.rv();
    const rvAfter = this.rv();
    const lease = (rv: string) =>
      `{"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{"name":"${node}","namespace":"kube-node-lease","uid":"${uid}",` +
      `"resourceVersion":"${rv}","creationTimestamp":"2025-11-02T08:14:55Z","ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"${node}",` +
      `"uid":"${this.cluster.nodeUids.get(node)}"}],"managedFields":[{"manager":"kubelet","operation":"Update","apiVersion":"coordination.k8s.io/v1",` +
      `"time":"${seconds(received)}","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:ownerReferences":{".":{},"k:{\\"uid\\":\\"${this.cluster.nodeUids.get(node)}\\"}":{}}},` +
      `"f:spec":{"f:holderIdentity":{},"f:leaseDurationSeconds":{},"f:renewTime":{}}}}]},"spec":{"holderIdentity":"${node}","leaseDurationSeconds":40,` +
      `"renewTime":"${microTime(received)}"}}`;
    return eventLine({
      level: 'RequestResponse',
      auditId: this.auditId(),
      stage: 'ResponseComplete',
      requestURI: `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node}${goQuery(['timeout=10s'])}`,
      verb: 'update',
      user: this.kubeletUser(node),
      sourceIPs: [this.nodeIp(node)],
      userAgent: goClient('kubelet'),
      objectRef: objectRef({ resource: 'leases', namespace: 'kube-node-lease', name: node, uid, apiGroup: 'coordination.k8s.io', apiVersion: 'v1', resourceVersion: rvBefore }),
      code: 200,
      requestObject: lease(rvBefore),
      responseObject: lease(rvAfter),
      received,
      stageAt: this.now,
      annotations: allow(''),
    });
  }

  private leaderLease(): string {
    const [component, lease] = this.random.pick([
      ['kube-controller-manager', 'kube-controller-manager'],
      ['kube-scheduler', 'kube-scheduler'],
      ['cloud-controller-manager', 'cloud-controller-manager'],
      ['cert-manager-controller', 'cert-manager-controller'],
    ] as const);
    const verb = this.random.chance(0.5) ? 'get' : 'update';
    const holder = `ip-10-0-1-12_${this.random.uuid()}`;
    const uid = this.random.uuid();
    const received = this.now - this.random.int(800, 5000);
    const body = `{"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{"name":"${lease}","namespace":"kube-system","uid":"${uid}","resourceVersion":"${this.rv()}","creationTimestamp":"2025-09-14T11:02:31Z","managedFields":[{"manager":"${component}","operation":"Update","apiVersion":"coordination.k8s.io/v1","time":"${seconds(received)}","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:acquireTime":{},"f:holderIdentity":{},"f:leaseDurationSeconds":{},"f:leaseTransitions":{},"f:renewTime":{}}}}]},"spec":{"holderIdentity":"${holder}","leaseDurationSeconds":15,"acquireTime":"2026-01-19T22:41:07.318221Z","renewTime":"${microTime(received)}","leaseTransitions":17}}`;
    return eventLine({
      level: verb === 'get' ? 'Metadata' : 'RequestResponse',
      auditId: this.auditId(),
      stage: 'ResponseComplete',
      requestURI: `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${lease}${goQuery(['timeout=5s'])}`,
      verb,
      user: this.systemUser(`system:${component.replace(/^kube-/, 'kube-')}`),
      sourceIPs: ['10.0.1.12'],
      userAgent: goClient(component, '/leader-election'),
      objectRef: objectRef({ resource: 'leases', namespace: 'kube-system', name: lease, uid: verb === 'update' ? uid : undefined, apiGroup: 'coordination.k8s.io', apiVersion: 'v1' }),
      code: 200,
      requestObject: verb === 'update' ? body : undefined,
      responseObject: verb === 'update' ? body : undefined,
      received,
      stageAt: this.now,
      annotations: rbacAllow(`ClusterRoleBinding \\"system:${component}\\"`, `ClusterRole \\"system:${component}\\"`, `User \\"system:${component}\\"`),
    });
  }

  private configRead(): string {
    const w = this.workload();
    const node = this.random.pick(this.cluster.nodes);
    const resource = this.random.chance(0.6) ? 'configmaps' : 'secrets';
    const verb = weighted(this.random, [['get', 6], ['list', 2], ['watch', 2]] as const);
    const name = resource === 'configmaps' ? `${w.deployment}-config` : `${w.deployment}-credentials`;
    const query =
      verb === 'get' ? [] : verb === 'list' ? ['limit=500', 'resourceVersion=0'] : ['allowWatchBookmarks=true', `resourceVersion=${this.resourceVersion}`, `timeout=${this.random.int(5, 9)}m${this.random.int(0, 59)}s`, 'timeoutSeconds=' + this.random.int(300, 599), 'watch=true'];
    const path = verb === 'get' ? `/api/v1/namespaces/${w.namespace}/${resource}/${name}` : `/api/v1/namespaces/${w.namespace}/${resource}`;
    const received = this.now - this.random.int(300, 4000);
    return eventLine({
      level: 'Metadata',
      auditId: this.auditId(),
      stage: verb === 'watch' ? this.random.pick(['ResponseStarted', 'ResponseComplete']) : 'ResponseComplete',
      requestURI: path + goQuery(query),
      verb,
      user: this.serviceAccountUser(w.namespace, w.serviceAccount, node, this.random.pick(w.pods)),
      sourceIPs: [`10.244.${this.random.int(0, 39)}.${this.random.int(2, 250)}`],
      userAgent: `${w.deployment}/v0.0.0 (linux/amd64) kubernetes/$Format`,
      objectRef: objectRef({ resource, namespace: w.namespace, name: verb === 'get' ? name : undefined, apiVersion: 'v1' }),
      code: 200,
      received,
      stageAt: this.now,
      annotations: rbacAllow(`RoleBinding \\"${w.deployment}-reader/${w.namespace}\\"`, `Role \\"${w.deployment}-reader\\"`, `ServiceAccount \\"${w.serviceAccount}/${w.namespace}\\"`),
    });
  }

  private probeJson(w: Workload, kind: 'liveness' | 'readiness'): string {
    const timing = `"timeoutSeconds":1,"periodSeconds":${kind === 'liveness' ? 10 : 5},"successThreshold":1,"failureThreshold":3`;
    if (w.probe === 'exec') {
      const command = w.deployment === 'redis' ? '["redis-cli","ping"]' : w.deployment === 'postgres' ? '["pg_isready","-U","postgres"]' : '["/bin/sh","-c","test -f /tmp/healthy"]';
      return `{"exec":{"command":${command}},${timing}}`;
    }
    if (w.probe === 'http') return `{"httpGet":{"path":"/${kind === 'liveness' ? 'healthz' : 'readyz'}","port":8080,"scheme":"HTTP"},${timing}}`;
    return `{"tcpSocket":{"port":6379},${timing}}`;
  }

  private podStatusPatch(): string {
    const w = this.workload();
    const pod = this.random.pick(w.pods);
    const node = this.random.pick(this.cluster.nodes);
    const uid = this.random.uuid();
    const received = this.now - this.random.int(2000, 12000);
    const t = seconds(received);
    const ready = this.random.chance(0.8) ? 'True' : 'False';
    const containerId = `containerd://${this.random.hex(64)}`;
    const patch = `{"metadata":{"uid":"${uid}"},"status":{"$setElementOrder/conditions":[{"type":"PodReadyToStartContainers"},{"type":"Initialized"},{"type":"Ready"},{"type":"ContainersReady"},{"type":"PodScheduled"}],"conditions":[{"lastProbeTime":null,"lastTransitionTime":"${t}","status":"${ready}","type":"Ready"},{"lastProbeTime":null,"lastTransitionTime":"${t}","status":"${ready}","type":"ContainersReady"}],"containerStatuses":[{"containerID":"${containerId}","image":"${w.image}","imageID":"${w.image.split(':')[0]}@sha256:${this.random.hex(64)}","lastState":{},"name":"${w.container}","ready":${ready === 'True'},"restartCount":${this.random.int(0, 3)},"started":true,"state":{"running":{"startedAt":"2026-01-18T07:12:44Z"}}}]}}`;
    const podJson =
      `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"${pod}","generateName":"${w.replicaSet}-","namespace":"${w.namespace}","uid":"${uid}","resourceVersion":"${this.rv()}",` +
      `"creationTimestamp":"2026-01-18T07:12:31Z","labels":{"app":"${w.deployment}","pod-template-hash":"${w.replicaSet.split('-').pop()}"},` +
      `"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"${w.replicaSet}","uid":"${this.random.uuid()}","controller":true,"blockOwnerDeletion":true}]},` +
      `"spec":{"containers":[{"name":"${w.container}","image":"${w.image}","ports":[{"containerPort":8080,"protocol":"TCP"}],"resources":{"limits":{"memory":"512Mi"},"requests":{"cpu":"100m","memory":"256Mi"}},` +
      `"livenessProbe":${this.probeJson(w, 'liveness')},"readinessProbe":${this.probeJson(w, 'readiness')},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],` +
      `"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"${w.serviceAccount}","nodeName":"${node}","schedulerName":"default-scheduler","priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},` +
      `"status":{"phase":"Running","hostIP":"${this.nodeIp(node)}","podIP":"10.244.${this.random.int(0, 39)}.${this.random.int(2, 250)}","startTime":"2026-01-18T07:12:31Z","qosClass":"Burstable"}}`;
    return eventLine({
      level: 'RequestResponse',
      auditId: this.auditId(),
      stage: 'ResponseComplete',
      requestURI: `/api/v1/namespaces/${w.namespace}/pods/${pod}/status`,
      verb: 'patch',
      user: this.kubeletUser(node),
      sourceIPs: [this.nodeIp(node)],
      userAgent: goClient('kubelet'),
      objectRef: objectRef({ resource: 'pods', namespace: w.namespace, name: pod, apiVersion: 'v1', subresource: 'status' }),
      code: 200,
      requestObject: patch,
      responseObject: podJson,
      received,
      stageAt: this.now,
      annotations: allow(''),
    });
  }

  private podRead(): string {
    const w = this.workload();
    const [user, agent] = this.random.pick([
      [this.systemUser('system:kube-scheduler'), goClient('kube-scheduler', '/scheduler')],
      [this.systemUser('system:kube-controller-manager'), goClient('kube-controller-manager', '/system:serviceaccount:kube-system:replicaset-controller')],
      [this.serviceAccountUser('monitoring', 'prometheus', this.random.pick(this.cluster.nodes), 'prometheus-k8s-0'), 'prometheus/v2.51.2'],
    ] as const);
    const verb = weighted(this.random, [['get', 4], ['list', 3], ['watch', 3]] as const);
    const pod = this.random.pick(w.pods);
    const query = verb === 'list' ? ['labelSelector=app%3D' + w.deployment, 'limit=500'] : verb === 'watch' ? ['allowWatchBookmarks=true', `resourceVersion=${this.resourceVersion}`, 'timeoutSeconds=' + this.random.int(300, 599), 'watch=true'] : [];
    const received = this.now - this.random.int(300, 6000);
    return eventLine({
      level: 'Metadata',
      auditId: this.auditId(),
      stage: verb === 'watch' ? this.random.pick(['ResponseStarted', 'ResponseComplete']) : 'ResponseComplete',
      requestURI: (verb === 'get' ? `/api/v1/namespaces/${w.namespace}/pods/${pod}` : `/api/v1/namespaces/${w.namespace}/pods`) + goQuery(query),
      verb,
      user,
      sourceIPs: ['10.0.1.12'],
      userAgent: agent,
      objectRef: objectRef({ resource: 'pods', namespace: w.namespace, name: verb === 'get' ? pod : undefined, apiVersion: 'v1' }),
      code: 200,
      received,
      stageAt: this.now,
      annotations: rbacAllow(`ClusterRoleBinding \\"system:kube-scheduler\\"`, `ClusterRole \\"system:kube-scheduler\\"`, `User \\"system:kube-scheduler\\"`),
    });
  }

  private eventCreate(): string {
    const w = this.workload();
    const pod = this.random.pick(w.pods);
    const node = this.random.pick(this.cluster.nodes);
    const [reason, type, message] = this.random.pick([
      ['Pulled', 'Normal', `Container image \\"${w.image}\\" already present on machine`],
      ['Created', 'Normal', `Created container ${w.container}`],
      ['Started', 'Normal', `Started container ${w.container}`],
      ['Unhealthy', 'Warning', `Readiness probe failed: Get \\"http://10.244.3.17:8080/readyz\\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`],
      ['BackOff', 'Warning', `Back-off restarting failed container ${w.container} in pod ${pod}_${w.namespace}(${this.random.uuid()})`],
      ['SuccessfulCreate', 'Normal', `Created pod: ${pod}`],
    ] as const);
    const name = `${pod}.${this.random.hex(16)}`;
    const received = this.now - this.random.int(1000, 7000);
    const body = (withMeta: boolean) =>
      `{"kind":"Event","apiVersion":"v1","metadata":{"name":"${name}","namespace":"${w.namespace}"${withMeta ? `,"uid":"${this.random.uuid()}","resourceVersion":"${this.rv()}","creationTimestamp":"${seconds(received)}"` : ''}},` +
      `"involvedObject":{"kind":"Pod","namespace":"${w.namespace}","name":"${pod}","uid":"${this.random.uuid()}","apiVersion":"v1","resourceVersion":"${this.resourceVersion - 50}","fieldPath":"spec.containers{${w.container}}"},` +
      `"reason":"${reason}","message":"${message}","source":{"component":"kubelet","host":"${node}"},"firstTimestamp":"${seconds(received)}","lastTimestamp":"${seconds(received)}","count":1,"type":"${type}","eventTime":null,"reportingComponent":"kubelet","reportingInstance":"${node}"}`;
    return eventLine({
      level: 'RequestResponse',
      auditId: this.auditId(),
      stage: 'ResponseComplete',
      requestURI: `/api/v1/namespaces/${w.namespace}/events`,
      verb: 'create',
      user: this.kubeletUser(node),
      sourceIPs: [this.nodeIp(node)],
      userAgent: goClient('kubelet'),
      objectRef: objectRef({ resource: 'events', namespace: w.namespace, name, apiVersion: 'v1' }),
      code: 201,
      requestObject: body(false),
      responseObject: body(true),
      received,
      stageAt: this.now,
      annotations: allow(''),
    });
  }

  private kubeProxyWatch(): string {
    const node = this.random.pick(this.cluster.nodes);
    const resource = this.random.pick(['endpointslices', 'services', 'nodes']);
    const group = resource === 'endpointslices' ? 'discovery.k8s.io' : undefined;
    const path = resource === 'endpointslices' ? '/apis/discovery.k8s.io/v1/endpointslices' : `/api/v1/${resource}`;
    const received = this.now - this.random.int(300_000_000, 540_000_000);
    return eventLine({
      level: 'Metadata',
      auditId: this.auditId(),
      stage: this.random.pick(['ResponseStarted', 'ResponseComplete']),
      requestURI: path + goQuery(['allowWatchBookmarks=true', 'labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name', `resourceVersion=${this.resourceVersion}`, `timeout=${this.random.int(5, 9)}m${this.random.int(0, 59)}s`, `timeoutSeconds=${this.random.int(300, 599)}`, 'watch=true']),
      verb: 'watch',
      user: `{"username":"system:serviceaccount:kube-system:kube-proxy","uid":"${this.random.uuid()}","groups":["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=${this.random.uuid()}"],"authentication.kubernetes.io/node-name":["${node}"],"authentication.kubernetes.io/pod-name":["kube-proxy-${this.random.hex(5)}"]}}`,
      sourceIPs: [this.nodeIp(node)],
      userAgent: goClient('kube-proxy'),
      objectRef: objectRef({ resource, apiGroup: group, apiVersion: 'v1' }),
      code: 200,
      received,
      stageAt: this.now,
      annotations: rbacAllow(`ClusterRoleBinding \\"kubeadm:node-proxier\\"`, `ClusterRole \\"system:node-proxier\\"`, `ServiceAccount \\"kube-proxy/kube-system\\"`),
    });
  }

  private endpointSliceUpdate(): string {
    const w = this.workload();
    const name = `${w.deployment}-${this.random.hex(5)}`;
    const received = this.now - this.random.int(1000, 9000);
    const endpoints = w.pods
      .slice(0, 4)
      .map((pod) => `{"addresses":["10.244.${this.random.int(0, 39)}.${this.random.int(2, 250)}"],"conditions":{"ready":true,"serving":true,"terminating":false},"targetRef":{"kind":"Pod","namespace":"${w.namespace}","name":"${pod}","uid":"${this.random.uuid()}"},"nodeName":"${this.random.pick(this.cluster.nodes)}","zone":"eu-west-1${this.random.pick(['a', 'b', 'c'])}"}`)
      .join(',');
    const body = `{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"${name}","generateName":"${w.deployment}-","namespace":"${w.namespace}","uid":"${this.random.uuid()}","resourceVersion":"${this.rv()}","labels":{"endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io","kubernetes.io/service-name":"${w.deployment}"}},"addressType":"IPv4","endpoints":[${endpoints}],"ports":[{"name":"http","protocol":"TCP","port":8080}]}`;
    return eventLine({
      level: 'Request',
      auditId: this.auditId(),
      stage: 'ResponseComplete',
      requestURI: `/apis/discovery.k8s.io/v1/namespaces/${w.namespace}/endpointslices/${name}`,
      verb: 'update',
      user: this.systemUser('system:kube-controller-manager'),
      sourceIPs: ['10.0.1.12'],
      userAgent: goClient('kube-controller-manager', '/system:serviceaccount:kube-system:endpointslice-controller'),
      objectRef: objectRef({ resource: 'endpointslices', namespace: w.namespace, name, apiGroup: 'discovery.k8s.io', apiVersion: 'v1' }),
      code: 200,
      requestObject: body,
      received,
      stageAt: this.now,
      annotations: rbacAllow(`ClusterRoleBinding \\"system:controller:endpointslice-controller\\"`, `ClusterRole \\"system:controller:endpointslice-controller\\"`, `ServiceAccount \\"endpointslice-controller/kube-system\\"`),
    });
  }

  private nodeStatusPatch(): string {
    const node = this.random.pick(this.cluster.nodes);
    const received = this.now - this.random.int(3000, 15000);
    const hb = seconds(received);
    const cond = (type: string, status: string, reason: string, message: string) =>
      `{"lastHeartbeatTime":"${hb}","lastTransitionTime":"2026-01-12T04:31:09Z","message":"${message}","reason":"${reason}","status":"${status}","type":"${type}"}`;
    const patch =
      `{"status":{"$setElementOrder/conditions":[{"type":"MemoryPressure"},{"type":"DiskPressure"},{"type":"PIDPressure"},{"type":"Ready"}],"conditions":[` +
      [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ].join(',') +
      `],"images":[` +
      Array.from({ length: this.random.int(2, 6) }, () => `{"names":["registry.example.com/app@sha256:${this.random.hex(64)}"],"sizeBytes":${this.random.int(10_000_000, 900_000_000)}}`).join(',') +
      `]}}`;
    return eventLine({
      level: 'Request',
      auditId: this.auditId(),
      stage: 'ResponseComplete',
      requestURI: `/api/v1/nodes/${node}/status${goQuery(['timeout=10s'])}`,
      verb: 'patch',
      user: this.kubeletUser(node),
      sourceIPs: [this.nodeIp(node)],
      userAgent: goClient('kubelet'),
      objectRef: objectRef({ resource: 'nodes', name: node, apiVersion: 'v1', subresource: 'status' }),
      code: 200,
      requestObject: patch,
      received,
      stageAt: this.now,
      annotations: allow(''),
    });
  }

  private workloadControllers(): string {
    const w = this.workload();
    const resource = this.random.pick(['deployments', 'replicasets', 'statefulsets']);
    const verb = weighted(this.random, [['get', 3], ['update', 2], ['list', 1], ['patch', 1]] as const);
    const name = resource === 'replicasets' ? w.replicaSet : w.deployment;
    const received = this.now - this.random.int(500, 8000);
    return eventLine({
      level: 'Metadata',
      auditId: this.auditId(),
      stage: 'ResponseComplete',
      requestURI: `/apis/apps/v1/namespaces/${w.namespace}/${resource}${verb === 'list' ? goQuery(['limit=500', 'resourceVersion=0']) : `/${name}${verb === 'update' ? '/status' : ''}`}`,
      verb,
      user: this.systemUser('system:kube-controller-manager'),
      sourceIPs: ['10.0.1.12'],
      userAgent: goClient('kube-controller-manager', `/system:serviceaccount:kube-system:${resource === 'deployments' ? 'deployment' : resource === 'replicasets' ? 'replicaset' : 'statefulset'}-controller`),
      objectRef: objectRef({ resource, namespace: w.namespace, name: verb === 'list' ? undefined : name, apiGroup: 'apps', apiVersion: 'v1', subresource: verb === 'update' ? 'status' : undefined }),
      code: 200,
      received,
      stageAt: this.now,
      annotations: rbacAllow(`ClusterRoleBinding \\"system:controller:deployment-controller\\"`, `ClusterRole \\"system:controller:deployment-controller\\"`, `ServiceAccount \\"deployment-controller/kube-system\\"`),
    });
  }

  private serviceAccountToken(): string {
    const w = this.workload();
    const node = this.random.pick(this.cluster.nodes);
    const received = this.now - this.random.int(1000, 6000);
    return eventLine({
      level: 'Metadata',
      auditId: this.auditId(),
      stage: 'ResponseComplete',
      requestURI: `/api/v1/namespaces/${w.namespace}/serviceaccounts/${w.serviceAccount}/token`,
      verb: 'create',
      user: this.kubeletUser(node),
      sourceIPs: [this.nodeIp(node)],
      userAgent: goClient('kubelet'),
      objectRef: objectRef({ resource: 'serviceaccounts', namespace: w.namespace, name: w.serviceAccount, apiVersion: 'v1', subresource: 'token' }),
      code: 201,
      received,
      stageAt: this.now,
      annotations: `{"authentication.kubernetes.io/issued-credential-id":"JTI=${this.random.uuid()}","authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}`,
    });
  }

  private accessReview(): string {
    const resource = this.random.pick(['tokenreviews', 'subjectaccessreviews']);
    const group = resource === 'tokenreviews' ? 'authentication.k8s.io' : 'authorization.k8s.io';
    const received = this.now - this.random.int(300, 2500);
    const node = this.random.pick(this.cluster.nodes);
    return eventLine({
      level: 'Metadata',
      auditId: this.auditId(),
      stage: 'ResponseComplete',
      requestURI: `/apis/${group}/v1/${resource}`,
      verb: 'create',
      user: this.serviceAccountUser('monitoring', 'metrics-server', node, `metrics-server-${this.random.hex(9)}-${this.random.hex(5)}`),
      sourceIPs: [`10.244.${this.random.int(0, 39)}.${this.random.int(2, 250)}`],
      userAgent: `metrics-server/v0.7.1 (linux/amd64) kubernetes/$Format`,
      objectRef: objectRef({ resource, apiGroup: group, apiVersion: 'v1' }),
      code: 201,
      received,
      stageAt: this.now,
      annotations: rbacAllow(`ClusterRoleBinding \\"metrics-server:system:auth-delegator\\"`, `ClusterRole \\"system:auth-delegator\\"`, `ServiceAccount \\"metrics-server/monitoring\\"`),
    });
  }

  private healthProbe(): string {
    const path = this.random.pick(['/livez', '/readyz', '/healthz', '/metrics', '/openapi/v2', '/version']);
    const received = this.now - this.random.int(200, 1500);
    return eventLine({
      level: 'Metadata',
      auditId: this.auditId(),
      stage: 'ResponseComplete',
      requestURI: path,
      verb: 'get',
      user: `{"username":"system:anonymous","groups":["system:unauthenticated"]}`,
      sourceIPs: [`10.0.${this.random.int(1, 5)}.${this.random.int(2, 250)}`],
      userAgent: this.random.pick(['kube-probe/1.29', 'ELB-HealthChecker/2.0', 'Prometheus/2.51.2']),
      code: 200,
      received,
      stageAt: this.now,
      annotations: rbacAllow(`ClusterRoleBinding \\"system:public-info-viewer\\"`, `ClusterRole \\"system:public-info-viewer\\"`, `Group \\"system:unauthenticated\\"`),
    });
  }

  private volumeAttachment(): string {
    const node = this.random.pick(this.cluster.nodes);
    const name = `csi-${this.random.hex(64)}`;
    const received = this.now - this.random.int(500, 4000);
    const verb = this.random.pick(['get', 'patch', 'list']);
    return eventLine({
      level: 'Metadata',
      auditId: this.auditId(),
      stage: 'ResponseComplete',
      requestURI: verb === 'list' ? `/apis/storage.k8s.io/v1/volumeattachments${goQuery(['limit=500', 'resourceVersion=0'])}` : `/apis/storage.k8s.io/v1/volumeattachments/${name}`,
      verb,
      user: this.serviceAccountUser('kube-system', 'ebs-csi-controller-sa', node, `ebs-csi-controller-${this.random.hex(9)}-${this.random.hex(5)}`),
      sourceIPs: [`10.244.${this.random.int(0, 39)}.${this.random.int(2, 250)}`],
      userAgent: 'csi-attacher/v4.5.0 (linux/amd64) kubernetes/$Format',
      objectRef: objectRef({ resource: 'volumeattachments', name: verb === 'list' ? undefined : name, apiGroup: 'storage.k8s.io', apiVersion: 'v1' }),
      code: 200,
      received,
      stageAt: this.now,
      annotations: rbacAllow(`ClusterRoleBinding \\"ebs-csi-attacher-binding\\"`, `ClusterRole \\"ebs-external-attacher-role\\"`, `ServiceAccount \\"ebs-csi-controller-sa/kube-system\\"`),
    });
  }

  private customResource(): string {
    const w = this.workload();
    const [group, resource, sa, ns] = this.random.pick([
      ['cert-manager.io', 'certificates', 'cert-manager', 'cert-manager'],
      ['argoproj.io', 'applications', 'argocd-application-controller', 'argocd'],
      ['monitoring.coreos.com', 'servicemonitors', 'prometheus-operator', 'monitoring'],
      ['networking.istio.io', 'virtualservices', 'istiod', 'istio-system'],
    ] as const);
    const verb = weighted(this.random, [['get', 3], ['list', 2], ['watch', 2], ['patch', 1]] as const);
    const node = this.random.pick(this.cluster.nodes);
    const received = this.now - this.random.int(300, 5000);
    return eventLine({
      level: 'Metadata',
      auditId: this.auditId(),
      stage: verb === 'watch' ? 'ResponseStarted' : 'ResponseComplete',
      requestURI: `/apis/${group}/v1/namespaces/${w.namespace}/${resource}${verb === 'get' || verb === 'patch' ? '/' + w.deployment : goQuery(verb === 'watch' ? ['allowWatchBookmarks=true', `resourceVersion=${this.resourceVersion}`, 'watch=true'] : ['limit=500'])}`,
      verb,
      user: this.serviceAccountUser(ns, sa, node, `${sa}-${this.random.hex(9)}-${this.random.hex(5)}`),
      sourceIPs: [`10.244.${this.random.int(0, 39)}.${this.random.int(2, 250)}`],
      userAgent: `${sa}/v0.0.0 (linux/amd64) kubernetes/$Format`,
      objectRef: objectRef({ resource, namespace: w.namespace, name: verb === 'get' || verb === 'patch' ? w.deployment : undefined, apiGroup: group, apiVersion: 'v1' }),
      code: 200,
      received,
      stageAt: this.now,
      annotations: rbacAllow(`ClusterRoleBinding \\"${sa}\\"`, `ClusterRole \\"${sa}\\"`, `ServiceAccount \\"${sa}/${ns}\\"`),
    });
  }

  // ---------------------------------------------------------------- interactive sessions

  private startSession(): AuditLine {
    const kind = weighted(this.random, SESSION_MIX);
    const human = this.random.pick(this.cluster.humans);
    const w = this.workload();
    const pod = this.random.pick(w.pods);
    const auditId = this.auditId();
    const received = this.now;
    const denied = kind !== 'debug' && this.random.chance(0.06);
    const node = this.random.pick(this.cluster.nodes);
    const command = this.random.pick(COMMANDS);
    const tty = command.length === 1 && this.random.chance(0.8);
    let verb: string;
    let requestURI: string;
    let ref: string;
    let requestObject: string | undefined;
    let level: EventParts['level'] = 'Metadata';
    switch (kind) {
      case 'exec-websocket':
      case 'exec-spdy': {
        verb = kind === 'exec-websocket' ? 'get' : 'create';
        // kubectl sorts the keys: command (repeated), container, stderr, stdin, stdout, tty; false flags omitted.
        const q = [...command.map((c) => 'command=' + encodeForm(c)), `container=${w.container}`, 'stderr=true'];
        if (tty || command.length === 1) q.push('stdin=true');
        q.push('stdout=true');
        if (tty) q.push('tty=true');
        requestURI = `/api/v1/namespaces/${w.namespace}/pods/${pod}/exec${goQuery(q)}`;
        ref = objectRef({ resource: 'pods', namespace: w.namespace, name: pod, apiVersion: 'v1', subresource: 'exec' });
        break;
      }
      case 'attach':
        verb = this.random.pick(['get', 'create']);
        requestURI = `/api/v1/namespaces/${w.namespace}/pods/${pod}/attach${goQuery([`container=${w.container}`, 'stderr=true', 'stdin=true', 'stdout=true', 'tty=true'])}`;
        ref = objectRef({ resource: 'pods', namespace: w.namespace, name: pod, apiVersion: 'v1', subresource: 'attach' });
        break;
      case 'portforward':
        verb = this.random.pick(['get', 'create']);
        requestURI = `/api/v1/namespaces/${w.namespace}/pods/${pod}/portforward`;
        ref = objectRef({ resource: 'pods', namespace: w.namespace, name: pod, apiVersion: 'v1', subresource: 'portforward' });
        break;
      case 'debug': {
        verb = 'patch';
        level = 'Request';
        const name = `debugger-${this.random.hex(5)}`;
        requestURI = `/api/v1/namespaces/${w.namespace}/pods/${pod}/ephemeralcontainers`;
        ref = objectRef({ resource: 'pods', namespace: w.namespace, name: pod, apiVersion: 'v1', subresource: 'ephemeralcontainers' });
        requestObject = `{"spec":{"ephemeralContainers":[{"name":"${name}","image":"busybox:1.36","resources":{},"terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","stdin":true,"tty":true,"targetContainerName":"${w.container}"}]}}`;
        break;
      }
      case 'node-proxy-exec': {
        verb = 'get';
        const q = [...command.map((c) => 'command=' + encodeForm(c)), 'input=1', 'output=1', 'error=1'];
        if (tty) q.push('tty=1');
        requestURI = `/api/v1/nodes/${node}/proxy/exec/${w.namespace}/${pod}/${w.container}${goQuery(q)}`;
        ref = objectRef({ resource: 'nodes', name: node, apiVersion: 'v1', subresource: 'proxy' });
        break;
      }
    }
    const user = this.humanUser(human);
    const userAgent = human.userAgent;
    const code = denied ? 403 : kind === 'debug' ? 200 : 101;
    const resourceForMessage = kind === 'node-proxy-exec' ? 'nodes/proxy' : `pods/${kind.startsWith('exec') ? 'exec' : kind}`;
    const statusExtra = denied
      ? `,"status":"Failure","message":"${kind === 'node-proxy-exec' ? 'nodes' : 'pods'} \\"${kind === 'node-proxy-exec' ? node : pod}\\" is forbidden: User \\"${human.username}\\" cannot ${verb} resource \\"${resourceForMessage}\\" in API group \\"\\"${kind === 'node-proxy-exec' ? ' at the cluster scope' : ` in the namespace \\"${w.namespace}\\"`}","reason":"Forbidden","details":{"name":"${kind === 'node-proxy-exec' ? node : pod}","kind":"${resourceForMessage.split('/')[0]}"}`
      : undefined;
    const annotations = denied
      ? `{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":""}`
      : rbacAllow(`ClusterRoleBinding \\"sre-exec\\"`, `ClusterRole \\"pod-exec\\"`, `Group \\"${human.groups[0]}\\"`);
    const stage = (name: string, stageAt: number, withStatus: boolean): AuditLine => ({
      text: eventLine({
        level,
        auditId,
        stage: name,
        requestURI,
        verb,
        user,
        sourceIPs: [human.ip],
        userAgent,
        objectRef: ref,
        code: withStatus ? code : undefined,
        responseStatusExtra: withStatus ? statusExtra : undefined,
        requestObject,
        received,
        stageAt,
        annotations: withStatus ? annotations : undefined,
      }),
      interactive: true,
      auditId,
    });
    const startedLine = this.lineIndex + this.random.int(1, 4);
    // An interactive shell lasts minutes (thousands of lines later); a one-shot command ends at once.
    const lengthLines = denied ? this.random.int(1, 3) : tty ? this.random.int(10, this.maxSessionLines) : this.random.int(1, Math.min(200, this.maxSessionLines));
    this.schedule(startedLine, () => stage('ResponseStarted', this.now, true));
    this.schedule(startedLine + lengthLines, () => stage('ResponseComplete', this.now, true));
    return stage('RequestReceived', received, false);
  }
}

type OrdinaryKind =
  | 'nodeLease' | 'leaderLease' | 'configRead' | 'podStatusPatch' | 'podRead' | 'eventCreate' | 'kubeProxyWatch'
  | 'endpointSliceUpdate' | 'nodeStatusPatch' | 'workloadControllers' | 'serviceAccountToken' | 'accessReview'
  | 'healthProbe' | 'volumeAttachment' | 'customResource';

/** Share of ordinary lines by kind (a production cluster of 40 nodes with a few hundred pods). */
export const ORDINARY_MIX: readonly (readonly [OrdinaryKind, number])[] = [
  ['nodeLease', 20],
  ['leaderLease', 6],
  ['configRead', 14],
  ['podStatusPatch', 7],
  ['podRead', 7],
  ['eventCreate', 8],
  ['kubeProxyWatch', 2],
  ['endpointSliceUpdate', 4],
  ['nodeStatusPatch', 4],
  ['workloadControllers', 8],
  ['serviceAccountToken', 4],
  ['accessReview', 5],
  ['healthProbe', 5],
  ['volumeAttachment', 1],
  ['customResource', 5],
];

type SessionKind = 'exec-websocket' | 'exec-spdy' | 'attach' | 'portforward' | 'debug' | 'node-proxy-exec';

export const SESSION_MIX: readonly (readonly [SessionKind, number])[] = [
  ['exec-websocket', 50],
  ['exec-spdy', 20],
  ['attach', 7],
  ['portforward', 10],
  ['debug', 4],
  ['node-proxy-exec', 9],
];

const COMMANDS: string[][] = [
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
function encodeForm(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

function sha256Like(random: Random): string {
  return random.hex(64);
}
