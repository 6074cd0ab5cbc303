/**
 * Ordinary audit lines of the control plane and the nodes: lease renewals, node status, kube-proxy
 * watches, EndpointSlices, token and access reviews, health probes, CSI volume attachments. Each builder
 * writes one line for the generator's current time (audit-log.ts picks which, by ORDINARY_MIX).
 */
import { allow, eventLine, goClient, goQuery, microTime, objectRef, rbacAllow, seconds } from './audit-log-shapes.ts';
import type { Traffic } from './audit-log-shapes.ts';

export function nodeLease(gen: Traffic): string {
  const node = gen.random.pick(gen.cluster.nodes);
  const received = gen.now - gen.random.int(1500, 9000);
  const uid = gen.random.uuid();
  const rvBefore = gen.rv();
  const rvAfter = gen.rv();
  const lease = (rv: string) =>
    `{"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{"name":"${node}","namespace":"kube-node-lease","uid":"${uid}",` +
    `"resourceVersion":"${rv}","creationTimestamp":"2025-11-02T08:14:55Z","ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"${node}",` +
    `"uid":"${gen.cluster.nodeUids.get(node)}"}],"managedFields":[{"manager":"kubelet","operation":"Update","apiVersion":"coordination.k8s.io/v1",` +
    `"time":"${seconds(received)}","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:ownerReferences":{".":{},"k:{\\"uid\\":\\"${gen.cluster.nodeUids.get(node)}\\"}":{}}},` +
    `"f:spec":{"f:holderIdentity":{},"f:leaseDurationSeconds":{},"f:renewTime":{}}}}]},"spec":{"holderIdentity":"${node}","leaseDurationSeconds":40,` +
    `"renewTime":"${microTime(received)}"}}`;
  return eventLine({
    level: 'RequestResponse',
    auditId: gen.auditId(),
    stage: 'ResponseComplete',
    requestURI: `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node}${goQuery(['timeout=10s'])}`,
    verb: 'update',
    user: gen.kubeletUser(node),
    sourceIPs: [gen.nodeIp(node)],
    userAgent: goClient('kubelet'),
    objectRef: objectRef({ resource: 'leases', namespace: 'kube-node-lease', name: node, uid, apiGroup: 'coordination.k8s.io', apiVersion: 'v1', resourceVersion: rvBefore }),
    code: 200,
    requestObject: lease(rvBefore),
    responseObject: lease(rvAfter),
    received,
    stageAt: gen.now,
    annotations: allow(''),
  });
}

export function leaderLease(gen: Traffic): string {
  const [component, lease] = gen.random.pick([
    ['kube-controller-manager', 'kube-controller-manager'],
    ['kube-scheduler', 'kube-scheduler'],
    ['cloud-controller-manager', 'cloud-controller-manager'],
    ['cert-manager-controller', 'cert-manager-controller'],
  ] as const);
  const verb = gen.random.chance(0.5) ? 'get' : 'update';
  const holder = `ip-10-0-1-12_${gen.random.uuid()}`;
  const uid = gen.random.uuid();
  const received = gen.now - gen.random.int(800, 5000);
  const body = `{"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{"name":"${lease}","namespace":"kube-system","uid":"${uid}","resourceVersion":"${gen.rv()}","creationTimestamp":"2025-09-14T11:02:31Z","managedFields":[{"manager":"${component}","operation":"Update","apiVersion":"coordination.k8s.io/v1","time":"${seconds(received)}","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:acquireTime":{},"f:holderIdentity":{},"f:leaseDurationSeconds":{},"f:leaseTransitions":{},"f:renewTime":{}}}}]},"spec":{"holderIdentity":"${holder}","leaseDurationSeconds":15,"acquireTime":"2026-01-19T22:41:07.318221Z","renewTime":"${microTime(received)}","leaseTransitions":17}}`;
  return eventLine({
    level: verb === 'get' ? 'Metadata' : 'RequestResponse',
    auditId: gen.auditId(),
    stage: 'ResponseComplete',
    requestURI: `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${lease}${goQuery(['timeout=5s'])}`,
    verb,
    user: gen.systemUser(`system:${component.replace(/^kube-/, 'kube-')}`),
    sourceIPs: ['10.0.1.12'],
    userAgent: goClient(component, '/leader-election'),
    objectRef: objectRef({ resource: 'leases', namespace: 'kube-system', name: lease, uid: verb === 'update' ? uid : undefined, apiGroup: 'coordination.k8s.io', apiVersion: 'v1' }),
    code: 200,
    requestObject: verb === 'update' ? body : undefined,
    responseObject: verb === 'update' ? body : undefined,
    received,
    stageAt: gen.now,
    annotations: rbacAllow(`ClusterRoleBinding \\"system:${component}\\"`, `ClusterRole \\"system:${component}\\"`, `User \\"system:${component}\\"`),
  });
}

export function kubeProxyWatch(gen: Traffic): string {
  const node = gen.random.pick(gen.cluster.nodes);
  const resource = gen.random.pick(['endpointslices', 'services', 'nodes']);
  const group = resource === 'endpointslices' ? 'discovery.k8s.io' : undefined;
  const path = resource === 'endpointslices' ? '/apis/discovery.k8s.io/v1/endpointslices' : `/api/v1/${resource}`;
  const received = gen.now - gen.random.int(300_000_000, 540_000_000);
  return eventLine({
    level: 'Metadata',
    auditId: gen.auditId(),
    stage: gen.random.pick(['ResponseStarted', 'ResponseComplete']),
    requestURI: path + goQuery(['allowWatchBookmarks=true', 'labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name', `resourceVersion=${gen.resourceVersion}`, `timeout=${gen.random.int(5, 9)}m${gen.random.int(0, 59)}s`, `timeoutSeconds=${gen.random.int(300, 599)}`, 'watch=true']),
    verb: 'watch',
    user: `{"username":"system:serviceaccount:kube-system:kube-proxy","uid":"${gen.random.uuid()}","groups":["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=${gen.random.uuid()}"],"authentication.kubernetes.io/node-name":["${node}"],"authentication.kubernetes.io/pod-name":["kube-proxy-${gen.random.hex(5)}"]}}`,
    sourceIPs: [gen.nodeIp(node)],
    userAgent: goClient('kube-proxy'),
    objectRef: objectRef({ resource, apiGroup: group, apiVersion: 'v1' }),
    code: 200,
    received,
    stageAt: gen.now,
    annotations: rbacAllow(`ClusterRoleBinding \\"kubeadm:node-proxier\\"`, `ClusterRole \\"system:node-proxier\\"`, `ServiceAccount \\"kube-proxy/kube-system\\"`),
  });
}

export function endpointSliceUpdate(gen: Traffic): string {
  const w = gen.workload();
  const name = `${w.deployment}-${gen.random.hex(5)}`;
  const received = gen.now - gen.random.int(1000, 9000);
  const endpoints = w.pods
    .slice(0, 4)
    .map((pod) => `{"addresses":["10.244.${gen.random.int(0, 39)}.${gen.random.int(2, 250)}"],"conditions":{"ready":true,"serving":true,"terminating":false},"targetRef":{"kind":"Pod","namespace":"${w.namespace}","name":"${pod}","uid":"${gen.random.uuid()}"},"nodeName":"${gen.random.pick(gen.cluster.nodes)}","zone":"eu-west-1${gen.random.pick(['a', 'b', 'c'])}"}`)
    .join(',');
  const body = `{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"${name}","generateName":"${w.deployment}-","namespace":"${w.namespace}","uid":"${gen.random.uuid()}","resourceVersion":"${gen.rv()}","labels":{"endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io","kubernetes.io/service-name":"${w.deployment}"}},"addressType":"IPv4","endpoints":[${endpoints}],"ports":[{"name":"http","protocol":"TCP","port":8080}]}`;
  return eventLine({
    level: 'Request',
    auditId: gen.auditId(),
    stage: 'ResponseComplete',
    requestURI: `/apis/discovery.k8s.io/v1/namespaces/${w.namespace}/endpointslices/${name}`,
    verb: 'update',
    user: gen.systemUser('system:kube-controller-manager'),
    sourceIPs: ['10.0.1.12'],
    userAgent: goClient('kube-controller-manager', '/system:serviceaccount:kube-system:endpointslice-controller'),
    objectRef: objectRef({ resource: 'endpointslices', namespace: w.namespace, name, apiGroup: 'discovery.k8s.io', apiVersion: 'v1' }),
    code: 200,
    requestObject: body,
    received,
    stageAt: gen.now,
    annotations: rbacAllow(`ClusterRoleBinding \\"system:controller:endpointslice-controller\\"`, `ClusterRole \\"system:controller:endpointslice-controller\\"`, `ServiceAccount \\"endpointslice-controller/kube-system\\"`),
  });
}

export function nodeStatusPatch(gen: Traffic): string {
  const node = gen.random.pick(gen.cluster.nodes);
  const received = gen.now - gen.random.int(3000, 15000);
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
    Array.from({ length: gen.random.int(2, 6) }, () => `{"names":["registry.example.com/app@sha256:${gen.random.hex(64)}"],"sizeBytes":${gen.random.int(10_000_000, 900_000_000)}}`).join(',') +
    `]}}`;
  return eventLine({
    level: 'Request',
    auditId: gen.auditId(),
    stage: 'ResponseComplete',
    requestURI: `/api/v1/nodes/${node}/status${goQuery(['timeout=10s'])}`,
    verb: 'patch',
    user: gen.kubeletUser(node),
    sourceIPs: [gen.nodeIp(node)],
    userAgent: goClient('kubelet'),
    objectRef: objectRef({ resource: 'nodes', name: node, apiVersion: 'v1', subresource: 'status' }),
    code: 200,
    requestObject: patch,
    received,
    stageAt: gen.now,
    annotations: allow(''),
  });
}

export function serviceAccountToken(gen: Traffic): string {
  const w = gen.workload();
  const node = gen.random.pick(gen.cluster.nodes);
  const received = gen.now - gen.random.int(1000, 6000);
  return eventLine({
    level: 'Metadata',
    auditId: gen.auditId(),
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${w.namespace}/serviceaccounts/${w.serviceAccount}/token`,
    verb: 'create',
    user: gen.kubeletUser(node),
    sourceIPs: [gen.nodeIp(node)],
    userAgent: goClient('kubelet'),
    objectRef: objectRef({ resource: 'serviceaccounts', namespace: w.namespace, name: w.serviceAccount, apiVersion: 'v1', subresource: 'token' }),
    code: 201,
    received,
    stageAt: gen.now,
    annotations: `{"authentication.kubernetes.io/issued-credential-id":"JTI=${gen.random.uuid()}","authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}`,
  });
}

export function accessReview(gen: Traffic): string {
  const resource = gen.random.pick(['tokenreviews', 'subjectaccessreviews']);
  const group = resource === 'tokenreviews' ? 'authentication.k8s.io' : 'authorization.k8s.io';
  const received = gen.now - gen.random.int(300, 2500);
  const node = gen.random.pick(gen.cluster.nodes);
  return eventLine({
    level: 'Metadata',
    auditId: gen.auditId(),
    stage: 'ResponseComplete',
    requestURI: `/apis/${group}/v1/${resource}`,
    verb: 'create',
    user: gen.serviceAccountUser('monitoring', 'metrics-server', node, `metrics-server-${gen.random.hex(9)}-${gen.random.hex(5)}`),
    sourceIPs: [`10.244.${gen.random.int(0, 39)}.${gen.random.int(2, 250)}`],
    userAgent: `metrics-server/v0.7.1 (linux/amd64) kubernetes/$Format`,
    objectRef: objectRef({ resource, apiGroup: group, apiVersion: 'v1' }),
    code: 201,
    received,
    stageAt: gen.now,
    annotations: rbacAllow(`ClusterRoleBinding \\"metrics-server:system:auth-delegator\\"`, `ClusterRole \\"system:auth-delegator\\"`, `ServiceAccount \\"metrics-server/monitoring\\"`),
  });
}

export function healthProbe(gen: Traffic): string {
  const path = gen.random.pick(['/livez', '/readyz', '/healthz', '/metrics', '/openapi/v2', '/version']);
  const received = gen.now - gen.random.int(200, 1500);
  return eventLine({
    level: 'Metadata',
    auditId: gen.auditId(),
    stage: 'ResponseComplete',
    requestURI: path,
    verb: 'get',
    user: `{"username":"system:anonymous","groups":["system:unauthenticated"]}`,
    sourceIPs: [`10.0.${gen.random.int(1, 5)}.${gen.random.int(2, 250)}`],
    userAgent: gen.random.pick(['kube-probe/1.29', 'ELB-HealthChecker/2.0', 'Prometheus/2.51.2']),
    code: 200,
    received,
    stageAt: gen.now,
    annotations: rbacAllow(`ClusterRoleBinding \\"system:public-info-viewer\\"`, `ClusterRole \\"system:public-info-viewer\\"`, `Group \\"system:unauthenticated\\"`),
  });
}

export function volumeAttachment(gen: Traffic): string {
  const node = gen.random.pick(gen.cluster.nodes);
  const name = `csi-${gen.random.hex(64)}`;
  const received = gen.now - gen.random.int(500, 4000);
  const verb = gen.random.pick(['get', 'patch', 'list']);
  return eventLine({
    level: 'Metadata',
    auditId: gen.auditId(),
    stage: 'ResponseComplete',
    requestURI: verb === 'list' ? `/apis/storage.k8s.io/v1/volumeattachments${goQuery(['limit=500', 'resourceVersion=0'])}` : `/apis/storage.k8s.io/v1/volumeattachments/${name}`,
    verb,
    user: gen.serviceAccountUser('kube-system', 'ebs-csi-controller-sa', node, `ebs-csi-controller-${gen.random.hex(9)}-${gen.random.hex(5)}`),
    sourceIPs: [`10.244.${gen.random.int(0, 39)}.${gen.random.int(2, 250)}`],
    userAgent: 'csi-attacher/v4.5.0 (linux/amd64) kubernetes/$Format',
    objectRef: objectRef({ resource: 'volumeattachments', name: verb === 'list' ? undefined : name, apiGroup: 'storage.k8s.io', apiVersion: 'v1' }),
    code: 200,
    received,
    stageAt: gen.now,
    annotations: rbacAllow(`ClusterRoleBinding \\"ebs-csi-attacher-binding\\"`, `ClusterRole \\"ebs-external-attacher-role\\"`, `ServiceAccount \\"ebs-csi-controller-sa/kube-system\\"`),
  });
}
