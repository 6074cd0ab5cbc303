/**
 * Audit events as kube-apiserver writes them (audit.k8s.io/v1, Metadata level), built in code for tests
 * that need many variants of one request: an exec into a pod, with every stage.
 */

export interface ExecRequest {
  auditID: string;
  user?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  command?: string[];
  /** 101 (upgraded) or 403 (forbidden). */
  code?: number;
  /** requestReceivedTimestamp. */
  received?: string;
  /** stageTimestamp of ResponseComplete. */
  completed?: string;
  verb?: 'create' | 'get';
  userAgent?: string;
}

/** The query string kubectl sends: repeated `command=`, form-encoded. */
export function execQuery(command: readonly string[], container: string): string {
  const query = new URLSearchParams();
  for (const arg of command) query.append('command', arg);
  query.append('container', container);
  query.append('stdin', 'true');
  query.append('stdout', 'true');
  query.append('tty', 'true');
  return query.toString();
}

/** The stages of one exec request: ResponseStarted (101 only) and ResponseComplete. */
export function execStages(request: ExecRequest): Record<string, unknown>[] {
  const namespace = request.namespace ?? 'prod';
  const pod = request.pod ?? 'db-0';
  const container = request.container ?? 'main';
  const code = request.code ?? 101;
  const received = request.received ?? '2025-10-19T14:41:05.123456Z';
  const base = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: request.auditID,
    requestURI: `/api/v1/namespaces/${namespace}/pods/${pod}/exec?${execQuery(request.command ?? ['sh'], container)}`,
    verb: request.verb ?? 'create',
    user: { username: request.user ?? 'alice@example.com', groups: ['system:authenticated'] },
    sourceIPs: ['192.0.2.10'],
    userAgent: request.userAgent ?? 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
    objectRef: { resource: 'pods', namespace, name: pod, apiVersion: 'v1', subresource: 'exec' },
    requestReceivedTimestamp: received,
    annotations: { 'authorization.k8s.io/decision': code === 403 ? 'forbid' : 'allow', 'authorization.k8s.io/reason': '' },
  };
  const completed = { ...base, stage: 'ResponseComplete', responseStatus: { metadata: {}, code }, stageTimestamp: request.completed ?? received.replace(/\d\d\.\d+Z$/, '59.000000Z') };
  if (code !== 101) return [completed];
  return [{ ...base, stage: 'ResponseStarted', responseStatus: { metadata: {}, code }, stageTimestamp: received }, completed];
}

/** Events as JSON lines (what the log backend writes). */
export const jsonLines = (events: readonly unknown[]) => events.map((e) => JSON.stringify(e)).join('\n') + '\n';
