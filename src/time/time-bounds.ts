/**
 * Time bounds typed by people: an RFC 3339 timestamp (`2025-10-21T09:00:00.100000Z`, any offset, any
 * number of fraction digits) or a duration before now (`90m`, `24h`, as the flags take them).
 *
 * Bounds stay canonical text with six fraction digits (see src/time/timestamps.ts): Postgres compares
 * microseconds, a JS Date would drop them (KubeArmor's UpdatedTime and audit MicroTime both have them).
 */
import { normalizeTimestamp } from './timestamps.ts';
import { parseDuration } from './duration.ts';
import { isoMicros, isRealTimestamp } from './micros.ts';

/** The first instant a bound may name: canonical text has a four-digit year. */
const EARLIEST_MS = Date.parse('0001-01-01T00:00:00Z');

/** A timestamp or a duration before `now`, as canonical UTC text; undefined when it is neither. */
export function parseTimeBound(text: string, now: Date = new Date()): string | undefined {
  if (text.includes('\u0000')) return undefined;
  const timestamp = normalizeTimestamp(text);
  if (timestamp) return isRealTimestamp(timestamp) ? timestamp : undefined;
  const ago = parseDuration(text);
  if (ago === undefined) return undefined;
  // A duration reaching back before the year 1 names no time we can store or compare (99999999d
  // would even be outside what a Date holds).
  const ms = now.getTime() - ago;
  if (!(ms >= EARLIEST_MS)) return undefined;
  return isoMicros(new Date(ms));
}

export const timeBoundHint = 'use an RFC 3339 time such as 2025-10-21T09:00:00Z or a duration before now such as 90m, 24h, 7d';

/** Why `text` is not a time bound, and what to give instead. */
export function describeBadTimeBound(text: string): string {
  if (text.includes('\u0000')) return 'must not contain a NUL character';
  if (parseDuration(text) !== undefined) return `"${text.slice(0, 64)}" reaches back before the year 1; give a shorter duration or a time such as 2025-10-21T09:00:00Z`;
  return `"${text.slice(0, 64)}" is not a time: ${timeBoundHint}`;
}

export type WindowResult = { ok: true; from: string; to: string } | { ok: false; field: 'since' | 'from' | 'to'; message: string };

/**
 * A timeline's window from what people give: `since` or `from` (not both; the last hour when neither),
 * `to` (now when absent). The same rules for the CLI flags and the API parameters.
 */
export function timelineWindow(given: { since?: string; from?: string; to?: string }, now: Date = new Date()): WindowResult {
  if (given.since && given.from) return { ok: false, field: 'since', message: 'give since or from, not both' };
  const startText = given.from || given.since || '1h';
  const from = parseTimeBound(startText, now);
  if (from === undefined) return { ok: false, field: given.from ? 'from' : 'since', message: describeBadTimeBound(startText) };
  const to = given.to ? parseTimeBound(given.to, now) : isoMicros(now);
  if (to === undefined) return { ok: false, field: 'to', message: describeBadTimeBound(given.to!) };
  if (from > to) return { ok: false, field: 'to', message: `the window ends (${to}) before it starts (${from})` };
  return { ok: true, from, to };
}
