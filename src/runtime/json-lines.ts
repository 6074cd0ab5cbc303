/**
 * One line of KubeArmor JSON output → runtime events, or the reason each is not one: the one door for
 * runtime lines (runtimeEventsFromLine).
 *
 * Lines come from the relay's stdout (`ENABLE_STDOUT_ALERTS/LOGS=true`), `karmor logs --json`,
 * `kubectl logs` of the relay (optionally with `--timestamps`), the node daemon's file output, or an
 * OpenTelemetry collector's file exporter (OTLP/JSON, otlp.ts: one document, many records).
 * `kubectl logs` mixes in the relay's own zap log lines (`{"level":"info","ts":1705058469.1,...}`):
 * only objects with a Timestamp or UpdatedTime are events (../shared/reference/kubearmor-feeder.md);
 * an object with an Operation but neither time is an event that cannot be placed, and is counted.
 */
import { jsonErrorDetail } from '../audit/decode.ts';
import type { SanitizeReason } from '../audit/sanitize.ts';
import { looksLikeRuntimeEvent, normalizeIfRuntimeEvent, normalizeRuntimeEvent, type NormalizeContext, type RuntimeEvent } from './event.ts';
import { isOtlpLogsDocument, otlpLogRecords } from './otlp.ts';

/** A rejected line's detail never quotes it: a command line in it may hold a secret. */
export type RuntimeLineOutcome =
  | { kind: 'event'; event: RuntimeEvent; repaired: SanitizeReason[] }
  /** Not an event and not a problem: blank, or a relay's own log line. */
  | { kind: 'skipped'; reason: 'blank' | 'relay-log-line' }
  | { kind: 'rejected'; reason: string; detail: string };

// Every event has one of these keys (PascalCase or camelCase); a line without either is not parsed at all.
const TIMESTAMP_MARK = Buffer.from('imestamp"');
const UPDATED_TIME_MARK = Buffer.from('pdatedTime"');
const UPDATED_TIME_MARK_LOWER = Buffer.from('pdatedtime"');
const OPERATION_MARK = Buffer.from('peration"');
const RESOURCE_LOGS_MARK = Buffer.from('"resourceLogs"');
const OPEN_BRACE = 0x7b;

// `kubectl logs --timestamps` prefixes each line with the kubelet's RFC 3339 time and a space.
const kubeletPrefix = /^\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}) $/;

/** Every runtime event of one line: one for KubeArmor's JSON, one per log record for an OTLP document. */
export function runtimeEventsFromLine(line: Buffer | string, context: NormalizeContext): RuntimeLineOutcome[] {
  return outcomesOfLine(line, context, true);
}

/** The one event of a line of KubeArmor's JSON (an OTLP document is not looked for). */
export function runtimeEventFromLine(line: Buffer | string, context: NormalizeContext): RuntimeLineOutcome {
  return outcomesOfLine(line, context, false)[0]!;
}

function outcomesOfLine(line: Buffer | string, context: NormalizeContext, otlp: boolean): RuntimeLineOutcome[] {
  let bytes = typeof line === 'string' ? Buffer.from(line) : line;
  let start = 0;
  while (start < bytes.length && (bytes[start] === 0x20 || bytes[start] === 0x09 || bytes[start] === 0x0d)) start++;
  if (start === bytes.length) return [{ kind: 'skipped', reason: 'blank' }];
  if (bytes[start] !== OPEN_BRACE) {
    const brace = bytes.indexOf(OPEN_BRACE, start);
    if (brace === -1 || !kubeletPrefix.test(bytes.subarray(start, brace).toString())) {
      return [{ kind: 'rejected', reason: 'runtime-bad-json', detail: `not a JSON object (a line of ${bytes.length - start} bytes that does not start with {)` }];
    }
    start = brace;
  }
  bytes = bytes.subarray(start);
  // Every event has one of these keys, near the start of the relay's lines: found before the whole line is
  // searched for an OTLP document's mark.
  const timed = bytes.indexOf(TIMESTAMP_MARK) !== -1 || bytes.indexOf(UPDATED_TIME_MARK) !== -1 || bytes.indexOf(UPDATED_TIME_MARK_LOWER) !== -1;
  if (!timed && (!otlp || bytes.indexOf(RESOURCE_LOGS_MARK) === -1)) {
    return [bytes.indexOf(OPERATION_MARK) === -1 ? { kind: 'skipped', reason: 'relay-log-line' } : withoutTime(bytes)];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    if (!timed) return [withoutTime(bytes)];
    return [{ kind: 'rejected', reason: 'runtime-bad-json', detail: jsonErrorDetail(bytes.toString('utf8'), error) }];
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    if (!timed) return [{ kind: 'skipped', reason: 'relay-log-line' }];
    return [{ kind: 'rejected', reason: 'runtime-bad-json', detail: `JSON ${Array.isArray(parsed) ? 'array' : String(parsed === null ? 'null' : typeof parsed)}, not an object` }];
  }
  if (otlp && 'resourceLogs' in parsed && isOtlpLogsDocument(parsed)) return runtimeEventsFromOtlp(parsed, context);
  if (!timed) return [withoutTime(bytes)];
  const outcome = normalizeIfRuntimeEvent(parsed as Record<string, unknown>, context);
  if (!outcome) return [{ kind: 'skipped', reason: 'relay-log-line' }];
  if (!outcome.ok) return [{ kind: 'rejected', reason: outcome.reason, detail: outcome.detail }];
  return [{ kind: 'event', event: outcome.event, repaired: outcome.repaired }];
}

/** The events of a parsed OTLP logs document (a line of a collector's file, an OTLP/HTTP body). */
export function runtimeEventsFromOtlp(document: { resourceLogs: unknown[] }, context: NormalizeContext): RuntimeLineOutcome[] {
  const outcomes: RuntimeLineOutcome[] = [];
  for (const record of otlpLogRecords(document)) {
    const event = record.event;
    if (!event) {
      outcomes.push({ kind: 'rejected', reason: 'runtime-not-an-object', detail: 'an OTLP log record whose body is not a key-value list (kvlistValue)' });
      continue;
    }
    if (!looksLikeRuntimeEvent(event)) {
      // The record's own time stands in when the body has none.
      if (record.recordTime === undefined) {
        outcomes.push({ kind: 'rejected', reason: 'runtime-bad-time', detail: 'an OTLP log record without UpdatedTime or Timestamp in its body, nor a timeUnixNano' });
        continue;
      }
      event.UpdatedTime = record.recordTime;
    }
    const outcome = normalizeRuntimeEvent(event, context);
    outcomes.push(outcome.ok ? { kind: 'event', event: outcome.event, repaired: outcome.repaired } : { kind: 'rejected', reason: outcome.reason, detail: outcome.detail });
  }
  return outcomes;
}

/** A line with an Operation key but no time key: an event that cannot be placed in time, or a log line after all. */
function withoutTime(bytes: Buffer): RuntimeLineOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { kind: 'skipped', reason: 'relay-log-line' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { kind: 'skipped', reason: 'relay-log-line' };
  const keys = Object.keys(parsed).map((key) => key.toLowerCase());
  const isEvent = keys.includes('operation') && (keys.includes('pid') || keys.includes('hostpid') || keys.includes('processname'));
  return isEvent
    ? { kind: 'rejected', reason: 'runtime-bad-time', detail: 'a KubeArmor event without UpdatedTime or Timestamp: it cannot be placed in time' }
    : { kind: 'skipped', reason: 'relay-log-line' };
}
