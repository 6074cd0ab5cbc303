/**
 * What makes a session row storable whatever the event held: the one place every source's rows pass
 * before they reach the store (src/audit/input.ts calls it for every extracted stage).
 *
 * Any cluster user chooses parts of an audit event: the Audit-ID header is taken as given
 * (k8s.io/apiserver WithAuditInit), and the URI, user agent and pod names are theirs too; a file can hold
 * anything. PostgreSQL refuses some values outright, and one refused value fails the whole transaction
 * it is in, so every stored value is made acceptable here, visibly, and each repair is reported:
 *
 *   forbidden-characters  NUL (text and jsonb refuse it) and unpaired UTF-16 surrogates (jsonb refuses
 *                         their escapes) become U+FFFD, in values and in object keys;
 *   too-long              identifiers past their column or index bound keep their start and get a hash
 *                         of the whole, so two long names stay two names; free text is cut with a marker
 *                         saying how much was cut;
 *   time-out-of-range     times outside STORED_TIME_RANGE are clamped to it (src/time/timestamps.ts).
 */
import { createHash } from 'node:crypto';
import type { SessionRow } from './session.ts';

export type SanitizeReason = 'forbidden-characters' | 'too-long' | 'time-out-of-range';

/**
 * The bounds, in UTF-16 code units (what String length counts). Where a bound comes from a column or an
 * index, it is that limit; PostgreSQL's btree refuses entries over 2704 bytes, and a character may take
 * four bytes in UTF-8.
 */
export const STORED_BOUNDS = {
  /** change_events.audit_id, namespace and name are varchar(255). */
  auditId: 255,
  namespace: 255,
  name: 255,
  /** idx_change_events_actor_username is a btree on actor->>'username': 512 × 4 bytes < 2704. */
  username: 512,
  /** The apiserver itself cuts user agents at 1024 characters (apiserver/pkg/endpoints/request). */
  userAgent: 1024,
  /** Any other string in actor, source and exec_metadata (a command argument, a group, a message). */
  text: 16 * 1024,
  /** Elements kept of a list (argv, groups, source IPs, stages). */
  listItems: 1024,
} as const;

const REPLACEMENT = '\uFFFD';
/** NUL, or a surrogate half not part of a pair. */
const forbiddenCharacter = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const mayHoldForbidden = /[\u0000\uD800-\uDFFF]/;

export interface SanitizeReport {
  /** Each reason at most once per row. */
  reasons: Set<SanitizeReason>;
}

/** Text with NUL and unpaired surrogates replaced by U+FFFD. */
export function withoutForbiddenCharacters(text: string, report?: SanitizeReport): string {
  if (!mayHoldForbidden.test(text)) return text;
  const cleaned = text.replace(forbiddenCharacter, REPLACEMENT);
  if (cleaned !== text) report?.reasons.add('forbidden-characters');
  return cleaned;
}

/** The first `length` code units of `text`, never ending in half a surrogate pair. */
function prefix(text: string, length: number): string {
  const code = text.charCodeAt(length - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? length - 1 : length);
}

/**
 * An identifier within `max`: its start, then `…` and 16 hex of the SHA-256 of the whole, so that two
 * identifiers that differ only past the bound stay different.
 */
export function boundIdentifier(text: string, max: number, report?: SanitizeReport): string {
  if (text.length <= max) return text;
  report?.reasons.add('too-long');
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  return `${prefix(text, max - 17)}…${hash}`;
}

/** Free text within `max`: its start and a marker saying how many characters were cut. */
export function boundText(text: string, max: number, report?: SanitizeReport): string {
  if (text.length <= max) return text;
  report?.reasons.add('too-long');
  // The marker's own length depends on the count it states; the whole text's length bounds it.
  const kept = prefix(text, max - `…[${text.length} more characters cut]`.length);
  return `${kept}…[${text.length - kept.length} more characters cut]`;
}

/** A string of a document made storable: forbidden characters replaced, then cut at `max`. */
function sanitizeString(value: string, max: number, identifier: boolean, report: SanitizeReport): string {
  // Most strings need nothing: one length check and one regex test, no allocation.
  if (value.length <= max && !mayHoldForbidden.test(value)) return value;
  const clean = withoutForbiddenCharacters(value, report);
  return identifier ? boundIdentifier(clean, max, report) : boundText(clean, max, report);
}

/** A JSON document with every string (and key) made storable. Returns the same object when nothing changed. */
function sanitizeDocument(value: unknown, report: SanitizeReport): unknown {
  if (typeof value === 'string') return sanitizeString(value, STORED_BOUNDS.text, false, report);
  if (Array.isArray(value)) {
    let changed = value.length > STORED_BOUNDS.listItems;
    if (changed) report.reasons.add('too-long');
    const items = changed ? value.slice(0, STORED_BOUNDS.listItems) : value;
    let out: unknown[] | undefined;
    for (let i = 0; i < items.length; i++) {
      const item: unknown = items[i];
      const clean = sanitizeDocument(item, report);
      if (clean !== item) (out ??= [...items])[i] = clean;
    }
    return out ?? (changed ? items : value);
  }
  if (value !== null && typeof value === 'object') {
    let out: Record<string, unknown> | undefined;
    const record = value as Record<string, unknown>;
    for (const key in record) {
      const item = record[key];
      const cleanKey = sanitizeString(key, 256, false, report);
      const clean = sanitizeDocument(item, report);
      if (cleanKey !== key || clean !== item) {
        out ??= { ...record };
        if (cleanKey !== key) delete out[key];
        out[cleanKey] = clean;
      }
    }
    return out ?? value;
  }
  return value;
}

/** Strings of a document with a bound of their own (an index entry, the apiserver's own cut). */
function withBoundFields<T extends Record<string, unknown>>(doc: T, bounds: readonly (readonly [string, Bound])[], report: SanitizeReport): T {
  let out: T | undefined;
  for (const [field, bound] of bounds) {
    const value = doc[field];
    if (typeof value !== 'string') continue;
    const clean = sanitizeString(value, bound.max, bound.identifier, report);
    if (clean !== value) (out ??= { ...doc })[field as keyof T] = clean as T[keyof T];
  }
  return out ?? doc;
}

interface Bound {
  max: number;
  identifier: boolean;
}
// As lists, made once: Object.entries of a map per row was a tenth of sanitising.
const actorBounds = Object.entries({ username: { max: STORED_BOUNDS.username, identifier: true }, impersonated_user: { max: STORED_BOUNDS.username, identifier: true } });
const sourceBounds = Object.entries({ user_agent: { max: STORED_BOUNDS.userAgent, identifier: false } });

/** Any JSON value (KubeArmor's raw event) with every string and key made storable; the same value when nothing changed. */
export function sanitizeJson(value: unknown, report: SanitizeReport): unknown {
  return sanitizeDocument(value, report);
}

/**
 * The row made storable, and what was repaired. Times were already clamped by normalizeTime when the
 * row was extracted; `clampedTime` reports that so it is counted here with the rest.
 */
export function sanitizeSessionRow(row: SessionRow, clampedTime = false): { row: SessionRow; reasons: SanitizeReason[] } {
  const report: SanitizeReport = { reasons: new Set() };
  if (clampedTime) report.reasons.add('time-out-of-range');
  const identifier = (text: string, max: number) => boundIdentifier(withoutForbiddenCharacters(text, report), max, report);
  const auditId = identifier(row.auditId, STORED_BOUNDS.auditId);
  const namespace = identifier(row.namespace, STORED_BOUNDS.namespace);
  const name = identifier(row.name, STORED_BOUNDS.name);
  // The fields with a bound of their own first: the general bound is the larger.
  const actor = sanitizeDocument(withBoundFields(row.actor, actorBounds, report), report) as SessionRow['actor'];
  const source = sanitizeDocument(withBoundFields(row.source, sourceBounds, report), report) as SessionRow['source'];
  const execMetadata = sanitizeDocument(row.execMetadata, report) as SessionRow['execMetadata'];
  // Nothing repaired is nothing changed: the row as it came, no copy.
  if (report.reasons.size === 0) return { row, reasons: [] };
  return { row: { ...row, auditId, namespace, name, actor, source, execMetadata }, reasons: [...report.reasons] };
}
