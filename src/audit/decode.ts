/**
 * From raw text to audit events: unwraps the envelopes the same event arrives in (a bare Event, an
 * EventList, a JSON array, AKS Event Hubs `records[].properties.log` as a JSON string, a UTF-8 BOM in
 * front, `--audit-log-format=legacy` text lines) and validates each event. Never throws: a bad input is
 * reported with a reason and skipped.
 *
 * Details never quote the input: a rejected exec line may hold a secret in its command.
 */
import { classifyRequest, type NodeProxyMode } from './classify.ts';
import { auditEventSchema, passesAuditEventSchema, type AuditEvent } from './event.ts';
import { eventFromLegacyLine } from './legacy.ts';

export type BadInputReason = 'not-json' | 'not-an-event' | 'bad-field';

export interface Rejected {
  reason: BadInputReason;
  detail: string;
}

export interface DecodeResult {
  events: AuditEvent[];
  /** One entry per rejected event (or per unparseable line). */
  rejected: Rejected[];
}

const BOM = '\uFEFF';
/** Envelopes nest at most: array → AKS records → properties.log → EventList → items. */
const MAX_ENVELOPE_DEPTH = 6;

/** Decodes one line (or one webhook body, or one whole document) of text. */
export function decodeAuditText(text: string): DecodeResult {
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  const trimmed = body.trimStart();
  const first = trimmed[0];
  if (first !== '{' && first !== '[') {
    const legacy = first !== undefined && first >= '0' && first <= '9' ? eventFromLegacyLine(trimmed) : undefined;
    if (legacy) return decodeAuditValue(legacy);
    return rejectedOnly('not-json', first === undefined ? 'empty input' : `starts with ${describeChar(first)}, not { or [`);
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return rejectedOnly('not-json', jsonErrorDetail(body, error));
  }
  return decodeParsed(value);
}

/** Decodes an already parsed JSON value. */
export function decodeAuditValue(value: unknown): DecodeResult {
  const result: DecodeResult = { events: [], rejected: [] };
  for (const candidate of unwrapEnvelope(value, result, 0)) validateInto(candidate, result, false);
  return result;
}

/** decodeAuditValue for a value this module parsed itself: a valid event is returned as it is, not copied. */
function decodeParsed(value: unknown): DecodeResult {
  const result: DecodeResult = { events: [], rejected: [] };
  for (const candidate of unwrapEnvelope(value, result, 0)) validateInto(candidate, result, true);
  return result;
}

export interface InteractiveDecodeResult extends DecodeResult {
  /** Valid events that are not interactive access: checked, counted, not returned. */
  ignored: number;
}

/**
 * decodeAuditValue for a body where nearly every event is dropped (the webhook's EventLists; the caller
 * parsed it and keeps no other reference to it): an event
 * the fast check passes and classifyRequest calls no interactive access is only counted as ignored,
 * without the schema's copy of it; every other event goes through the schema exactly as in
 * decodeAuditValue, so the events kept, the rejections and their reasons are the same as
 * decodeAuditValue followed by classifyRequest.
 */
export function decodeInteractiveCandidates(value: unknown, nodeProxy: NodeProxyMode = 'interactive'): InteractiveDecodeResult {
  const result: InteractiveDecodeResult = { events: [], rejected: [], ignored: 0 };
  for (const candidate of unwrapEnvelope(value, result, 0)) {
    // Passing the fast check means the schema would accept it unchanged, so classifying the value as
    // it is gives the answer classifying the schema's output would.
    if (passesAuditEventSchema(candidate) && !classifyRequest(candidate as AuditEvent, nodeProxy)) {
      result.ignored++;
      continue;
    }
    validateInto(candidate, result, true);
  }
  return result;
}

/**
 * Validates one event into `result`. `owned`: the caller parsed the value and keeps no other reference,
 * so an event the fast check passes is used as it is; the schema (no transforms, no defaults) would
 * return an equal copy of it.
 */
function validateInto(candidate: unknown, result: DecodeResult, owned: boolean): void {
  if (owned && passesAuditEventSchema(candidate)) {
    result.events.push(candidate as AuditEvent);
    return;
  }
  const parsed = auditEventSchema.safeParse(candidate);
  if (parsed.success) {
    result.events.push(parsed.data);
    return;
  }
  if (!isObject(candidate) || !('auditID' in candidate || 'stage' in candidate || 'requestURI' in candidate)) {
    result.rejected.push({ reason: 'not-an-event', detail: notAnEventDetail(candidate) });
  } else {
    const issue = parsed.error.issues[0];
    result.rejected.push({ reason: 'bad-field', detail: `${issue?.path.join('.') || '?'}: ${issue?.message ?? 'invalid'}` });
  }
}

function rejectedOnly(reason: BadInputReason, detail: string): DecodeResult {
  return { events: [], rejected: [{ reason, detail }] };
}

function describeChar(ch: string): string {
  const code = ch.codePointAt(0)!;
  return code >= 0x21 && code < 0x7f ? `"${ch}"` : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

function describeJsonType(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** V8's JSON.parse messages quote the input; keep only the position. */
export function jsonErrorDetail(body: string, error: unknown): string {
  if (/\[Truncated\.\.\.\]\s*$/.test(body)) return 'truncated event (ends in [Truncated...], as CloudWatch cuts oversized messages)';
  const message = error instanceof Error ? error.message : '';
  const position = /position (\d+)/.exec(message)?.[1];
  if (/Unexpected end of JSON input/.test(message)) return 'invalid JSON: ends early (a cut line?)';
  return position ? `invalid JSON at character ${position}` : 'invalid JSON';
}

function notAnEventDetail(candidate: unknown): string {
  if (isObject(candidate) && isObject(candidate.protoPayload)) {
    return 'a GKE Cloud Audit Logs entry (protoPayload), which has no requestURI, stage or code; export the apiserver audit events instead';
  }
  if (Array.isArray(candidate)) return 'nested too deep: an array inside envelopes';
  return `a JSON ${candidate === null ? 'null' : Array.isArray(candidate) ? 'array' : typeof candidate} without auditID, stage or requestURI`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function* unwrapEnvelope(value: unknown, result: DecodeResult, depth: number): Generator<unknown> {
  if (depth > MAX_ENVELOPE_DEPTH) {
    yield value;
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) yield* unwrapEnvelope(item, result, depth + 1);
    return;
  }
  if (!isObject(value)) {
    yield value;
    return;
  }
  // Webhook body: {"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[...]}.
  if (value.kind === 'EventList' || (Array.isArray(value.items) && !('auditID' in value))) {
    if (Array.isArray(value.items)) yield* unwrapEnvelope(value.items, result, depth + 1);
    // `"items": null` is how Go writes an empty list; anything else is not a list of events.
    else if (value.items !== null && value.items !== undefined) result.rejected.push({ reason: 'not-an-event', detail: `an EventList whose items is ${describeJsonType(value.items)}, not an array` });
    return;
  }
  if (Array.isArray(value.records)) {
    for (const record of value.records) yield* unwrapAksRecord(record, result, depth + 1);
    return;
  }
  if (isObject(value.properties) && typeof value.properties.log === 'string') {
    yield* unwrapAksRecord(value, result, depth + 1);
    return;
  }
  yield value;
}

/** AKS diagnostic records carry the event as a JSON string in properties.log. */
function* unwrapAksRecord(record: unknown, result: DecodeResult, depth: number): Generator<unknown> {
  const log = isObject(record) && isObject(record.properties) ? record.properties.log : undefined;
  if (typeof log !== 'string') {
    yield record;
    return;
  }
  const text = log.startsWith(BOM) ? log.slice(1) : log;
  let inner: unknown;
  try {
    inner = JSON.parse(text);
  } catch (error) {
    result.rejected.push({ reason: 'not-json', detail: `properties.log: ${jsonErrorDetail(text, error)}` });
    return;
  }
  yield* unwrapEnvelope(inner, result, depth + 1);
}
