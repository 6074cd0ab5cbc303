/**
 * From raw text to audit events: unwraps the envelopes the same event arrives in (a bare Event, an
 * EventList, a JSON array, AKS Event Hubs `records[].properties.log` as a JSON string; a UTF-8 BOM in
 * front) and validates each event. Never throws: a bad input is reported with a reason and skipped.
 */
import { auditEventSchema, type AuditEvent } from './event.ts';

export type BadInputReason = 'not-json' | 'not-an-event' | 'bad-field';

export interface DecodeResult {
  events: AuditEvent[];
  /** One entry per rejected event (or per unparseable line). */
  rejected: { reason: BadInputReason; detail: string }[];
}

const BOM = '\uFEFF';

/** Decodes one line (or one webhook body) of text. */
export function decodeAuditText(text: string): DecodeResult {
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return { events: [], rejected: [{ reason: 'not-json', detail: (error as Error).message }] };
  }
  return decodeAuditValue(value);
}

/** Decodes an already parsed JSON value. */
export function decodeAuditValue(value: unknown): DecodeResult {
  const result: DecodeResult = { events: [], rejected: [] };
  for (const candidate of unwrapEnvelope(value, result)) {
    const parsed = auditEventSchema.safeParse(candidate);
    if (parsed.success) {
      result.events.push(parsed.data);
    } else if (!isObject(candidate) || !('auditID' in candidate || 'stage' in candidate || 'requestURI' in candidate)) {
      result.rejected.push({ reason: 'not-an-event', detail: 'no auditID, stage or requestURI' });
    } else {
      const issue = parsed.error.issues[0];
      result.rejected.push({ reason: 'bad-field', detail: `${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}` });
    }
  }
  return result;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function* unwrapEnvelope(value: unknown, result: DecodeResult): Generator<unknown> {
  if (Array.isArray(value)) {
    for (const item of value) yield* unwrapEnvelope(item, result);
    return;
  }
  if (!isObject(value)) {
    yield value;
    return;
  }
  if (value.kind === 'EventList' || (Array.isArray(value.items) && !('auditID' in value))) {
    yield* unwrapEnvelope(value.items ?? [], result);
    return;
  }
  if (Array.isArray(value.records)) {
    for (const record of value.records) yield* unwrapAksRecord(record, result);
    return;
  }
  if (isObject(value.properties) && typeof value.properties.log === 'string') {
    yield* unwrapAksRecord(value, result);
    return;
  }
  yield value;
}

/** AKS diagnostic records carry the event as a JSON string in properties.log. */
function* unwrapAksRecord(record: unknown, result: DecodeResult): Generator<unknown> {
  const log = isObject(record) && isObject(record.properties) ? record.properties.log : undefined;
  if (typeof log !== 'string') {
    yield record;
    return;
  }
  try {
    yield* unwrapEnvelope(JSON.parse(log.startsWith(BOM) ? log.slice(1) : log), result);
  } catch (error) {
    result.rejected.push({ reason: 'not-json', detail: `properties.log: ${(error as Error).message}` });
  }
}
