/**
 * Ordinary audit lines about workloads: controllers reading ConfigMaps and Secrets, kubelet pod status
 * patches (pods with exec probes), pod reads, Events, workload controllers, custom resources. Each
 * builder writes one line for the generator's current time (audit-log.ts picks which, by ORDINARY_MIX).
 */
import { allow, eventLine, goClient, goQuery, objectRef, rbacAllow, seconds } from './audit-log-shapes.ts';
import type { Traffic, Workload } from './audit-log-shapes.ts';
import { weighted } from './random.ts';

export function configRead(gen: Traffic): string {
  const w = gen.workload();
  const node = gen.random.pick(gen.cluster.nodes);
  const resource = gen.random.chance(0.6) ? 'configmaps' : 'secrets';
  const verb = weighted(gen.random, [['get', 6], ['list', 2], ['watch', 2]] as const);
  const name = resource === 'configmaps' ? `${w.deployment}-config` : `${w.deployment}-credentials`;
  const query =
    verb === 'get' ? [] : verb === 'list' ? ['limit=500', 'resourceVersion=0'] : ['allowWatchBookmarks=true', `resourceVersion=${gen.resourceVersion}`, `timeout=${gen.random.int(5, 9)}m${gen.random.int(0, 59)}s`, 'timeoutSeconds=' + gen.random.int(300, 599), 'watch=true'];
  const path = verb === 'get' ? `/api/v1/namespaces/${w.namespace}/${resource}/${name}` : `/api/v1/namespaces/${w.namespace}/${resource}`;
  const received = gen.now - gen.random.int(300, 4000);
  return eventLine({
    level: 'Metadata',
    auditId: gen.auditId(),
    stage: verb === 'watch' ? gen.random.pick(['ResponseStarted', 'ResponseComplete']) : 'ResponseComplete',
    requestURI: path + goQuery(query),
    verb,
    user: gen.serviceAccountUser(w.namespace, w.serviceAccount, node, gen.random.pick(w.pods)),
    sourceIPs: [`10.244.${gen.random.int(0, 39)}.${gen.random.int(2, 250)}`],
    userAgent: `${w.deployment}/v0.0.0 (linux/amd64) kubernetes/$Format`,
    objectRef: objectRef({ resource, namespace: w.namespace, name: verb === 'get' ? name : undefined, apiVersion: 'v1' }),
    code: 200,
    received,
    stageAt: gen.now,
    annotations: rbacAllow(`RoleBinding \\"${w.deployment}-reader/${w.namespace}\\"`, `Role \\"${w.deployment}-reader\\"`, `ServiceAccount \\"${w.serviceAccount}/${w.namespace}\\"`),
  });
}

export function probeJson(gen: Traffic, w: Workload, kind: 'liveness' | 'readiness'): string {
  const timing = `"timeoutSeconds":1,"periodSeconds":${kind === 'liveness' ? 10 : 5},"successThreshold":1,"failureThreshold":3`;
  if (w.probe === 'exec') {
    const command = w.deployment === 'redis' ? '["redis-cli","ping"]' : w.deployment === 'postgres' ? '["pg_isready","-U","postgres"]' : '["/bin/sh","-c","test -f /tmp/healthy"]';
    return `{"exec":{"command":${command}},${timing}}`;
  }
  if (w.probe === 'http') return `{"httpGet":{"path":"/${kind === 'liveness' ? 'healthz' : 'readyz'}","port":8080,"scheme":"HTTP"},${timing}}`;
  return `{"tcpSocket":{"port":6379},${timing}}`;
}

export function podStatusPatch(gen: Traffic): string {
  const w = gen.workload();
  const pod = gen.random.pick(w.pods);
  const node = gen.random.pick(gen.cluster.nodes);
  const uid = gen.random.uuid();
  const received = gen.now - gen.random.int(2000, 12000);
  const t = seconds(received);
  const ready = gen.random.chance(0.8) ? 'True' : 'False';
  const containerId = `containerd://${gen.random.hex(64)}`;
  const patch = `{"metadata":{"uid":"${uid}"},"status":{"$setElementOrder/conditions":[{"type":"PodReadyToStartContainers"},{"type":"Initialized"},{"type":"Ready"},{"type":"ContainersReady"},{"type":"PodScheduled"}],"conditions":[{"lastProbeTime":null,"lastTransitionTime":"${t}","status":"${ready}","type":"Ready"},{"lastProbeTime":null,"lastTransitionTime":"${t}","status":"${ready}","type":"ContainersReady"}],"containerStatuses":[{"containerID":"${containerId}","image":"${w.image}","imageID":"${w.image.split(':')[0]}@sha256:${gen.random.hex(64)}","lastState":{},"name":"${w.container}","ready":${ready === 'True'},"restartCount":${gen.random.int(0, 3)},"started":true,"state":{"running":{"startedAt":"2026-01-18T07:12:44Z"}}}]}}`;
  const podJson =
    `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"${pod}","generateName":"${w.replicaSet}-","namespace":"${w.namespace}","uid":"${uid}","resourceVersion":"${gen.rv()}",` +
    `"creationTimestamp":"2026-01-18T07:12:31Z","labels":{"app":"${w.deployment}","pod-template-hash":"${w.replicaSet.split('-').pop()}"},` +
    `"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"${w.replicaSet}","uid":"${gen.random.uuid()}","controller":true,"blockOwnerDeletion":true}]},` +
    `"spec":{"containers":[{"name":"${w.container}","image":"${w.image}","ports":[{"containerPort":8080,"protocol":"TCP"}],"resources":{"limits":{"memory":"512Mi"},"requests":{"cpu":"100m","memory":"256Mi"}},` +
    `"livenessProbe":${probeJson(gen, w, 'liveness')},"readinessProbe":${probeJson(gen, w, 'readiness')},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],` +
    `"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"${w.serviceAccount}","nodeName":"${node}","schedulerName":"default-scheduler","priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},` +
    `"status":{"phase":"Running","hostIP":"${gen.nodeIp(node)}","podIP":"10.244.${gen.random.int(0, 39)}.${gen.random.int(2, 250)}","startTime":"2026-01-18T07:12:31Z","qosClass":"Burstable"}}`;
  return eventLine({
    level: 'RequestResponse',
    auditId: gen.auditId(),
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${w.namespace}/pods/${pod}/status`,
    verb: 'patch',
    user: gen.kubeletUser(node),
    sourceIPs: [gen.nodeIp(node)],
    userAgent: goClient('kubelet'),
    objectRef: objectRef({ resource: 'pods', namespace: w.namespace, name: pod, apiVersion: 'v1', subresource: 'status' }),
    code: 200,
    requestObject: patch,
    responseObject: podJson,
    received,
    stageAt: gen.now,
    annotations: allow(''),
  });
}

export function podRead(gen: Traffic): string {
  const w = gen.workload();
  const [user, agent] = gen.random.pick([
    [gen.systemUser('system:kube-scheduler'), goClient('kube-scheduler', '/scheduler')],
    [gen.systemUser('system:kube-controller-manager'), goClient('kube-controller-manager', '/system:serviceaccount:kube-system:replicaset-controller')],
    [gen.serviceAccountUser('monitoring', 'prometheus', gen.random.pick(gen.cluster.nodes), 'prometheus-k8s-0'), 'prometheus/v2.51.2'],
  ] as const);
  const verb = weighted(gen.random, [['get', 4], ['list', 3], ['watch', 3]] as const);
  const pod = gen.random.pick(w.pods);
  const query = verb === 'list' ? ['labelSelector=app%3D' + w.deployment, 'limit=500'] : verb === 'watch' ? ['allowWatchBookmarks=true', `resourceVersion=${gen.resourceVersion}`, 'timeoutSeconds=' + gen.random.int(300, 599), 'watch=true'] : [];
  const received = gen.now - gen.random.int(300, 6000);
  return eventLine({
    level: 'Metadata',
    auditId: gen.auditId(),
    stage: verb === 'watch' ? gen.random.pick(['ResponseStarted', 'ResponseComplete']) : 'ResponseComplete',
    requestURI: (verb === 'get' ? `/api/v1/namespaces/${w.namespace}/pods/${pod}` : `/api/v1/namespaces/${w.namespace}/pods`) + goQuery(query),
    verb,
    user,
    sourceIPs: ['10.0.1.12'],
    userAgent: agent,
    objectRef: objectRef({ resource: 'pods', namespace: w.namespace, name: verb === 'get' ? pod : undefined, apiVersion: 'v1' }),
    code: 200,
    received,
    stageAt: gen.now,
    annotations: rbacAllow(`ClusterRoleBinding \\"system:kube-scheduler\\"`, `ClusterRole \\"system:kube-scheduler\\"`, `User \\"system:kube-scheduler\\"`),
  });
}

export function eventCreate(gen: Traffic): string {
  const w = gen.workload();
  const pod = gen.random.pick(w.pods);
  const node = gen.random.pick(gen.cluster.nodes);
  const [reason, type, message] = gen.random.pick([
    ['Pulled', 'Normal', `Container image \\"${w.image}\\" already present on machine`],
    ['Created', 'Normal', `Created container ${w.container}`],
    ['Started', 'Normal', `Started container ${w.container}`],
    ['Unhealthy', 'Warning', `Readiness probe failed: Get \\"http://10.244.3.17:8080/readyz\\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`],
    ['BackOff', 'Warning', `Back-off restarting failed container ${w.container} in pod ${pod}_${w.namespace}(${gen.random.uuid()})`],
    ['SuccessfulCreate', 'Normal', `Created pod: ${pod}`],
  ] as const);
  const name = `${pod}.${gen.random.hex(16)}`;
  const received = gen.now - gen.random.int(1000, 7000);
  const body = (withMeta: boolean) =>
    `{"kind":"Event","apiVersion":"v1","metadata":{"name":"${name}","namespace":"${w.namespace}"${withMeta ? `,"uid":"${gen.random.uuid()}","resourceVersion":"${gen.rv()}","creationTimestamp":"${seconds(received)}"` : ''}},` +
    `"involvedObject":{"kind":"Pod","namespace":"${w.namespace}","name":"${pod}","uid":"${gen.random.uuid()}","apiVersion":"v1","resourceVersion":"${gen.resourceVersion - 50}","fieldPath":"spec.containers{${w.container}}"},` +
    `"reason":"${reason}","message":"${message}","source":{"component":"kubelet","host":"${node}"},"firstTimestamp":"${seconds(received)}","lastTimestamp":"${seconds(received)}","count":1,"type":"${type}","eventTime":null,"reportingComponent":"kubelet","reportingInstance":"${node}"}`;
  return eventLine({
    level: 'RequestResponse',
    auditId: gen.auditId(),
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${w.namespace}/events`,
    verb: 'create',
    user: gen.kubeletUser(node),
    sourceIPs: [gen.nodeIp(node)],
    userAgent: goClient('kubelet'),
    objectRef: objectRef({ resource: 'events', namespace: w.namespace, name, apiVersion: 'v1' }),
    code: 201,
    requestObject: body(false),
    responseObject: body(true),
    received,
    stageAt: gen.now,
    annotations: allow(''),
  });
}

export function workloadControllers(gen: Traffic): string {
  const w = gen.workload();
  const resource = gen.random.pick(['deployments', 'replicasets', 'statefulsets']);
  const verb = weighted(gen.random, [['get', 3], ['update', 2], ['list', 1], ['patch', 1]] as const);
  const name = resource === 'replicasets' ? w.replicaSet : w.deployment;
  const received = gen.now - gen.random.int(500, 8000);
  return eventLine({
    level: 'Metadata',
    auditId: gen.auditId(),
    stage: 'ResponseComplete',
    requestURI: `/apis/apps/v1/namespaces/${w.namespace}/${resource}${verb === 'list' ? goQuery(['limit=500', 'resourceVersion=0']) : `/${name}${verb === 'update' ? '/status' : ''}`}`,
    verb,
    user: gen.systemUser('system:kube-controller-manager'),
    sourceIPs: ['10.0.1.12'],
    userAgent: goClient('kube-controller-manager', `/system:serviceaccount:kube-system:${resource === 'deployments' ? 'deployment' : resource === 'replicasets' ? 'replicaset' : 'statefulset'}-controller`),
    objectRef: objectRef({ resource, namespace: w.namespace, name: verb === 'list' ? undefined : name, apiGroup: 'apps', apiVersion: 'v1', subresource: verb === 'update' ? 'status' : undefined }),
    code: 200,
    received,
    stageAt: gen.now,
    annotations: rbacAllow(`ClusterRoleBinding \\"system:controller:deployment-controller\\"`, `ClusterRole \\"system:controller:deployment-controller\\"`, `ServiceAccount \\"deployment-controller/kube-system\\"`),
  });
}

export function customResource(gen: Traffic): string {
  const w = gen.workload();
  const [group, resource, sa, ns] = gen.random.pick([
    ['cert-manager.io', 'certificates', 'cert-manager', 'cert-manager'],
    ['argoproj.io', 'applications', 'argocd-application-controller', 'argocd'],
    ['monitoring.coreos.com', 'servicemonitors', 'prometheus-operator', 'monitoring'],
    ['networking.istio.io', 'virtualservices', 'istiod', 'istio-system'],
  ] as const);
  const verb = weighted(gen.random, [['get', 3], ['list', 2], ['watch', 2], ['patch', 1]] as const);
  const node = gen.random.pick(gen.cluster.nodes);
  const received = gen.now - gen.random.int(300, 5000);
  return eventLine({
    level: 'Metadata',
    auditId: gen.auditId(),
    stage: verb === 'watch' ? 'ResponseStarted' : 'ResponseComplete',
    requestURI: `/apis/${group}/v1/namespaces/${w.namespace}/${resource}${verb === 'get' || verb === 'patch' ? '/' + w.deployment : goQuery(verb === 'watch' ? ['allowWatchBookmarks=true', `resourceVersion=${gen.resourceVersion}`, 'watch=true'] : ['limit=500'])}`,
    verb,
    user: gen.serviceAccountUser(ns, sa, node, `${sa}-${gen.random.hex(9)}-${gen.random.hex(5)}`),
    sourceIPs: [`10.244.${gen.random.int(0, 39)}.${gen.random.int(2, 250)}`],
    userAgent: `${sa}/v0.0.0 (linux/amd64) kubernetes/$Format`,
    objectRef: objectRef({ resource, namespace: w.namespace, name: verb === 'get' || verb === 'patch' ? w.deployment : undefined, apiGroup: group, apiVersion: 'v1' }),
    code: 200,
    received,
    stageAt: gen.now,
    annotations: rbacAllow(`ClusterRoleBinding \\"${sa}\\"`, `ClusterRole \\"${sa}\\"`, `ServiceAccount \\"${sa}/${ns}\\"`),
  });
}
