/**
 * Every reason `exectrail_bad_input_total{reason}` counts, declared once with what it means. A source
 * cannot invent a reason inline: it counts through `countBadInput`, whose reason is one of these, and
 * the README's "Bad input" table lists exactly these (test/observe/bad-input.test.ts checks both ways).
 *
 * Grouped by where the input is refused; a new source adds its group here.
 */
import type { Metrics } from './metrics.ts';

export const badInputReasons = {
  // Audit events, from any source (src/audit).
  'not-json': 'a line or body that is not JSON (nor a legacy-format audit line)',
  'not-an-event': 'JSON that is not an audit event or a list of them',
  'bad-field': 'an audit event with a field of the wrong type or form',
  truncated: 'an audit event CloudWatch cut at 256 KiB (it ends in `[Truncated...]`), skipped',
  // Repaired and stored (src/audit/sanitize.ts): the event is kept, the repair counted.
  'forbidden-characters': 'NUL or an unpaired surrogate in a value, replaced by U+FFFD; the event is stored',
  'too-long': 'an identifier or text past its bound, shortened (identifiers keep a hash of the whole); the event is stored',
  'time-out-of-range': 'a time outside the stored range, clamped to it; the event is stored',
  'rejected-by-database': 'a session the database refused even alone; the rest of its batch is stored',

  // Log files (src/ingest: -audit-log-file, -audit-log-dir, -kubearmor-file PATH).
  'line-too-long': 'a line longer than -max-line-bytes, skipped',
  binary: 'NUL bytes (a binary file, or the zero-filled block a crash leaves); the line behind them is kept',
  'invalid-utf8': 'a line that is not UTF-8',
  'unterminated-line': 'bytes after the last newline of a file that is finished (renamed away, or a .gz)',
  'damaged-gzip': 'a .gz that is not gzip, or is truncated or damaged; its lines before the damage are read, and it is read again only once it changes',

  // Audit webhook requests (src/ingest/webhook.ts): each is also the 4xx the request gets.
  'unsupported-content-type': 'a webhook body sent with a Content-Type other than JSON (415)',
  'unsupported-encoding': 'a webhook body with a Content-Encoding other than gzip or identity (415)',
  'body-too-large': 'a webhook body over -webhook-max-body, compressed or decompressed (413)',
  'bad-gzip': 'a webhook body declared gzip that is not (400)',
  'body-read-error': 'a webhook body the client stopped sending before its end (400)',

  // KubeArmor runtime events (src/runtime).
  'runtime-bad-json': 'a -kubearmor-file line that is not a JSON object',
  'runtime-not-an-object': 'a feeder message or JSON line that is not an object',
  'runtime-bad-time': 'a runtime event whose UpdatedTime and Timestamp are both invalid or both absent (an OTLP record then takes its timeUnixNano)',
  'runtime-rejected-by-database': 'a runtime event the database refused on its own, after its batch was split',
} as const satisfies Record<string, string>;

export type BadInputReason = keyof typeof badInputReasons;

export function isBadInputReason(reason: string): reason is BadInputReason {
  return Object.hasOwn(badInputReasons, reason);
}

/** Counts `n` inputs refused for `reason`. */
export function countBadInput(metrics: Pick<Metrics, 'badInput'>, reason: BadInputReason, n = 1): void {
  metrics.badInput.inc({ reason }, n);
}
