/**
 * The envelopes one audit event travels in, unwrapped to the event itself before validation
 * (../shared/reference/kubernetes-audit.md "Managed clouds"). Shared by every source through decode.ts:
 * a file line, a directory's exports and a webhook body meet the same envelopes. Pure.
 *
 * - the apiserver's own: a bare Event, an EventList (`items`), a JSON array;
 * - AKS diagnostic settings: `{"records":[...]}` or one record, `properties.log` a JSON string or object;
 * - EKS CloudWatch Logs: a log event (`filter-log-events`: `logStreamName`, `timestamp`, `message`), the
 *   command's whole output (`{"events":[...]}`), a subscription `DATA_MESSAGE` (`logEvents[].message`);
 *   `CONTROL_MESSAGE` is CloudWatch checking the destination: no events, not bad input. An export to S3
 *   writes `<RFC 3339 time> <message>` lines (exportTimePrefixLength);
 * - GKE Cloud Audit Logs: a `LogEntry` with `protoPayload` (gke.ts maps it), alone, in a
 *   `gcloud logging read --format=json` array, or base64 in a Pub/Sub push (`message.data`: a webhook
 *   body; the line pre-filter cannot see inside base64, so a file of pushes is not read);
 * - Elastic/ECS documents: `{"kubernetes":{"audit":<event>}}`.
 *
 * CloudWatch cuts a message over 256 KiB and ends it with `[Truncated...]`: counted as `truncated`.
 */
import { eventFromCloudAuditLogEntry } from './gke.ts';

export type EnvelopeRejectReason = 'not-json' | 'not-an-event' | 'bad-field' | 'truncated';

export interface EnvelopeRejected {
  reason: EnvelopeRejectReason;
  detail: string;
}

const BOM = '\uFEFF';
/** Envelopes nest at most: array → AKS records → properties.log → EventList → items (and Pub/Sub → LogEntry). */
const MAX_ENVELOPE_DEPTH = 6;
const TRUNCATED_MARK = '[Truncated...]';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function describeJsonType(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Whether text (a line, a message) ends with CloudWatch's cut mark, ignoring trailing whitespace. */
export function endsTruncated(text: string): boolean {
  return text.trimEnd().endsWith(TRUNCATED_MARK);
}

// CloudWatch export to S3: `2024-10-29T12:21:44.189Z {"kind":"Event",...}`.
const exportTimePrefix = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2}) (?=[{[])/;

/** Length of a CloudWatch S3-export `<RFC 3339 time> ` prefix in front of JSON, or 0. */
export function exportTimePrefixLength(text: string): number {
  const first = text.charCodeAt(0);
  if (first < 0x30 || first > 0x39) return 0;
  return exportTimePrefix.exec(text)?.[0].length ?? 0;
}

/** The candidate events inside a parsed value; refusals go to `rejected`. */
export function* unwrapEnvelope(value: unknown, rejected: EnvelopeRejected[], depth = 0): Generator<unknown> {
  if (depth > MAX_ENVELOPE_DEPTH) {
    yield value;
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) yield* unwrapEnvelope(item, rejected, depth + 1);
    return;
  }
  if (!isObject(value)) {
    yield value;
    return;
  }
  // Webhook body: {"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[...]}.
  if (value.kind === 'EventList' || (Array.isArray(value.items) && !('auditID' in value))) {
    if (Array.isArray(value.items)) yield* unwrapEnvelope(value.items, rejected, depth + 1);
    // `"items": null` is how Go writes an empty list; anything else is not a list of events.
    else if (value.items !== null && value.items !== undefined) rejected.push({ reason: 'not-an-event', detail: `an EventList whose items is ${describeJsonType(value.items)}, not an array` });
    return;
  }
  if ('auditID' in value) {
    yield value;
    return;
  }
  if (Array.isArray(value.records)) {
    for (const record of value.records) yield* unwrapEnvelope(record, rejected, depth + 1);
    return;
  }
  if (isObject(value.properties) && 'log' in value.properties) {
    yield* unwrapAksRecord(value.properties.log, rejected, depth);
    return;
  }
  if (typeof value.messageType === 'string') {
    yield* unwrapSubscription(value, rejected, depth);
    return;
  }
  if (typeof value.message === 'string' && ('logStreamName' in value || 'eventId' in value || 'ingestionTime' in value)) {
    if (isAuditStream(value.logStreamName)) yield* embedded(value.message, 'message', rejected, depth);
    return;
  }
  // `aws logs filter-log-events --output json`: the command's whole answer.
  if (Array.isArray(value.events) && ('searchedLogStreams' in value || 'nextToken' in value || value.events.every((e) => isObject(e) && typeof e.message === 'string'))) {
    yield* unwrapEnvelope(value.events, rejected, depth + 1);
    return;
  }
  if (isObject(value.protoPayload)) {
    const converted = eventFromCloudAuditLogEntry(value);
    if ('event' in converted) yield converted.event;
    else if (converted.rejected) rejected.push(converted.rejected);
    return;
  }
  // Pub/Sub push: {"message":{"data":"<base64 LogEntry>","messageId":...},"subscription":"projects/..."}.
  if (isObject(value.message) && typeof value.message.data === 'string' && typeof value.subscription === 'string') {
    yield* embedded(Buffer.from(value.message.data, 'base64').toString('utf8'), 'message.data', rejected, depth);
    return;
  }
  if (isObject(value.kubernetes) && isObject(value.kubernetes.audit)) {
    yield* unwrapEnvelope(value.kubernetes.audit, rejected, depth + 1);
    return;
  }
  yield value;
}

/** EKS control-plane log groups also hold the apiserver's, authenticator's and scheduler's text logs. */
function isAuditStream(stream: unknown): boolean {
  return typeof stream !== 'string' || stream.startsWith('kube-apiserver-audit');
}

/** CloudWatch Logs subscription delivery (Firehose, Lambda, Kinesis). */
function* unwrapSubscription(value: Record<string, unknown>, rejected: EnvelopeRejected[], depth: number): Generator<unknown> {
  // CloudWatch's test that the destination is reachable: nothing in it.
  if (value.messageType === 'CONTROL_MESSAGE') return;
  if (value.messageType !== 'DATA_MESSAGE' || !Array.isArray(value.logEvents)) {
    rejected.push({ reason: 'not-an-event', detail: `a CloudWatch subscription document of messageType ${describeJsonType(value.messageType)} without logEvents` });
    return;
  }
  if (!isAuditStream(value.logStream)) return;
  for (const logEvent of value.logEvents) {
    if (isObject(logEvent) && typeof logEvent.message === 'string') yield* embedded(logEvent.message, 'logEvents[].message', rejected, depth);
    else rejected.push({ reason: 'not-an-event', detail: 'a CloudWatch logEvents entry without a message string' });
  }
}

/** AKS diagnostic records carry the event in properties.log: a JSON string, or (Elastic's fixture) the object. */
function* unwrapAksRecord(log: unknown, rejected: EnvelopeRejected[], depth: number): Generator<unknown> {
  if (typeof log === 'string') yield* embedded(log, 'properties.log', rejected, depth);
  else if (isObject(log)) yield* unwrapEnvelope(log, rejected, depth + 1);
  else rejected.push({ reason: 'not-an-event', detail: `an AKS record whose properties.log is ${describeJsonType(log)}` });
}

/** An event written as a JSON string inside its envelope. */
function* embedded(text: string, where: string, rejected: EnvelopeRejected[], depth: number): Generator<unknown> {
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  if (endsTruncated(body)) {
    rejected.push({ reason: 'truncated', detail: `${where}: ends in [Truncated...] (CloudWatch cuts messages over 256 KiB)` });
    return;
  }
  let inner: unknown;
  try {
    inner = JSON.parse(body);
  } catch (error) {
    rejected.push({ reason: 'not-json', detail: `${where}: ${jsonErrorDetail(body, error)}` });
    return;
  }
  yield* unwrapEnvelope(inner, rejected, depth + 1);
}

/** V8's JSON.parse messages quote the input; keep only the position. */
export function jsonErrorDetail(body: string, error: unknown): string {
  if (endsTruncated(body)) return 'truncated event (ends in [Truncated...], as CloudWatch cuts oversized messages)';
  const message = error instanceof Error ? error.message : '';
  const position = /position (\d+)/.exec(message)?.[1];
  if (/Unexpected end of JSON input/.test(message)) return 'invalid JSON: ends early (a cut line?)';
  return position ? `invalid JSON at character ${position}` : 'invalid JSON';
}

/**
 * Firehose writes the CloudWatch subscription documents it delivers one after another, without a
 * separator (`{...}{...}`): the top-level values of such text, or undefined when it is not that.
 * Only tried on text JSON.parse refused, so ordinary lines never pay for it.
 */
export function splitConcatenatedJson(text: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
      continue;
    }
    if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === 0x7d || ch === 0x5d) {
      depth--;
      if (depth < 0) return undefined;
      if (depth === 0) parts.push(text.slice(start, i + 1));
    } else if (depth === 0 && ch !== 0x20 && ch !== 0x09 && ch !== 0x0d && ch !== 0x0a) return undefined;
  }
  return depth === 0 && parts.length > 1 ? parts : undefined;
}
