/**
 * Times to the microsecond, as text. Audit times (Go MicroTime) and KubeArmor's UpdatedTime carry
 * microseconds; a JS Date keeps milliseconds only, and Postgres keeps microseconds. So a time stays
 * canonical text, `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, which sorts as text and loses nothing, or an
 * integer number of microseconds since the epoch for arithmetic. Every conversion between those forms,
 * and the SQL that gives a timestamptz column back in that form, is here.
 *
 * (src/time/timestamps.ts turns any RFC 3339 input into the canonical form: that is parsing input, the audit
 * domain's job.)
 */

/**
 * The range every stored time lies in (inclusive): Kubernetes audit logs cannot predate the Unix epoch,
 * PostgreSQL refuses year 0 and years past 9999 in the canonical form, and a JS number holds
 * microseconds exactly up to 2^53 µs (year 2255). Input outside it is clamped, never refused: a refused
 * event would be a session that disappears (src/time/timestamps.ts, src/runtime/event.ts).
 */
export const STORED_TIME_RANGE = { min: '1970-01-01T00:00:00.000000Z', max: '2199-12-31T23:59:59.999999Z' } as const;
export const MIN_STORED_MS = Date.UTC(1970, 0, 1);
export const MAX_STORED_MS = Date.UTC(2199, 11, 31, 23, 59, 59, 999);
export const MIN_STORED_MICROS = MIN_STORED_MS * 1000;
export const MAX_STORED_MICROS = MAX_STORED_MS * 1000 + 999;

/** Microseconds since the epoch, clamped into STORED_TIME_RANGE (NaN to its start). */
export function clampMicros(us: number): number {
  if (!(us >= MIN_STORED_MICROS)) return MIN_STORED_MICROS;
  return us > MAX_STORED_MICROS ? MAX_STORED_MICROS : us;
}

/** A timestamptz column as canonical text, in SQL (PostgreSQL 15 and PGlite alike). */
export const isoMicrosSql = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** A Date as canonical text (a Date has milliseconds only: the last three digits are 0). */
export function isoMicros(date: Date): string {
  return `${date.toISOString().slice(0, 23)}000Z`;
}

/** Canonical text naming a real instant (no February 30th: Postgres would refuse it). */
export function isRealTimestamp(canonical: string): boolean {
  const seconds = Date.parse(`${canonical.slice(0, 19)}Z`);
  return !Number.isNaN(seconds) && new Date(seconds).toISOString().slice(0, 19) === canonical.slice(0, 19);
}

/**
 * `YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±hh:mm)` → microseconds since the epoch, clamped into
 * STORED_TIME_RANGE (a row stored before times were clamped may say year 1 or 9999); throws on
 * anything that is not such a time.
 */
export function isoToMicros(iso: string): number {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/.exec(iso.trim());
  if (!match) throw new Error(`not an RFC 3339 timestamp: "${iso}"`);
  const [, seconds, fraction = '', zone] = match;
  const ms = Date.parse(`${seconds}${zone === 'Z' ? 'Z' : zone}`);
  if (Number.isNaN(ms)) throw new Error(`not an RFC 3339 timestamp: "${iso}"`);
  if (ms < MIN_STORED_MS) return MIN_STORED_MICROS;
  if (ms > MAX_STORED_MS) return MAX_STORED_MICROS;
  return ms * 1000 + Number(fraction.padEnd(6, '0').slice(0, 6));
}

/** Microseconds since the epoch → canonical text, clamped into STORED_TIME_RANGE (so it is always SQL-safe). */
export function microsToIso(value: number): string {
  const us = clampMicros(value);
  const ms = Math.floor(us / 1000);
  const micros = us - Math.floor(us / 1_000_000) * 1_000_000;
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}Z`;
}
