/**
 * From one classified audit event (one stage) to the session row it contributes. Several stages of the
 * same auditID give several partial rows that mergeSessions() folds into one.
 */
import type { AuditEvent } from './event.ts';
import { classifyRequest } from './classify.ts';
import { isAllowedCode, sessionId, type ExecMetadata, type SessionRow } from './session.ts';
import { millisBetween, normalizeTimestamp } from './time.ts';

export interface ExtractContext {
  cluster: string;
}

/** The query string of requestURI, decoded with form rules (`+` is a space): kubectl form-encodes argv. */
function queryOf(requestURI: string | undefined): URLSearchParams {
  const at = requestURI?.indexOf('?') ?? -1;
  return new URLSearchParams(at === -1 || !requestURI ? '' : requestURI.slice(at + 1));
}

const isTrue = (value: string | null) => value === 'true' || value === '1';

/** The session row for one stage of an interactive-access event, or undefined when it is not one. */
export function extractSession(event: AuditEvent, context: ExtractContext): SessionRow | undefined {
  const kind = classifyRequest(event);
  if (!kind) return undefined;
  const ref = event.objectRef!;
  const query = queryOf(event.requestURI);
  const startedAt =
    normalizeTimestamp(event.requestReceivedTimestamp) ?? normalizeTimestamp(event.timestamp) ?? normalizeTimestamp(event.stageTimestamp);
  if (!startedAt) return undefined;
  const stage = event.stage ?? 'ResponseComplete';
  const finished = stage === 'ResponseComplete' || stage === 'Panic';
  const endedAt = finished ? normalizeTimestamp(event.stageTimestamp) ?? null : null;
  const code = event.responseStatus?.code;
  const execMetadata: ExecMetadata = {
    command: query.getAll('command'),
    container: query.get('container') ?? undefined,
    stdin: isTrue(query.get('stdin')),
    tty: isTrue(query.get('tty')),
    target_type: 'pod',
    subresource: ref.subresource,
    verb: event.verb,
    response_code: code,
    started_at: startedAt,
    ended_at: endedAt,
    duration_ms: endedAt ? Math.max(0, millisBetween(startedAt, endedAt)) : null,
    stages: [stage],
  };
  const sourceIPs = event.sourceIPs ?? [];
  return {
    id: sessionId(context.cluster, event.auditID),
    cluster: context.cluster,
    auditId: event.auditID,
    timestamp: startedAt,
    operation: 'EXEC',
    resourceKind: 'Pod',
    namespace: ref.namespace ?? '',
    name: ref.name ?? '',
    actor: { username: event.user?.username ?? '', groups: event.user?.groups, source_ip: sourceIPs.at(-1) },
    source: { tool: 'unknown', user_agent: event.userAgent },
    allowed: isAllowedCode(code),
    execMetadata,
  };
}
