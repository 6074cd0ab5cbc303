/**
 * Golden expectations for every audit fixture in ../shared/fixtures/audit (the real-world corpus; this
 * suite skips when it is not beside the checkout): the sessions each file yields (rows and their key
 * fields), the events it decodes to, and the bad input it counts. Constructed scenarios c1-c10 yield
 * exactly the sessions their .source.txt describes.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeAuditText } from '../../src/audit/decode.ts';
import { assertGoldenRows, countByReason, ingestDocument, ingestLines, splitLines, type ExpectedSession } from '../audit/support.ts';
import { sharedFixturesDir, sharedSkip } from './shared.ts';

const fixturesDir = `${sharedFixturesDir}audit/`;
const readFixture = (relative: string) => readFileSync(fixturesDir + relative);

type Expected = ExpectedSession;

interface Golden {
  file: string;
  /** `lines`: one event per line, through the pre-filter; `document`: the whole file is one JSON document. */
  mode: 'lines' | 'document';
  /** Audit events the file decodes to (every line or the document, without the pre-filter). */
  events: number;
  rows: Expected[];
  /** Bad input counted while ingesting, by reason. */
  rejected?: Record<string, number>;
  /** Bad input counted when every line is decoded (no pre-filter), by reason. */
  decodeRejected?: Record<string, number>;
}

const admin = { username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'], source_ip: '192.0.2.10', source_ips: ['192.0.2.10'] };
const adminReason = 'RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole "cluster-admin" to Group "kubeadm:cluster-admins"';
const kubectl134 = { tool: 'kubectl', detected_by: 'user-agent', client_name: 'kubectl', client_version: 'v1.34.1', client_platform: 'linux/amd64' } as const;
const kubectl129 = { ...kubectl134, client_version: 'v1.29.3', user_agent: 'kubectl/v1.29.3 (linux/amd64) kubernetes/6813625' } as const;

const c1Session: Expected = {
  auditId: '6b0f8e7e-2d0c-4b8e-9a51-1f0d5c7a3e11',
  resourceKind: 'Pod',
  namespace: 'shop',
  name: 'web-7d9f5c6b8-x2k4t',
  allowed: true,
  actor: admin,
  source: kubectl129,
  execExactly: {
    command: ['/bin/sh'],
    container: 'web',
    stdin: true,
    stdout: true,
    stderr: false,
    tty: true,
    target_type: 'pod',
    subresource: 'exec',
    verb: 'create',
    transport: 'spdy',
    response_code: 101,
    decision: 'allow',
    reason: adminReason,
    started_at: '2024-05-02T09:15:01.104512Z',
    ended_at: '2024-05-02T09:21:44.903311Z',
    duration_ms: 403798.799,
    stages: ['RequestReceived', 'ResponseStarted', 'ResponseComplete'],
  },
};

const c2Session: Expected = {
  auditId: '0c9e2d4a-77b1-4f6e-8c2d-5a1b3e9f7d20',
  resourceKind: 'Pod',
  namespace: 'shop',
  name: 'web-7d9f5c6b8-x2k4t',
  allowed: true,
  source: kubectl134,
  exec: {
    command: ['sh', '-c', 'cat /etc/passwd | head -n 3'],
    container: 'web',
    stdin: false,
    stdout: true,
    stderr: true,
    tty: false,
    verb: 'get',
    transport: 'websocket',
    response_code: 101,
    started_at: '2025-10-19T14:41:14.630152Z',
    ended_at: '2025-10-19T14:41:15.914883Z',
    duration_ms: 1284.731,
    stages: ['ResponseStarted', 'ResponseComplete'],
  },
};

const goldens: Golden[] = [
  { file: 'constructed/c1_exec_spdy_create_all_stages.jsonl', mode: 'lines', events: 3, rows: [c1Session] },
  { file: 'constructed/c2_exec_websocket_get_noninteractive.jsonl', mode: 'lines', events: 2, rows: [c2Session] },
  {
    file: 'constructed/c3_exec_forbidden_ws_then_spdy_fallback.jsonl',
    mode: 'lines',
    events: 4,
    rows: [
      {
        auditId: '9a7c1e55-0b2d-4d8e-a3f4-2c6d8e0f1a22',
        namespace: 'prod',
        name: 'api-0',
        allowed: false,
        actor: { username: 'dev@example.com', source_ip: '192.0.2.10' },
        exec: { verb: 'create', transport: 'spdy', response_code: 403, response_reason: 'Forbidden', decision: 'forbid', reason: '', command: ['bash'], ended_at: '2025-11-03T08:00:00.132144Z' },
      },
      {
        auditId: 'd2f0a8a1-3c3e-4c59-9d0c-6e2b7f1a4b01',
        namespace: 'prod',
        name: 'api-0',
        allowed: false,
        actor: { username: 'dev@example.com' },
        exec: { verb: 'get', transport: 'websocket', response_code: 403, decision: 'forbid', command: ['bash'], started_at: '2025-11-03T08:00:00.112233Z' },
      },
    ],
  },
  {
    file: 'constructed/c4_exec_get_allowed_but_synthetic_create_denied_1_35.jsonl',
    mode: 'lines',
    events: 4,
    rows: [
      {
        // 1.35: RBAC allowed `get`, the synthetic `create` check refused: the code decides, the annotation is kept.
        auditId: '41c5b0e2-6d7f-4a1b-8e3c-9f2d1a0b7c33',
        allowed: false,
        actor: { username: 'auditor@example.com' },
        source: { tool: 'kubectl', client_version: 'v1.35.0', client_platform: 'darwin/arm64' },
        exec: { verb: 'get', transport: 'websocket', response_code: 403, decision: 'allow', response_message: 'pods "api-0" is forbidden: ' },
      },
      { auditId: '5e8d2c11-9a4b-4c7d-b6e1-0f3a2d9c8b44', allowed: false, exec: { verb: 'create', response_code: 403, decision: 'forbid' } },
    ],
  },
  {
    file: 'constructed/c5_nodes_proxy_exec_and_run.jsonl',
    mode: 'lines',
    events: 4,
    rows: [
      {
        auditId: '7f3e9b2c-4d1a-4e8f-9b6c-2a1d0e9f8c55',
        resourceKind: 'Node',
        namespace: '',
        name: 'worker-1',
        allowed: true,
        actor: {
          username: 'system:serviceaccount:monitoring:metrics-reader',
          uid: '0b6e1f0c-1b44-4e0e-bb8b-7b7c2d3e4f55',
          service_account: 'monitoring/metrics-reader',
          source_ip: '10.244.1.23',
        },
        source: { tool: 'unknown', client_name: 'Go-http-client', user_agent: 'Go-http-client/1.1' },
        exec: {
          target_type: 'node',
          node_name: 'worker-1',
          target: { namespace: 'kube-system', pod: 'etcd-cp-1', container: 'etcd' },
          container: 'etcd',
          kubelet_action: 'exec',
          kubelet_path: '/exec/kube-system/etcd-cp-1/etcd',
          command: ['sh', '-c', 'id'],
          stdin: false,
          stdout: true,
          stderr: true,
          tty: false,
          subresource: 'proxy',
          verb: 'get',
          response_code: 101,
          ended_at: '2026-01-20T03:14:07.402211Z',
        },
      },
      {
        // The object name keeps `:10250`; node_name does not. /run takes one cmd= string.
        auditId: '8a4f0c3d-5e2b-4f9a-8c7d-3b2e1f0a9d66',
        resourceKind: 'Node',
        name: 'worker-1',
        allowed: true,
        source: { tool: 'unknown', client_name: 'curl', client_version: '8.5.0' },
        exec: {
          target_type: 'node',
          node_name: 'worker-1',
          target: { namespace: 'default', pod: 'nginx', container: 'nginx' },
          kubelet_action: 'run',
          command: ['cat', '/etc/shadow'],
          verb: 'create',
          response_code: 200,
        },
      },
    ],
  },
  {
    file: 'constructed/c6_kubectl_debug_ephemeral_then_attach.jsonl',
    mode: 'lines',
    events: 3,
    rows: [
      {
        auditId: '2d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b77',
        resourceKind: 'Pod',
        namespace: 'shop',
        name: 'web-7d9f5c6b8-x2k4t',
        allowed: true,
        exec: {
          subresource: 'ephemeralcontainers',
          verb: 'patch',
          container: 'debugger-8xk2p',
          ephemeral_container: { name: 'debugger-8xk2p', image: 'busybox:1.36', target_container: 'web' },
          stdin: true,
          tty: true,
          response_code: 200,
          stages: ['ResponseComplete'],
        },
      },
      {
        auditId: '3e0d9c8b-7a6f-4e5d-3c2b-1a0f9e8d7c88',
        name: 'web-7d9f5c6b8-x2k4t',
        allowed: true,
        exec: { subresource: 'attach', verb: 'get', transport: 'websocket', container: 'debugger-8xk2p', stdin: true, stdout: true, tty: true, ended_at: '2025-10-19T15:09:58.004512Z' },
      },
    ],
  },
  {
    file: 'constructed/c7_portforward_ws_and_spdy.jsonl',
    mode: 'lines',
    events: 4,
    rows: [
      { auditId: '4f1e0d9c-8b7a-4f6e-4d3c-2b1a0f9e8d99', name: 'db-0', allowed: true, exec: { subresource: 'portforward', verb: 'get', transport: 'websocket', ended_at: '2025-10-20T08:30:11.120003Z', duration_ms: 5411120.002 } },
      { auditId: '5a2f1e0d-9c8b-4a7f-5e4d-3c2b1a0f9eaa', name: 'db-0', allowed: true, source: { client_version: 'v1.29.3' }, exec: { subresource: 'portforward', verb: 'create', transport: 'spdy' } },
    ],
  },
  {
    file: 'constructed/c8_exec_tool_fingerprints.jsonl',
    mode: 'lines',
    events: 8,
    rows: [
      { auditId: '6b3a2f1e-0d9c-4b8a-6f5e-4d3c2b1a0fbb', source: { tool: 'k9s', detected_by: 'command', client_name: 'kubectl' }, exec: { command: ['sh', '-c', 'command -v bash >/dev/null && exec bash || exec sh'] } },
      { auditId: '7c4b3a2f-1e0d-4c9b-7a6f-5e4d3c2b1acc', source: { tool: 'lens', detected_by: 'command' }, exec: { command: ['sh', '-c', 'clear; (bash || ash || sh)'] } },
      { auditId: '8d5c4b3a-2f1e-4d0c-8b7a-6f5e4d3c2bdd', source: { tool: 'kubectl-cp', detected_by: 'command' }, exec: { command: ['tar', 'cf', '-', '/app/config'], stdin: false } },
      { auditId: '9e6d5c4b-3a2f-4e1d-9c8b-7a6f5e4d3cee', source: { tool: 'kubectl-cp', detected_by: 'command' }, exec: { command: ['tar', '-xmf', '-', '-C', '/tmp'], stdin: true } },
    ],
  },
  // The webhook body holds c1 and c2: the same two sessions, with the same fields.
  { file: 'constructed/c9_webhook_eventlist_body.json', mode: 'document', events: 5, rows: [c2Session, c1Session] },
  {
    // Legacy text lines are parsed: the same session as c1, minus what the format does not carry.
    file: 'constructed/c10_legacy_format.log',
    mode: 'lines',
    events: 3,
    rows: [
      {
        auditId: '6b0f8e7e-2d0c-4b8e-9a51-1f0d5c7a3e11',
        resourceKind: 'Pod',
        namespace: 'shop',
        name: 'web-7d9f5c6b8-x2k4t',
        allowed: true,
        actor: { username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'], source_ip: '192.0.2.10' },
        source: kubectl129,
        execExactly: {
          audit_format: 'legacy',
          command: ['/bin/sh'],
          container: 'web',
          stdin: true,
          stdout: true,
          stderr: false,
          tty: true,
          target_type: 'pod',
          subresource: 'exec',
          verb: 'create',
          transport: 'spdy',
          response_code: 101,
          started_at: '2024-05-02T09:15:01.104512Z',
          ended_at: null,
          duration_ms: null,
          stages: ['RequestReceived', 'ResponseStarted', 'ResponseComplete'],
        },
      },
    ],
  },
  // AKS Event Hubs batch: 22 records, properties.log double-encoded; control-plane traffic, no exec.
  { file: 'real/aks_eventhub_batch_sysdig.json', mode: 'document', events: 22, rows: [] },
  { file: 'real/aks_eventhub_single_record_sysdig.json', mode: 'document', events: 1, rows: [] },
  { file: 'real/aks_pretty_event_with_bom_sysdig.json', mode: 'document', events: 1, rows: [] },
  // 2017 events: only `timestamp`, impersonation, many 403s, no exec.
  { file: 'real/audit2rbac_demo.jsonl', mode: 'lines', events: 37, rows: [] },
  {
    file: 'real/falco_attach_pod.jsonl',
    mode: 'lines',
    events: 1,
    rows: [
      {
        auditId: '14933b4e-7b09-4964-af09-b7987367e1ba',
        namespace: 'default',
        name: 'nginx-deployment-7998647bdf-phvq7',
        allowed: true,
        actor: { username: 'minikube-user', source_ip: '192.168.99.1' },
        source: { tool: 'unknown' },
        exec: { subresource: 'attach', verb: 'create', transport: 'spdy', container: 'nginx1', stdin: true, stdout: true, stderr: true, tty: false, ended_at: null, stages: ['ResponseStarted'] },
      },
    ],
  },
  {
    file: 'real/falco_exec_pod.jsonl',
    mode: 'lines',
    events: 1,
    rows: [
      {
        // No apiVersion, legacy `timestamp` next to requestReceivedTimestamp, raw `&`, container= twice.
        auditId: 'ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6',
        namespace: 'default',
        name: 'nginx-deployment-7998647bdf-phvq7',
        allowed: true,
        exec: { command: ['bash'], container: 'nginx1', stdin: true, stdout: true, tty: true, verb: 'create', response_code: 101, started_at: '2018-10-26T13:38:34.867116Z', ended_at: null },
      },
    ],
  },
  {
    file: 'real/falco_k8s_audit_traces_mixed.jsonl',
    mode: 'lines',
    events: 51,
    rows: [
      { auditId: '14933b4e-7b09-4964-af09-b7987367e1ba', exec: { subresource: 'attach' } },
      { auditId: 'ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6', exec: { subresource: 'exec', command: ['bash'] } },
    ],
  },
  // GKE Cloud Audit Logs: another format (no requestURI, stage or code). The pre-filter drops the lines;
  // decoded anyway, each is a counted not-an-event naming GKE.
  // Panther's hand-edited GKE entries: the time inside protoPayload, and neither operation.id nor insertId.
  { file: 'real/panther_gke_exec_testlogs.jsonl', mode: 'lines', events: 0, rows: [], rejected: { 'bad-field': 2 }, decodeRejected: { 'bad-field': 2 } },
];

describe('golden expectations for every audit fixture of ../shared', { skip: sharedSkip }, () => {
  it('covers every fixture file', () => {
    const files = ['constructed', 'real'].flatMap((dir) =>
      readdirSync(fixturesDir + dir)
        .filter((name) => !name.endsWith('.source.txt'))
        .map((name) => `${dir}/${name}`),
    );
    assert.deepEqual(files.sort(), goldens.map((g) => g.file).sort());
  });

  for (const golden of goldens) {
    it(`${golden.file}: ${golden.rows.length} session(s)`, () => {
      const data = readFixture(golden.file);
      const ingested = golden.mode === 'lines' ? ingestLines(data) : ingestDocument(data);
      assertGoldenRows(ingested.rows, golden.rows, golden.file);
      assert.deepEqual(countByReason(ingested.rejected), golden.rejected ?? {}, 'bad input counted while ingesting');

      const units = golden.mode === 'lines' ? splitLines(data).map((l) => l.toString('utf8')) : [data.toString('utf8')];
      const decoded = units.map((text) => decodeAuditText(text));
      assert.equal(decoded.reduce((n, d) => n + d.events.length, 0), golden.events, 'events decoded');
      assert.deepEqual(countByReason(decoded.flatMap((d) => d.rejected)), golden.decodeRejected ?? {}, 'bad input when decoding everything');
    });
  }

  it('tells the GKE format apart when it is decoded', () => {
    const line = splitLines(readFixture('real/panther_gke_exec_testlogs.jsonl'))[0]!.toString();
    assert.match(decodeAuditText(line).rejected[0]!.detail, /GKE Cloud Audit Logs/);
  });
});
