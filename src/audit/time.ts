/**
 * Audit timestamps are Go MicroTime: RFC 3339 UTC with six fractional digits (`2024-05-02T09:15:01.104512Z`).
 * A JS Date keeps milliseconds only, so we keep the text, normalised to exactly that form so that
 * timestamps compare correctly as strings.
 */
const rfc3339 = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;

/** Any RFC 3339 timestamp → `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC; undefined when it is not one. */
export function normalizeTimestamp(text: string | undefined): string | undefined {
  if (!text) return undefined;
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
