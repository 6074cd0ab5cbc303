/**
 * Audit timestamps are Go MicroTime: RFC 3339 UTC with six fractional digits (`2024-05-02T09:15:01.104512Z`).
 * A JS Date keeps milliseconds only, so we keep the text, normalised to exactly that form so that
 * timestamps compare correctly as strings.
 */
const rfc3339 = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;

const goMicroTimeUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?Z$/;
const daysInMonth = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The form the apiserver writes (UTC, `T`, `Z`) with a real calendar date and time, checked with
 * arithmetic: what the Date round trip below accepts for this form (years from 0001; anything else
 * takes the general path).
 */
function isPlainUtcCalendarTime(text: string): boolean {
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 && !leap ? 28 : (daysInMonth[month - 1] ?? 0);
  return year >= 1 && day >= 1 && day <= monthDays && digits(text, 11, 13) < 24 && digits(text, 14, 16) < 60 && digits(text, 17, 19) < 60;
}

/** The number written by the ASCII digits text[from, to) (the caller's pattern made them digits). */
function digits(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

/** Any RFC 3339 timestamp → `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC; undefined when it is not one. */
export function normalizeTimestamp(text: string | undefined): string | undefined {
  if (!text) return undefined;
  // Fast path for what the apiserver writes (several calls per audit event): same answer, no Date.
  const plain = goMicroTimeUtc.exec(text);
  if (plain && isPlainUtcCalendarTime(text)) return `${text.slice(0, 19)}.${(plain[1] ?? '').padEnd(6, '0').slice(0, 6)}Z`;
  const match = rfc3339.exec(text.trim());
  if (!match) return undefined;
  const [, date, time, fraction = '', zone] = match;
  const micros = fraction.padEnd(6, '0').slice(0, 6);
  // The pattern lets `2024-13-45T99:99:99Z` through; a real calendar time survives a round trip.
  const asUtc = new Date(`${date}T${time}Z`);
  if (Number.isNaN(asUtc.getTime()) || asUtc.toISOString().slice(0, 19) !== `${date}T${time}`) return undefined;
  if (zone === 'Z') return `${date}T${time}.${micros}Z`;
  const shifted = new Date(`${date}T${time}${zone}`);
  if (Number.isNaN(shifted.getTime())) return undefined;
  return `${shifted.toISOString().slice(0, 19)}.${micros}Z`;
}

/** Milliseconds between two normalised timestamps, with the microseconds kept as a fraction. */
export function millisBetween(start: string, end: string): number {
  const micros = (ts: string) => Date.parse(ts.slice(0, 19) + 'Z') * 1000 + Number(ts.slice(20, 26));
  return (micros(end) - micros(start)) / 1000;
}
