/**
 * From one classified audit event (one stage) to the session row it contributes. Several stages of the
 * same auditID give several partial rows that mergeSessions() folds into one.
 */
import type { AuditEvent } from './event.ts';
import { LEGACY_FORMAT_KEY } from './event.ts';
import { CLOUD_AUDIT_LOG_KEY } from './gke.ts';
import { classifyRequest, type AccessKind, type NodeProxyMode } from './classify.ts';
import { kubeletRequestOf, nodeNameOf } from './kubelet.ts';
import { defaultRedaction, parseRedaction, redactArgv, type Redaction } from './redact.ts';
import { queryOf } from './request-uri.ts';
import { sanitizeSessionRow, type SanitizeReason } from './sanitize.ts';
import type { Actor, ExecMetadata, Source } from './session-documents.ts';
import { isAllowedCode, requestKeyOf, sessionId, type SessionRow } from './session.ts';
import { detectTool } from './tool.ts';
import { millisBetween, normalizeTime } from '../time/timestamps.ts';

export interface ExtractContext {
  /** Cluster name stamped on every row (part of the session id). */
  cluster: string;
  /** Which nodes/proxy requests are sessions (default `interactive`: kubelet exec, run, attach, portForward). */
  nodeProxy?: NodeProxyMode;
  /** Secrets hidden in commands before anything is stored or logged (default: the built-in set). */
  redaction?: Redaction;
}

/** Pod exec options are parsed as Go booleans (strconv.ParseBool); the kubelet's as `1`. */
const isTrue = (value: string | null) => value !== null && /^(1|t|true)$/i.test(value);
const flagOf = (query: URLSearchParams, name: string) => (query.has(name) ? isTrue(query.get(name)) : false);

const podSubresources: Partial<Record<AccessKind, true>> = { 'pod-exec': true, 'pod-attach': true, 'pod-portforward': true };

/** One stage of a session, storable, and what had to be repaired to make it so (src/audit/sanitize.ts). */
export interface ExtractedStage {
  row: SessionRow;
  repaired: SanitizeReason[];
}

/** The session row for one stage of an interactive-access event, or undefined when it is not one. */
export function extractSession(event: AuditEvent, context: ExtractContext): SessionRow | undefined {
  return extractStage(event, context)?.row;
}

/**
 * One stage of an interactive-access event as a storable session row, or undefined when the event is
 * not interactive access: extracted, sanitised, then identified (id and request key come from the
 * sanitised fields, which are what is stored).
 */
export function extractStage(event: AuditEvent, context: ExtractContext): ExtractedStage | undefined {
  const kind = classifyRequest(event, context.nodeProxy ?? 'interactive');
  if (!kind) return undefined;
  const redaction = context.redaction ?? defaultRedaction;
  const ref = event.objectRef!;
  const query = queryOf(event.requestURI);
  // The schema guarantees one of these is a valid time.
  const started = (normalizeTime(event.requestReceivedTimestamp) ?? normalizeTime(event.timestamp) ?? normalizeTime(event.stageTimestamp))!;
  const startedAt = started.value;
  const stage = event.stage ?? 'ResponseComplete';
  const finished = stage === 'ResponseComplete' || stage === 'Panic';
  const ended = finished ? normalizeTime(event.stageTimestamp) : undefined;
  const endedAt = ended?.value ?? null;
  const code = event.responseStatus?.code;
  const annotations = event.annotations ?? {};

  const execMetadata: ExecMetadata = {
    target_type: kind === 'node-proxy' ? 'node' : 'pod',
    subresource: ref.subresource,
    verb: event.verb,
    response_code: code,
    response_reason: event.responseStatus?.reason || undefined,
    response_message: event.responseStatus?.message || undefined,
    decision: annotations['authorization.k8s.io/decision'],
    reason: annotations['authorization.k8s.io/reason'],
    started_at: startedAt,
    ended_at: endedAt,
    duration_ms: endedAt ? Math.max(0, millisBetween(startedAt, endedAt)) : null,
    stages: [stage],
  };
  if (event[LEGACY_FORMAT_KEY] === true) execMetadata.audit_format = 'legacy';
  if (event[CLOUD_AUDIT_LOG_KEY] === true) {
    execMetadata.audit_format = 'gke-cloud-audit-log';
    // A Cloud Audit Logs entry names no stage; it is not the apiserver's ResponseComplete.
    execMetadata.stages = [];
  }

  let resourceKind: SessionRow['resourceKind'] = 'Pod';
  let namespace = ref.namespace ?? '';
  let name = ref.name ?? '';
  // A Cloud Audit Logs entry has no query string: no command, container or stream flags to read.
  const hasQuery = event[CLOUD_AUDIT_LOG_KEY] !== true;
  if (kind === 'pod-exec' || kind === 'pod-attach') {
    if (hasQuery) {
      if (kind === 'pod-exec') execMetadata.command = redactArgv(query.getAll('command'), redaction);
      execMetadata.container = query.get('container') ?? undefined;
      execMetadata.stdin = flagOf(query, 'stdin');
      execMetadata.stdout = flagOf(query, 'stdout');
      execMetadata.stderr = flagOf(query, 'stderr');
      execMetadata.tty = flagOf(query, 'tty');
    }
  } else if (kind === 'pod-portforward') {
    const ports = query.getAll('ports');
    if (ports.length) execMetadata.ports = ports;
  } else if (kind === 'pod-debug') {
    Object.assign(execMetadata, debugContainerOf(event.requestObject, redaction));
  } else {
    resourceKind = 'Node';
    namespace = '';
    name = nodeNameOf(ref.name ?? '');
    execMetadata.node_name = name || undefined;
    const kubelet = event.requestURI ? kubeletRequestOf(event.requestURI) : undefined;
    if (kubelet) {
      execMetadata.kubelet_action = kubelet.action;
      execMetadata.kubelet_path = kubelet.path;
      execMetadata.target = kubelet.target ? { ...kubelet.target } : undefined;
      execMetadata.container = kubelet.target?.container;
      if (hasQuery && kubelet.action === 'run') {
        // kubelet handleRun: `strings.Split(cmd, " ")`.
        const cmd = query.get('cmd');
        if (cmd !== null) execMetadata.command = redactArgv(cmd.split(' '), redaction);
      } else if (hasQuery && (kubelet.action === 'exec' || kubelet.action === 'attach')) {
        if (kubelet.action === 'exec') execMetadata.command = redactArgv(query.getAll('command'), redaction);
        execMetadata.stdin = flagOf(query, 'input');
        execMetadata.stdout = flagOf(query, 'output');
        execMetadata.stderr = flagOf(query, 'error');
        execMetadata.tty = flagOf(query, 'tty');
      }
    }
  }
  if (podSubresources[kind]) {
    if (event.verb === 'get') execMetadata.transport = 'websocket';
    else if (event.verb === 'create') execMetadata.transport = 'spdy';
  }

  const tool = detectTool(event.userAgent, execMetadata.command);
  // A literal, not a spread of `tool`: the spread was a fifth of this function's own time.
  const source: Source = {
    tool: tool.tool,
    client_name: tool.client_name,
    client_version: tool.client_version,
    client_platform: tool.client_platform,
    detected_by: tool.detected_by,
    user_agent: event.userAgent,
  };
  const extracted: SessionRow = {
    id: '',
    cluster: context.cluster,
    auditId: event.auditID,
    requestKey: '',
    timestamp: startedAt,
    operation: 'EXEC',
    resourceKind,
    namespace,
    name,
    actor: actorOf(event),
    source: withoutUndefined(source),
    allowed: isAllowedCode(code),
    execMetadata: withoutUndefined(execMetadata),
  };
  const { row, reasons } = sanitizeSessionRow(extracted, started.clamped || Boolean(ended?.clamped));
  row.id = sessionId(row.cluster, row.auditId);
  row.requestKey = requestKeyOf(row);
  return { row, repaired: reasons };
}

const serviceAccountUser = /^system:serviceaccount:([^:]+):([^:]+)$/;

function actorOf(event: AuditEvent): Actor {
  const user = event.user ?? {};
  const sourceIPs = event.sourceIPs ?? [];
  const sa = serviceAccountUser.exec(user.username ?? '');
  const extra = user.extra && Object.keys(user.extra).length ? user.extra : undefined;
  return withoutUndefined({
    username: user.username ?? '',
    uid: user.uid,
    groups: user.groups ?? undefined,
    service_account: sa ? `${sa[1]}/${sa[2]}` : undefined,
    impersonated_user: event.impersonatedUser?.username,
    impersonated_groups: event.impersonatedUser?.groups ?? undefined,
    // Only the last entry is written by the apiserver itself; earlier ones come from X-Forwarded-For.
    source_ip: sourceIPs.at(-1),
    source_ips: sourceIPs.length ? [...sourceIPs] : undefined,
    extra,
  });
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const stringsOf = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * The ephemeral container a kubectl debug request adds. PATCH (>= 1.23): a strategic-merge patch
 * `{spec: {ephemeralContainers: [...]}}` holding only the new container in full (existing ones appear at
 * most by name, under `$setElementOrder`); PUT (1.16-1.22): an EphemeralContainers object
 * `{ephemeralContainers: [...]}` holding all of them, the new one last. Present at Request level only.
 */
function debugContainerOf(requestObject: unknown, redaction: Redaction): Partial<ExecMetadata> {
  if (!isRecord(requestObject)) return {};
  const list = isRecord(requestObject.spec) ? requestObject.spec.ephemeralContainers : requestObject.ephemeralContainers;
  if (!Array.isArray(list)) return {};
  const containers = list.filter(isRecord).filter((c) => typeof c.name === 'string' && c.name);
  const added = containers.filter((c) => typeof c.image === 'string').at(-1) ?? containers.at(-1);
  if (!added) return {};
  const command = [...stringsOf(added.command), ...stringsOf(added.args)];
  return withoutUndefined({
    container: added.name as string,
    ephemeral_container: withoutUndefined({
      name: added.name as string,
      image: typeof added.image === 'string' ? added.image : undefined,
      target_container: typeof added.targetContainerName === 'string' ? added.targetContainerName : undefined,
    }),
    command: command.length ? redactArgv(command, redaction) : undefined,
    stdin: typeof added.stdin === 'boolean' ? added.stdin : undefined,
    tty: typeof added.tty === 'boolean' ? added.tty : undefined,
  });
}

function withoutUndefined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  // Only object literals of this file come here: no inherited enumerable keys, no `__proto__` key.
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = v;
  }
  return out as T;
}

/** The context the processor's flags ask for (`-cluster`, `-node-proxy`, `-redact`), for every source. */
export function extractContextFromFlags(flags: { cluster: string; 'node-proxy': NodeProxyMode; redact: readonly string[] }): ExtractContext {
  return { cluster: flags.cluster, nodeProxy: flags['node-proxy'], redaction: parseRedaction(flags.redact) };
}
