/**
 * KubeArmor events in OpenTelemetry's form: OTLP/JSON logs as KubeArmor's OpenTelemetry adapter
 * (kubearmor/otel-adapter) writes them, and as a collector's file exporter or OTLP/HTTP exporter passes
 * them on (../shared/reference/kubearmor-feeder.md "The OpenTelemetry form"). Pure.
 *
 * `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano","body":{"kvlistValue":{"values":
 * [{"key","value":{"stringValue"|"doubleValue"|...}}]}}}]}]}]}`: each record's body is the feeder event,
 * its numbers as doubles (JSON has no int64; intValue arrives as a string), nested objects as
 * kvlistValue, lists as arrayValue. The body becomes the plain object the relay's JSON would be, and
 * goes through the same normalizeRuntimeEvent, so every field is mapped as for native JSON.
 */

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** One OTLP AnyValue as plain JSON. */
export function plainValueOfAnyValue(value: unknown): unknown {
  if (!isObject(value)) return undefined;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  // protojson writes int64 as a string.
  if ('intValue' in value) return typeof value.intValue === 'string' ? Number(value.intValue) : value.intValue;
  if ('doubleValue' in value) return value.doubleValue;
  if ('bytesValue' in value) return value.bytesValue;
  if (isObject(value.kvlistValue)) return objectOfKeyValues(value.kvlistValue.values);
  if (isObject(value.arrayValue)) return Array.isArray(value.arrayValue.values) ? value.arrayValue.values.map(plainValueOfAnyValue) : [];
  return undefined;
}

function objectOfKeyValues(values: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(values)) return out;
  for (const kv of values) {
    if (!isObject(kv) || typeof kv.key !== 'string' || kv.key === '__proto__') continue;
    const plain = plainValueOfAnyValue(kv.value);
    if (plain !== undefined) out[kv.key] = plain;
  }
  return out;
}

/** Whether a parsed JSON value is an OTLP logs document (ExportLogsServiceRequest / LogsData). */
export function isOtlpLogsDocument(value: unknown): value is { resourceLogs: unknown[] } {
  return isObject(value) && Array.isArray(value.resourceLogs);
}

export interface OtlpRecord {
  /** The record's body as the relay's JSON would carry it; undefined when the body is not a key-value list. */
  event?: Record<string, unknown>;
  /** The record's own time (timeUnixNano, else observedTimeUnixNano) as RFC 3339 with microseconds. */
  recordTime?: string;
}

/** Every log record of an OTLP logs document, in order. */
export function otlpLogRecords(document: { resourceLogs: unknown[] }): OtlpRecord[] {
  const records: OtlpRecord[] = [];
  for (const resourceLogs of document.resourceLogs) {
    if (!isObject(resourceLogs) || !Array.isArray(resourceLogs.scopeLogs)) continue;
    for (const scopeLogs of resourceLogs.scopeLogs) {
      if (!isObject(scopeLogs) || !Array.isArray(scopeLogs.logRecords)) continue;
      for (const record of scopeLogs.logRecords) {
        if (!isObject(record)) {
          records.push({});
          continue;
        }
        const body = isObject(record.body) ? plainValueOfAnyValue(record.body) : undefined;
        records.push({
          event: isObject(body) ? body : undefined,
          recordTime: timeOfUnixNano(record.timeUnixNano) ?? timeOfUnixNano(record.observedTimeUnixNano),
        });
      }
    }
  }
  return records;
}

/** 2001-09-09 in nanoseconds: an earlier "nanosecond" time is a unit mistake (the adapter writes ms there), not a time. */
const PLAUSIBLE_NANOS = 1_000_000_000_000_000_000n;

/** A fixed64 nanosecond time (a JSON string or number) as RFC 3339 UTC with microseconds; 0 or implausible: undefined. */
export function timeOfUnixNano(value: unknown): string | undefined {
  let nanos: bigint;
  try {
    if (typeof value === 'string' && /^\d{1,20}$/.test(value)) nanos = BigInt(value);
    else if (typeof value === 'number' && Number.isSafeInteger(value)) nanos = BigInt(value);
    else return undefined;
  } catch {
    return undefined;
  }
  if (nanos < PLAUSIBLE_NANOS) return undefined;
  const micros = nanos / 1000n;
  const seconds = micros / 1_000_000n;
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) return undefined;
  return `${date.toISOString().slice(0, 19)}.${(micros % 1_000_000n).toString().padStart(6, '0')}Z`;
}
