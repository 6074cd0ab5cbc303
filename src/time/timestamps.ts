/**
 * Audit timestamps are Go MicroTime: RFC 3339 UTC with six fractional digits (`2024-05-02T09:15:01.104512Z`).
 * A JS Date keeps milliseconds only, so we keep the text, normalised to exactly that form so that
 * timestamps compare correctly as strings.
 *
 * Every stored time lies in STORED_TIME_RANGE (src/time/micros.ts says why). An RFC 3339 time outside it
 * is still a time (a forged line, a clock gone wrong): it is clamped to the nearest bound and reported.
 */
const rfc3339 = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;

const goMicroTimeUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?Z$/;
const daysInMonth = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

import { MAX_STORED_MS as MAX_MS, MIN_STORED_MS as MIN_MS, STORED_TIME_RANGE } from './micros.ts';

export { STORED_TIME_RANGE };

/**
 * The form the apiserver writes (UTC, `T`, `Z`) with a real calendar date and time inside the stored
 * range, checked with arithmetic: what the general path below accepts for this form.
 */
function isPlainUtcCalendarTime(text: string): boolean {
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 && !leap ? 28 : (daysInMonth[month - 1] ?? 0);
  return year >= 1970 && year <= 2199 && day >= 1 && day <= monthDays && digits(text, 11, 13) < 24 && digits(text, 14, 16) < 60 && digits(text, 17, 19) < 60;
}

/** The number written by the ASCII digits text[from, to) (the caller's pattern made them digits). */
function digits(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

export interface NormalizedTime {
  /** `YYYY-MM-DDTHH:MM:SS.ffffffZ`, UTC, inside STORED_TIME_RANGE. */
  value: string;
  /** The time was outside STORED_TIME_RANGE and `value` is the nearest bound. */
  clamped: boolean;
}

/** Any RFC 3339 timestamp → the stored form, clamped into STORED_TIME_RANGE; undefined when it is not one. */
export function normalizeTime(text: string | undefined): NormalizedTime | undefined {
  if (!text) return undefined;
  // Fast path for what the apiserver writes (several calls per audit event): same answer, no Date.
  const plain = goMicroTimeUtc.exec(text);
  if (plain && isPlainUtcCalendarTime(text)) return { value: `${text.slice(0, 19)}.${(plain[1] ?? '').padEnd(6, '0').slice(0, 6)}Z`, clamped: false };
  const match = rfc3339.exec(text.trim());
  if (!match) return undefined;
  const [, date, time, fraction = '', zone] = match;
  const micros = fraction.padEnd(6, '0').slice(0, 6);
  // The pattern lets `2024-13-45T99:99:99Z` through; a real calendar time survives a round trip.
  // setUTCFullYear, not the Date parser: the parser reads years 0-99 as 19xx.
  const [year, month, day] = date!.split('-').map(Number) as [number, number, number];
  const [hour, minute, second] = time!.split(':').map(Number) as [number, number, number];
  const asUtc = new Date(0);
  asUtc.setUTCFullYear(year, month - 1, day);
  asUtc.setUTCHours(hour, minute, second, 0);
  if (asUtc.getUTCFullYear() !== year || asUtc.getUTCMonth() !== month - 1 || asUtc.getUTCDate() !== day) return undefined;
  if (asUtc.getUTCHours() !== hour || asUtc.getUTCMinutes() !== minute || asUtc.getUTCSeconds() !== second) return undefined;
  let ms = asUtc.getTime();
  if (zone !== 'Z') {
    const sign = zone![0] === '-' ? -1 : 1;
    const offset = zone!.slice(1).replace(':', '');
    const offsetHours = Number(offset.slice(0, 2));
    const offsetMinutes = Number(offset.slice(2, 4));
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    ms -= sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  if (ms < MIN_MS) return { value: STORED_TIME_RANGE.min, clamped: true };
  if (ms > MAX_MS) return { value: STORED_TIME_RANGE.max, clamped: true };
  return { value: `${new Date(ms).toISOString().slice(0, 19)}.${micros}Z`, clamped: false };
}

/** normalizeTime without the clamp report: the stored form of an RFC 3339 time, or undefined. */
export function normalizeTimestamp(text: string | undefined): string | undefined {
  return normalizeTime(text)?.value;
}

/** Milliseconds between two normalised timestamps, with the microseconds kept as a fraction. */
export function millisBetween(start: string, end: string): number {
  const micros = (ts: string) => Date.parse(ts.slice(0, 19) + 'Z') * 1000 + Number(ts.slice(20, 26));
  return (micros(end) - micros(start)) / 1000;
}
