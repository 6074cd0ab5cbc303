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
import { COMMANDS, SESSION_MIX, buildCluster, encodeForm, eventLine, goQuery, jsonArray, objectRef, rbacAllow, sha256Like } from './audit-log-shapes.ts';
import type { Cluster, EventParts, Human, Traffic, Workload } from './audit-log-shapes.ts';
import { nodeLease, leaderLease, kubeProxyWatch, endpointSliceUpdate, nodeStatusPatch, serviceAccountToken, accessReview, healthProbe, volumeAttachment } from './audit-log-control-plane.ts';
import { configRead, podStatusPatch, podRead, eventCreate, workloadControllers, customResource } from './audit-log-workloads.ts';

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

export class AuditLogGenerator implements Traffic {
  readonly random: Random;
  readonly cluster: Cluster;
  private readonly sessionStartChance: number;
  private readonly maxSessionLines: number;
  private readonly prefix: string;
  now: number;
  private lineIndex = 0;
  resourceVersion = 48_211_907;
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

  auditId(): string {
    return this.prefix ? this.prefix + this.random.uuid().slice(this.prefix.length) : this.random.uuid();
  }

  rv(): string {
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

  kubeletUser(node: string): string {
    return `{"username":"system:node:${node}","groups":["system:nodes","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["X509SHA256=${sha256Like(this.random)}"]}}`;
  }

  serviceAccountUser(namespace: string, name: string, node: string, pod: string): string {
    return (
      `{"username":"system:serviceaccount:${namespace}:${name}","uid":"${this.random.uuid()}",` +
      `"groups":["system:serviceaccounts","system:serviceaccounts:${namespace}","system:authenticated"],` +
      `"extra":{"authentication.kubernetes.io/credential-id":["JTI=${this.random.uuid()}"],"authentication.kubernetes.io/node-name":["${node}"],` +
      `"authentication.kubernetes.io/node-uid":["${this.cluster.nodeUids.get(node)}"],"authentication.kubernetes.io/pod-name":["${pod}"],` +
      `"authentication.kubernetes.io/pod-uid":["${this.random.uuid()}"]}}`
    );
  }

  systemUser(name: string): string {
    return `{"username":"${name}","groups":["system:authenticated"]}`;
  }

  humanUser(h: Human): string {
    return `{"username":"${h.username}","groups":${jsonArray(h.groups)}}`;
  }

  nodeIp(node: string): string {
    const m = /ip-(\d+)-(\d+)-(\d+)-(\d+)/.exec(node);
    return m ? `${m[1]}.${m[2]}.${m[3]}.${m[4]}` : '10.0.0.1';
  }

  workload(): Workload {
    const ns = this.random.pick(this.cluster.namespaces);
    return this.random.pick(this.cluster.workloads.get(ns)!);
  }

  // ---------------------------------------------------------------- ordinary traffic

  private ordinaryEvent(): AuditLine {
    const kind = weighted(this.random, ORDINARY_MIX);
    const text = ORDINARY_KINDS[kind](this);
    return { text, interactive: false, auditId: '' };
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

const ORDINARY_KINDS = {
  nodeLease, leaderLease, configRead, podStatusPatch, podRead, eventCreate, kubeProxyWatch, endpointSliceUpdate,
  nodeStatusPatch, workloadControllers, serviceAccountToken, accessReview, healthProbe, volumeAttachment, customResource,
} satisfies Record<OrdinaryKind, (t: Traffic) => string>;

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
