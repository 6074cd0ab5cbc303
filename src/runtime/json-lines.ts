/**
 * One line of KubeArmor JSON output → a runtime event, or the reason it is not one.
 *
 * Lines come from the relay's stdout (`ENABLE_STDOUT_ALERTS/LOGS=true`), `karmor logs --json`,
 * `kubectl logs` of the relay (optionally with `--timestamps`), or the node daemon's file output.
 * `kubectl logs` mixes in the relay's own zap log lines (`{"level":"info","ts":1705058469.1,...}`):
 * only objects with a Timestamp or UpdatedTime are events (../shared/reference/kubearmor-feeder.md).
 */
import { jsonErrorDetail } from '../audit/decode.ts';
import type { SanitizeReason } from '../audit/sanitize.ts';
import { looksLikeRuntimeEvent, normalizeRuntimeEvent, type NormalizeContext, type RuntimeEvent } from './event.ts';

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
const OPEN_BRACE = 0x7b;

// `kubectl logs --timestamps` prefixes each line with the kubelet's RFC 3339 time and a space.
const kubeletPrefix = /^\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}) $/;

export function runtimeEventFromLine(line: Buffer | string, context: NormalizeContext): RuntimeLineOutcome {
  let bytes = typeof line === 'string' ? Buffer.from(line) : line;
  let start = 0;
  while (start < bytes.length && (bytes[start] === 0x20 || bytes[start] === 0x09 || bytes[start] === 0x0d)) start++;
  if (start === bytes.length) return { kind: 'skipped', reason: 'blank' };
  if (bytes[start] !== OPEN_BRACE) {
    const brace = bytes.indexOf(OPEN_BRACE, start);
    if (brace === -1 || !kubeletPrefix.test(bytes.subarray(start, brace).toString())) {
      return { kind: 'rejected', reason: 'runtime-bad-json', detail: `not a JSON object (a line of ${bytes.length - start} bytes that does not start with {)` };
    }
    start = brace;
  }
  bytes = bytes.subarray(start);
  if (bytes.indexOf(TIMESTAMP_MARK) === -1 && bytes.indexOf(UPDATED_TIME_MARK) === -1 && bytes.indexOf(UPDATED_TIME_MARK_LOWER) === -1) {
    return { kind: 'skipped', reason: 'relay-log-line' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    const text = bytes.toString('utf8');
    return { kind: 'rejected', reason: 'runtime-bad-json', detail: jsonErrorDetail(text, error) };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { kind: 'rejected', reason: 'runtime-bad-json', detail: `JSON ${Array.isArray(parsed) ? 'array' : String(parsed === null ? 'null' : typeof parsed)}, not an object` };
  }
  if (!looksLikeRuntimeEvent(parsed as Record<string, unknown>)) return { kind: 'skipped', reason: 'relay-log-line' };
  const outcome = normalizeRuntimeEvent(parsed, context);
  if (!outcome.ok) return { kind: 'rejected', reason: outcome.reason, detail: outcome.detail };
  return { kind: 'event', event: outcome.event, repaired: outcome.repaired };
}
