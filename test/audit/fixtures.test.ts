/**
 * Golden expectations for every audit fixture of our own (test/fixtures/audit, described in
 * test/fixtures/README.md): the sessions each file yields (rows and their key fields), the events it
 * decodes to, and the bad input it counts. The values are what the apiserver's behaviour
 * (../shared/reference/kubernetes-audit.md) says a user must see for each scenario.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeAuditText } from '../../src/audit/decode.ts';
import { assertGoldenRows, countByReason, fixturesDir, ingestDocument, ingestLines, readFixture, splitLines, type ExpectedSession } from './support.ts';

type Expected = ExpectedSession;

interface Golden {
  file: string;
  /** `lines`: one event per line, through the pre-filter; `document`: the whole file is one body. */
  mode: 'lines' | 'document';
  /** Audit events the file decodes to (every line or the document, without the pre-filter). */
  events: number;
  rows: Expected[];
}

const NS = 'payments';
const CHECKOUT = 'checkout-5f7b9c8d6-q2w9z';
const opsAdmin = { username: 'ops-admin', groups: ['ops', 'system:authenticated'], source_ip: '203.0.113.24', source_ips: ['203.0.113.24'] };
const opsReason = 'RBAC: allowed by ClusterRoleBinding "ops-admins" of ClusterRole "cluster-admin" to Group "ops"';
const oncallReason = 'RBAC: allowed by RoleBinding "oncall-exec/payments" of Role "exec" to Group "payments-oncall"';
const kubectl129 = { tool: 'kubectl', detected_by: 'user-agent', client_name: 'kubectl', client_version: 'v1.29.4', client_platform: 'linux/amd64', user_agent: 'kubectl/v1.29.4 (linux/amd64) kubernetes/55fb0a4' } as const;
const kubectl133 = { tool: 'kubectl', detected_by: 'user-agent', client_name: 'kubectl', client_version: 'v1.33.2', client_platform: 'darwin/arm64' } as const;

/** kubectl 1.29 (SPDY: POST, verb create), an interactive shell, every stage logged. */
const spdySession: Expected = {
  auditId: '3f6c2a9e-5b1d-4c7a-8e2f-9d0b1a4c6e01',
  resourceKind: 'Pod',
  namespace: NS,
  name: CHECKOUT,
  allowed: true,
  actor: opsAdmin,
  source: kubectl129,
  execExactly: {
    command: ['/bin/bash'],
    container: 'app',
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
    reason: opsReason,
    started_at: '2025-03-11T08:02:17.412803Z',
    ended_at: '2025-03-11T08:09:03.095116Z',
    duration_ms: 405682.313,
    stages: ['RequestReceived', 'ResponseStarted', 'ResponseComplete'],
  },
};

/** kubectl 1.33 over WebSocket (GET, verb get), not interactive; the policy omitted RequestReceived. */
const websocketSession: Expected = {
  auditId: 'a8d41f07-2c6e-4b93-b5a0-7e1c9f3d2b02',
  resourceKind: 'Pod',
  namespace: NS,
  name: CHECKOUT,
  allowed: true,
  // Only the last source IP is not client-controlled: it is the one kept as the source.
  actor: { username: 'maria@corp.example', source_ip: '10.0.12.7', source_ips: ['198.51.100.40', '10.0.12.7'] },
  source: kubectl133,
  exec: {
    command: ['sh', '-c', 'ls -l /srv/data | wc -l'],
    container: 'app',
    stdin: false,
    stdout: true,
    stderr: true,
    tty: false,
    verb: 'get',
    transport: 'websocket',
    response_code: 101,
    decision: 'allow',
    reason: oncallReason,
    started_at: '2025-03-11T08:15:40.220931Z',
    ended_at: '2025-03-11T08:15:41.503877Z',
    duration_ms: 1282.946,
    stages: ['ResponseStarted', 'ResponseComplete'],
  },
};

const aksAdmin = { username: 'aks-admin@corp.example', source_ip: '20.50.12.7' };

const goldens: Golden[] = [
  { file: 'exec-spdy-create-all-stages.jsonl', mode: 'lines', events: 3, rows: [spdySession] },
  { file: 'exec-websocket-get.jsonl', mode: 'lines', events: 2, rows: [websocketSession] },
  {
    // One `kubectl exec` refused twice: WebSocket first (get), then kubectl's SPDY fallback (create).
    file: 'exec-forbidden-then-spdy-fallback.jsonl',
    mode: 'lines',
    events: 4,
    rows: [
      {
        auditId: 'c2e7b5d1-9f04-4a6b-8c3e-1b5d7f9a0c03',
        namespace: NS,
        name: 'ledger-0',
        allowed: false,
        actor: { username: 'intern@corp.example', source_ip: '198.51.100.77' },
        exec: {
          verb: 'get', transport: 'websocket', response_code: 403, response_reason: 'Forbidden', decision: 'forbid', reason: '', command: ['bash'],
          response_message: 'pods "ledger-0" is forbidden: User "intern@corp.example" cannot get resource "pods/exec" in API group "" in the namespace "payments"',
          started_at: '2025-04-02T13:45:09.118204Z', ended_at: '2025-04-02T13:45:09.120871Z', stages: ['RequestReceived', 'ResponseComplete'],
        },
      },
      {
        auditId: 'd4a9c3e2-0b15-4c7d-9e4f-2c6e8a0b1d04',
        namespace: NS,
        name: 'ledger-0',
        allowed: false,
        actor: { username: 'intern@corp.example' },
        exec: { verb: 'create', transport: 'spdy', response_code: 403, decision: 'forbid', command: ['bash'], container: 'ledger', started_at: '2025-04-02T13:45:09.131557Z' },
      },
    ],
  },
  {
    // 1.35: RBAC allowed `get`, the synthetic `create` check refused: the code decides, the annotation is kept.
    file: 'exec-websocket-allowed-get-denied-create-1.35.jsonl',
    mode: 'lines',
    events: 4,
    rows: [
      {
        auditId: 'e6b1d5f3-1c26-4d8e-af50-3d7f9b1c2e05',
        allowed: false,
        actor: { username: 'auditor@corp.example', source_ip: '192.0.2.61' },
        source: { tool: 'kubectl', client_version: 'v1.35.0', client_platform: 'darwin/arm64' },
        exec: {
          verb: 'get', transport: 'websocket', response_code: 403, decision: 'allow',
          reason: 'RBAC: allowed by RoleBinding "auditors/payments" of Role "pod-reader" to Group "auditors"',
          response_message: 'pods "ledger-0" is forbidden: User "auditor@corp.example" cannot create resource "pods/exec" in API group "" in the namespace "payments"',
        },
      },
      { auditId: 'f8c3e7a5-2d37-4e9f-b061-4e8a0c2d3f06', allowed: false, exec: { verb: 'create', transport: 'spdy', response_code: 403, decision: 'forbid' } },
    ],
  },
  {
    file: 'nodes-proxy-exec-and-run.jsonl',
    mode: 'lines',
    events: 4,
    rows: [
      {
        auditId: '17e4a2c8-3f48-4b0a-9c72-5f9b1d3e4a07',
        resourceKind: 'Node',
        namespace: '',
        name: 'worker-2',
        allowed: true,
        actor: {
          username: 'system:serviceaccount:observability:node-debugger',
          uid: '9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f',
          service_account: 'observability/node-debugger',
          source_ip: '10.244.3.17',
        },
        source: { tool: 'unknown', client_name: 'Go-http-client', user_agent: 'Go-http-client/1.1' },
        exec: {
          target_type: 'node',
          node_name: 'worker-2',
          target: { namespace: 'kube-system', pod: 'coredns-7db6d8ff4d-9xq2m', container: 'coredns' },
          container: 'coredns',
          kubelet_action: 'exec',
          kubelet_path: '/exec/kube-system/coredns-7db6d8ff4d-9xq2m/coredns',
          command: ['cat', '/etc/resolv.conf'],
          stdin: false,
          stdout: true,
          stderr: true,
          tty: false,
          subresource: 'proxy',
          verb: 'get',
          response_code: 101,
          ended_at: '2025-05-20T22:04:51.388402Z',
        },
      },
      {
        // The object name keeps `:10250`; node_name does not. /run takes one cmd= string.
        auditId: '28f5b3d9-4059-4c1b-8d83-6a0c2e4f5b08',
        resourceKind: 'Node',
        name: 'worker-2',
        allowed: true,
        source: { tool: 'unknown', client_name: 'curl', client_version: '8.7.1' },
        exec: {
          target_type: 'node',
          node_name: 'worker-2',
          target: { namespace: NS, pod: CHECKOUT, container: 'app' },
          kubelet_action: 'run',
          kubelet_path: `/run/${NS}/${CHECKOUT}/app`,
          command: ['cat', '/etc/shadow'],
          verb: 'create',
          response_code: 200,
        },
      },
    ],
  },
  {
    file: 'debug-ephemeral-container-then-attach.jsonl',
    mode: 'lines',
    events: 3,
    rows: [
      {
        auditId: '39a6c4e0-516a-4d2c-9e94-7b1d3f5a6c09',
        resourceKind: 'Pod',
        namespace: NS,
        name: CHECKOUT,
        allowed: true,
        exec: {
          subresource: 'ephemeralcontainers',
          verb: 'patch',
          container: 'debugger-4kq7n',
          ephemeral_container: { name: 'debugger-4kq7n', image: 'busybox:1.36', target_container: 'app' },
          stdin: true,
          tty: true,
          response_code: 200,
          stages: ['ResponseComplete'],
        },
      },
      {
        auditId: '4ab7d5f1-627b-4e3d-8fa5-8c2e4a6b7d10',
        name: CHECKOUT,
        allowed: true,
        exec: { subresource: 'attach', verb: 'get', transport: 'websocket', container: 'debugger-4kq7n', stdin: true, stdout: true, tty: true, ended_at: '2025-03-11T09:41:27.880143Z' },
      },
    ],
  },
  {
    file: 'portforward-websocket-and-spdy.jsonl',
    mode: 'lines',
    events: 4,
    rows: [
      { auditId: '5bc8e6a2-738c-4f4e-90b6-9d3f5b7c8e11', name: 'postgres-0', allowed: true, exec: { subresource: 'portforward', verb: 'get', transport: 'websocket', ended_at: '2025-06-01T08:30:00.250001Z', duration_ms: 5399750.001 } },
      { auditId: '6cd9f7b3-849d-4a5f-a1c7-0e4a6c8d9f12', name: 'postgres-0', allowed: true, source: { client_version: 'v1.28.9' }, exec: { subresource: 'portforward', verb: 'create', transport: 'spdy' } },
    ],
  },
  {
    file: 'exec-tool-fingerprints.jsonl',
    mode: 'lines',
    events: 12,
    rows: [
      { auditId: '7dea08c4-95ae-4b60-b2d8-1f5b7d9eaf13', source: { tool: 'k9s', detected_by: 'command', client_name: 'kubectl' }, exec: { command: ['sh', '-c', 'command -v bash >/dev/null && exec bash || exec sh'], tty: true } },
      { auditId: '8efb19d5-a6bf-4c71-83e9-2a6c8eafb014', source: { tool: 'lens', detected_by: 'command' }, exec: { command: ['sh', '-c', 'clear; (bash || ash || sh)'] } },
      { auditId: '9f0c2ae6-b7c0-4d82-94fa-3b7d9fb0c115', source: { tool: 'kubectl-cp', detected_by: 'command' }, exec: { command: ['tar', 'cf', '-', '/srv/data/report.csv'], stdin: false } },
      { auditId: 'a01d3bf7-c8d1-4e93-a50b-4c8eaa1d2216', source: { tool: 'kubectl-cp', detected_by: 'command' }, exec: { command: ['tar', '-xmf', '-', '-C', '/tmp/upload'], stdin: true } },
      { auditId: 'b12e4c08-d9e2-4fa4-b61c-5d9fbb2e3317', source: { tool: 'kubectl', detected_by: 'user-agent', client_name: 'kubectl.exe', client_platform: 'windows/amd64' }, exec: { command: ['/bin/sh'] } },
      { auditId: 'c23f5d19-eaf3-4ab5-872d-6eaacc3f4418', source: { tool: 'oc', detected_by: 'user-agent', client_version: '4.16.0' }, exec: { command: ['bash'] } },
    ],
  },
  // Control-plane traffic, a pods/log follow, an eviction, a binding, a secret read: none of it is interactive
  // access, though pods subresources and the word "exec" appear in it.
  { file: 'ordinary-requests.jsonl', mode: 'lines', events: 11, rows: [] },
  // The webhook body holds the WebSocket and SPDY sessions and a `list pods` between them: the same two
  // sessions, with the same fields, and nothing for the list.
  { file: 'webhook-eventlist-body.json', mode: 'document', events: 6, rows: [websocketSession, spdySession] },
  {
    // Legacy text lines are parsed: the SPDY session again, minus what the format does not carry.
    file: 'legacy-format.log',
    mode: 'lines',
    events: 3,
    rows: [
      {
        auditId: '3f6c2a9e-5b1d-4c7a-8e2f-9d0b1a4c6e01',
        resourceKind: 'Pod',
        namespace: NS,
        name: CHECKOUT,
        allowed: true,
        actor: { username: 'ops-admin', groups: ['ops', 'system:authenticated'], source_ip: '203.0.113.24' },
        source: kubectl129,
        execExactly: {
          audit_format: 'legacy',
          command: ['/bin/bash'],
          container: 'app',
          stdin: true,
          stdout: true,
          stderr: false,
          tty: true,
          target_type: 'pod',
          subresource: 'exec',
          verb: 'create',
          transport: 'spdy',
          response_code: 101,
          started_at: '2025-03-11T08:02:17.412803Z',
          ended_at: null,
          duration_ms: null,
          stages: ['RequestReceived', 'ResponseStarted', 'ResponseComplete'],
        },
      },
    ],
  },
  {
    // AKS through Event Hubs: each event a JSON string in records[].properties.log, across both audit categories.
    file: 'aks-eventhub-records.json',
    mode: 'document',
    events: 3,
    rows: [
      {
        auditId: 'e4517f3b-0c15-4cd7-a941-80ceee51661a',
        namespace: NS,
        name: CHECKOUT,
        allowed: true,
        actor: aksAdmin,
        exec: { command: ['/bin/sh', '-c', 'env | grep -i token'], transport: 'spdy', stages: ['ResponseStarted', 'ResponseComplete'], ended_at: '2025-08-19T12:00:06.015550Z', duration_ms: 715.15 },
      },
    ],
  },
  {
    // The same envelope pretty-printed after a UTF-8 BOM.
    file: 'aks-eventhub-records-bom.json',
    mode: 'document',
    events: 2,
    rows: [
      {
        auditId: '0b1c2d3e-4f50-4617-a8b9-cadbecfd0e1f',
        namespace: NS,
        name: 'ledger-0',
        allowed: true,
        actor: aksAdmin,
        exec: { subresource: 'attach', verb: 'get', transport: 'websocket', container: 'ledger', stdout: true, stderr: true, stdin: false, ended_at: '2025-08-19T12:07:30.500300Z' },
      },
    ],
  },
];

describe('golden expectations for every audit fixture of our own', () => {
  it('covers every fixture file', () => {
    assert.deepEqual(readdirSync(fixturesDir).sort(), goldens.map((g) => g.file).sort());
  });

  for (const golden of goldens) {
    it(`${golden.file}: ${golden.rows.length} session(s)`, () => {
      const data = readFixture(golden.file);
      const ingested = golden.mode === 'lines' ? ingestLines(data) : ingestDocument(data);
      assertGoldenRows(ingested.rows, golden.rows, golden.file);
      assert.deepEqual(countByReason(ingested.rejected), {}, 'no bad input in our fixtures');

      const units = golden.mode === 'lines' ? splitLines(data).map((l) => l.toString('utf8')) : [data.toString('utf8')];
      const decoded = units.map((text) => decodeAuditText(text));
      assert.equal(decoded.reduce((n, d) => n + d.events.length, 0), golden.events, 'events decoded');
      assert.deepEqual(countByReason(decoded.flatMap((d) => d.rejected)), {}, 'bad input when decoding everything');
    });
  }
});
