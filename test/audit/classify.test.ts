/**
 * What is interactive access and what is not (acceptance 2): a WebSocket exec (`get`) and a SPDY exec
 * (`create`) are sessions; the traps (a ConfigMap called executor-config, pods/log, services/proxy,
 * nodes/proxy metrics) are not; -node-proxy=all records every nodes/proxy request.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kubeletRequestOf, nodeNameOf } from '../../src/audit/kubelet.ts';
import { sessionsFromLine } from '../../src/audit/input.ts';

function line(fields: { requestURI: string; verb: string; objectRef: Record<string, string>; stage?: string; code?: number }): Buffer {
  const event = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `id-${fields.verb}-${fields.requestURI}`,
    stage: fields.stage ?? 'ResponseComplete',
    requestURI: fields.requestURI,
    verb: fields.verb,
    user: { username: 'alice', groups: ['system:authenticated'] },
    sourceIPs: ['198.51.100.1', '192.0.2.10'],
    userAgent: 'kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9',
    objectRef: { apiVersion: 'v1', ...fields.objectRef },
    responseStatus: { metadata: {}, code: fields.code ?? 101 },
    requestReceivedTimestamp: '2025-10-19T14:41:14.630152Z',
    stageTimestamp: '2025-10-19T14:41:15.914883Z',
  };
  // As the apiserver writes it: Go's encoder escapes & as \u0026.
  return Buffer.from(JSON.stringify(event).replaceAll('&', '\\u0026'));
}

const context = { cluster: 'c' };
const pod = { resource: 'pods', namespace: 'shop', name: 'web-0' };
const node = { resource: 'nodes', name: 'worker-1', subresource: 'proxy' };

describe('classifying interactive access', () => {
  it('a WebSocket exec (get) and a SPDY exec (create) both produce sessions', () => {
    for (const [verb, transport] of [['get', 'websocket'], ['create', 'spdy']] as const) {
      const { rows } = sessionsFromLine(line({ requestURI: '/api/v1/namespaces/shop/pods/web-0/exec?command=sh&container=web&stdin=true&tty=true', verb, objectRef: { ...pod, subresource: 'exec' } }), context);
      assert.equal(rows.length, 1, verb);
      assert.equal(rows[0]!.execMetadata.transport, transport);
      assert.deepEqual(rows[0]!.execMetadata.command, ['sh']);
      assert.equal(rows[0]!.actor.source_ip, '192.0.2.10', 'the last sourceIPs entry');
      assert.deepEqual(rows[0]!.actor.source_ips, ['198.51.100.1', '192.0.2.10']);
    }
  });

  it('attach and port-forward over either transport, and kubectl debug patches, are sessions', () => {
    for (const verb of ['get', 'create']) {
      assert.equal(sessionsFromLine(line({ requestURI: '/api/v1/namespaces/shop/pods/web-0/attach?container=web', verb, objectRef: { ...pod, subresource: 'attach' } }), context).rows.length, 1);
      assert.equal(sessionsFromLine(line({ requestURI: '/api/v1/namespaces/shop/pods/web-0/portforward', verb, objectRef: { ...pod, subresource: 'portforward' } }), context).rows.length, 1);
    }
    for (const verb of ['patch', 'update']) {
      assert.equal(sessionsFromLine(line({ requestURI: '/api/v1/namespaces/shop/pods/web-0/ephemeralcontainers', verb, objectRef: { ...pod, subresource: 'ephemeralcontainers' }, code: 200 }), context).rows.length, 1, verb);
    }
  });

  it('traps produce no session', () => {
    const traps: { requestURI: string; verb: string; objectRef: Record<string, string> }[] = [
      { requestURI: '/api/v1/namespaces/shop/configmaps/executor-config', verb: 'update', objectRef: { resource: 'configmaps', namespace: 'shop', name: 'executor-config' } },
      { requestURI: '/api/v1/namespaces/shop/configmaps/executor-config', verb: 'create', objectRef: { resource: 'configmaps', namespace: 'shop', name: 'executor-config' } },
      { requestURI: '/api/v1/namespaces/shop/pods/exec-0/log?container=exec', verb: 'get', objectRef: { resource: 'pods', namespace: 'shop', name: 'exec-0', subresource: 'log' } },
      { requestURI: '/api/v1/namespaces/shop/pods/web-0/status', verb: 'patch', objectRef: { ...pod, subresource: 'status' } },
      { requestURI: '/api/v1/namespaces/shop/services/web/proxy/exec', verb: 'get', objectRef: { resource: 'services', namespace: 'shop', name: 'web', subresource: 'proxy' } },
      { requestURI: '/api/v1/nodes/worker-1/proxy/metrics', verb: 'get', objectRef: node },
      { requestURI: '/api/v1/nodes/worker-1/proxy/metrics/cadvisor', verb: 'get', objectRef: node },
      { requestURI: '/api/v1/nodes/worker-1/proxy/stats/summary', verb: 'get', objectRef: node },
      { requestURI: '/api/v1/nodes/worker-1/proxy/logs/kubelet.log', verb: 'get', objectRef: node },
      { requestURI: '/api/v1/nodes/worker-1/proxy/containerLogs/shop/web-0/web', verb: 'get', objectRef: node },
      { requestURI: '/api/v1/namespaces/shop/pods/web-0/exec?command=ls', verb: 'delete', objectRef: { ...pod, subresource: 'exec' } },
      { requestURI: '/apis/example.com/v1/namespaces/shop/pods/web-0/exec', verb: 'create', objectRef: { ...pod, subresource: 'exec', apiGroup: 'example.com' } },
      { requestURI: '/api/v1/namespaces/shop/pods/web-0/ephemeralcontainers', verb: 'get', objectRef: { ...pod, subresource: 'ephemeralcontainers' } },
    ];
    for (const trap of traps) assert.deepEqual(sessionsFromLine(line(trap), context), { rows: [], rejected: [], repaired: [] }, `${trap.verb} ${trap.requestURI}`);
  });

  it('nodes/proxy: kubelet exec, run, attach and portForward are sessions; -node-proxy=all records the rest too', () => {
    for (const path of ['exec/shop/web-0/web?command=id', 'run/shop/web-0/web?cmd=id', 'attach/shop/web-0/web', 'portForward/shop/web-0', '%65xec/shop/web-0/web?command=id']) {
      const { rows } = sessionsFromLine(line({ requestURI: `/api/v1/nodes/worker-1/proxy/${path}`, verb: 'get', objectRef: node }), context);
      assert.equal(rows.length, 1, path);
      assert.equal(rows[0]!.resourceKind, 'Node');
      assert.equal(rows[0]!.execMetadata.target?.pod, 'web-0');
    }
    const metrics = line({ requestURI: '/api/v1/nodes/worker-1:10250/proxy/metrics', verb: 'get', objectRef: { ...node, name: 'worker-1:10250' } });
    assert.equal(sessionsFromLine(metrics, context).rows.length, 0);
    const [all] = sessionsFromLine(metrics, { ...context, nodeProxy: 'all' }).rows;
    assert.equal(all?.name, 'worker-1');
    assert.equal(all?.execMetadata.kubelet_action, 'metrics');
    assert.equal(all?.execMetadata.kubelet_path, '/metrics');
    assert.equal(all?.execMetadata.target, undefined);
  });

  it('reads kubelet paths and node proxy names as the kubelet and apiserver do', () => {
    assert.deepEqual(kubeletRequestOf('/api/v1/nodes/n/proxy/exec/ns/p/uid-1/c?command=x'), { action: 'exec', path: '/exec/ns/p/uid-1/c', target: { namespace: 'ns', pod: 'p', pod_uid: 'uid-1', container: 'c' } });
    assert.deepEqual(kubeletRequestOf('/api/v1/nodes/n/proxy/portForward/ns/p'), { action: 'portForward', path: '/portForward/ns/p', target: { namespace: 'ns', pod: 'p' } });
    assert.deepEqual(kubeletRequestOf('/api/v1/nodes/n/proxy/'), { action: '', path: '/', target: undefined });
    assert.equal(kubeletRequestOf('/api/v1/namespaces/x/pods/p/exec'), undefined);
    assert.equal(nodeNameOf('worker-1'), 'worker-1');
    assert.equal(nodeNameOf('worker-1:10250'), 'worker-1');
    assert.equal(nodeNameOf('https:worker-1:10250'), 'worker-1');
  });

  it('a percent-encoded subresource in requestURI is still the exec objectRef says it is', () => {
    const hidden = line({ requestURI: '/api/v1/namespaces/shop/pods/web-0/%65xec?command=sh', verb: 'get', objectRef: { ...pod, subresource: 'exec' } });
    assert.equal(sessionsFromLine(hidden, context).rows.length, 1);
  });
});
