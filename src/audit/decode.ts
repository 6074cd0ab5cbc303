/**
 * From raw text to audit events: unwraps the envelopes the same event arrives in (envelopes.ts: the
 * apiserver's, EKS CloudWatch, AKS diagnostics, GKE Cloud Audit Logs; a UTF-8 BOM in front; a CloudWatch
 * S3 export's time prefix; `--audit-log-format=legacy` text lines) and validates each event. Never
 * throws: a bad input is reported with a reason and skipped.
 *
 * Details never quote the input: a rejected exec line may hold a secret in its command.
 */
import { classifyRequest, type NodeProxyMode } from './classify.ts';
import { auditEventSchema, passesAuditEventSchema, type AuditEvent } from './event.ts';
import { endsTruncated, exportTimePrefixLength, jsonErrorDetail, splitConcatenatedJson, unwrapEnvelope as unwrapCandidates, type EnvelopeRejectReason } from './envelopes.ts';
import { eventFromLegacyLine } from './legacy.ts';

export { jsonErrorDetail };

export type BadInputReason = EnvelopeRejectReason;

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

/** Decodes one line (or one webhook body, or one whole document) of text. */
export function decodeAuditText(text: string): DecodeResult {
  let body = text.startsWith(BOM) ? text.slice(1) : text;
  const trimmed = body.trimStart();
  const first = trimmed[0];
  if (first !== '{' && first !== '[') {
    const legacy = first !== undefined && first >= '0' && first <= '9' ? eventFromLegacyLine(trimmed) : undefined;
    if (legacy) return decodeAuditValue(legacy);
    // A CloudWatch export to S3: `<RFC 3339 time> <event JSON>`.
    const prefix = exportTimePrefixLength(trimmed);
    if (prefix === 0) return rejectedOnly('not-json', first === undefined ? 'empty input' : `starts with ${describeChar(first)}, not { or [`);
    body = trimmed.slice(prefix);
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    if (endsTruncated(body)) return rejectedOnly('truncated', jsonErrorDetail(body, error));
    const parts = splitConcatenatedJson(body);
    if (parts) return decodeConcatenated(parts);
    return rejectedOnly('not-json', jsonErrorDetail(body, error));
  }
  return decodeParsed(value);
}

/** Documents written back to back (a Firehose object): each decoded on its own. */
function decodeConcatenated(parts: string[]): DecodeResult {
  const result: DecodeResult = { events: [], rejected: [] };
  for (const part of parts) {
    const decoded = decodeAuditText(part);
    result.events.push(...decoded.events);
    result.rejected.push(...decoded.rejected);
  }
  return result;
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

function notAnEventDetail(candidate: unknown): string {
  if (Array.isArray(candidate)) return 'nested too deep: an array inside envelopes';
  return `a JSON ${candidate === null ? 'null' : Array.isArray(candidate) ? 'array' : typeof candidate} without auditID, stage or requestURI`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function* unwrapEnvelope(value: unknown, result: DecodeResult, depth: number): Generator<unknown> {
  yield* unwrapCandidates(value, result.rejected, depth);
}
