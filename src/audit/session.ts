/**
 * One interactive-access session: the `change_events` row we store (its columns are declared in
 * src/store/schema.ts, its `actor`, `source` and `exec_metadata` documents in session-documents.ts).
 *
 * A session is all stages of one request: one auditID (per cluster) and one request key (requestKeyOf).
 * Stages arrive in any order, in different files
 * or webhook batches, so `mergeSessions` is commutative, associative and idempotent: a later stage fills
 * in what an earlier one lacked and never erases it.
 */
import { createHash, hash } from 'node:crypto';
import type { ChangeEventRow } from '../store/schema.ts';
import type { ExecMetadata } from './session-documents.ts';
import { redactionCount } from './redact.ts';
import { millisBetween } from '../time/timestamps.ts';

/**
 * One `change_events` row with operation EXEC: the table's row (declared in src/store/schema.ts) with what
 * every exectrail session has (kubechronicle's admission rows leave these columns null).
 *  - id: `EXEC:<cluster>:<auditID>` (sessionId); the store keeps it for the first request stored with this
 *    auditID and gives a request that reuses the ID another (reusedSessionId);
 *  - requestKey: what tells one request from another with the same auditID (requestKeyOf);
 *  - timestamp: the session start (requestReceivedTimestamp), ISO 8601 with microseconds.
 */
export type SessionRow = Pick<ChangeEventRow, 'id' | 'cluster' | 'timestamp' | 'namespace' | 'name' | 'actor' | 'source' | 'allowed'> & {
  auditId: string;
  requestKey: string;
  operation: 'EXEC';
  resourceKind: 'Pod' | 'Node';
  execMetadata: ExecMetadata;
};

/** The id of the first request stored with this (cluster, auditID): kubechronicle's `EXEC:<cluster>:<auditID>`. */
export function sessionId(cluster: string, auditId: string): string {
  const id = `EXEC:${cluster}:${auditId}`;
  if (id.length <= 255) return id;
  return `EXEC:${cluster.slice(0, 100)}:sha256:${createHash('sha256').update(auditId).digest('hex')}`;
}

/**
 * The id of a request that reuses an auditID already stored for another request: the first id with a
 * `:reuse-` suffix from its request key (longer on the rare collision, then numbered: a client choosing
 * its Audit-ID could aim at a suffix, never at every one).
 */
export function reusedSessionId(firstId: string, requestKey: string, attempt: number): string {
  const suffix = attempt === 0 ? requestKey.slice(0, 12) : attempt === 1 ? requestKey : `${requestKey}-${attempt}`;
  const id = `${firstId}:reuse-${suffix}`;
  return id.length <= 255 ? id : `${firstId.slice(0, 255 - suffix.length - 7)}:reuse-${suffix}`;
}

/**
 * What every audit stage of one request shares and two requests never do: the apiserver's
 * requestReceivedTimestamp (to the microsecond), the user, the verb and the URI's path (namespace, pod,
 * subresource; for nodes/proxy the node and kubelet path). A client sets the auditID (Audit-ID header),
 * so the ID alone would let one request overwrite another's session.
 *
 * Built from the row's stored fields, so that a migration can compute it for rows stored before it
 * (migrations/0006_session_request_key.sql computes the same SHA-256 in SQL). The query string is left
 * out: it carries the command, whose secrets must not be recoverable from a stored hash; the timestamp
 * already tells two requests apart.
 */
export function requestKeyOf(row: Pick<SessionRow, 'resourceKind' | 'namespace' | 'name' | 'actor' | 'execMetadata'>): string {
  const meta = row.execMetadata;
  const parts = [meta.started_at, row.actor.username, meta.verb, row.resourceKind, row.namespace, row.name, meta.subresource, meta.kubelet_path];
  let text = '';
  for (const part of parts) {
    const value = part ?? '';
    text += `${Buffer.byteLength(value, 'utf8')}:${value};`;
  }
  // One-shot hash: a Hash object per stage cost as much as the rest of the key.
  return hash('sha256', text, 'hex');
}

/** Audit stages in the order the apiserver writes them. */
const stageRank: Record<string, number> = { RequestReceived: 1, ResponseStarted: 2, ResponseComplete: 3, Panic: 4 };

/** A response code means allowed when the request went through: 101 (upgraded) or 2xx. No code yet: not refused. */
export function isAllowedCode(code: number | undefined): boolean {
  return code === undefined || code === 101 || (code >= 200 && code < 300);
}

/*
 * Merging is a join in a semilattice, field by field, so that it is commutative, associative and
 * idempotent: the store merges stages across batches, files and concurrent writers in whatever order
 * they come. Every field takes "defined beats absent" and, between two different values:
 *   started_at  the earliest          ended_at       the latest (only ResponseComplete/Panic set it)
 *   stages      the union             response_code  the highest (Panic's 500 beats 101)
 *   anything else the value with more [REDACTED] markers (re-ingesting with a new -redact rule hides a
 *   secret already stored), then the greater canonical JSON: the stages of one request carry the same
 *   URI, user and annotations, so this only decides between re-ingestions.
 * duration_ms, timestamp and allowed are then derived from the merged fields.
 */
type Join = (a: unknown, b: unknown) => unknown;

/** JSON with sorted keys, so that two equal documents compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return plainCanonicalJson(value) ?? canonicalJsonByReplacer(value);
}

/** Array indices ("0", "17"): an object lists them first, in numeric order, whatever their insertion order. */
const isArrayIndex = (key: string) => /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 4294967295;

/**
 * canonicalJson for plain JSON data (what session rows hold) without the replacer's copy of every
 * object: the same text, or undefined for anything else (toJSON, Dates, class instances, bigint), which
 * then takes the replacer path. Merging calls it several times per session stage.
 */
function plainCanonicalJson(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          const text = item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : plainCanonicalJson(item);
          if (text === undefined) return undefined;
          out += (i ? ',' : '') + text;
        }
        return out + ']';
      }
      const proto = Object.getPrototypeOf(value);
      if ((proto !== Object.prototype && proto !== null) || 'toJSON' in value) return undefined;
      const record = value as Record<string, unknown>;
      const indices: string[] = [];
      const names: string[] = [];
      for (const key of Object.keys(record)) {
        const v = record[key];
        if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
        (isArrayIndex(key) ? indices : names).push(key);
      }
      indices.sort((a, b) => Number(a) - Number(b));
      names.sort();
      let out = '{';
      let first = true;
      for (const key of indices.length ? [...indices, ...names] : names) {
        const text = plainCanonicalJson(record[key]);
        if (text === undefined) return undefined;
        out += (first ? '' : ',') + JSON.stringify(key) + ':' + text;
        first = false;
      }
      return out + '}';
    }
    default:
      return undefined;
  }
}

function canonicalJsonByReplacer(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  ) ?? 'null';
}

/**
 * Whether two values have the same canonicalJson, compared in place for plain JSON data (what session
 * rows hold): merging compares every field of two stages, and serialising both sides was half its cost.
 * Anything else (undefined inside arrays, non-finite numbers, toJSON, class instances) is serialised.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  const same = samePlainJson(a, b);
  return same ?? canonicalJson(a) === canonicalJson(b);
}

/** sameJson for plain JSON data, or undefined when the answer needs canonicalJson. */
function samePlainJson(a: unknown, b: unknown): boolean | undefined {
  if (a === b) return true;
  const kind = plainKind(a);
  const other = plainKind(b);
  if (kind === undefined || other === undefined) return undefined;
  // Each kind has JSON of its own shape; two different leaves of one kind have different JSON.
  if (kind !== other || (kind !== 'array' && kind !== 'record')) return false;
  if (kind === 'array') {
    const left = a as unknown[];
    const right = b as unknown[];
    if (left.length !== right.length) return false;
    for (let i = 0; i < left.length; i++) {
      const same = samePlainJson(left[i], right[i]);
      if (same !== true) return same;
    }
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  let keys = 0;
  for (const key of Object.keys(left)) {
    const value = left[key];
    if (value === undefined) continue;
    keys++;
    const same = Object.prototype.hasOwnProperty.call(right, key) ? samePlainJson(value, right[key]) : plainKind(value) === undefined ? undefined : false;
    if (same !== true) return same;
  }
  for (const key of Object.keys(right)) {
    const value = right[key];
    // canonicalJson leaves these out of an object, as it leaves undefined.
    if (typeof value === 'function' || typeof value === 'symbol') return undefined;
    if (value !== undefined) keys--;
  }
  return keys === 0;
}

/** The JSON kind of plain data; undefined for what JSON.stringify turns into something else (undefined, NaN, toJSON). */
function plainKind(value: unknown): 'string' | 'number' | 'boolean' | 'null' | 'array' | 'record' | undefined {
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return Number.isFinite(value) ? 'number' : undefined;
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return 'array';
      const proto = Object.getPrototypeOf(value);
      return (proto === Object.prototype || proto === null) && !('toJSON' in value) ? 'record' : undefined;
    }
    default:
      return undefined;
  }
}

const preferred: Join = (a, b) => {
  const byRedaction = redactionCount(a) - redactionCount(b);
  if (byRedaction !== 0) return byRedaction > 0 ? a : b;
  return canonicalJson(a) >= canonicalJson(b) ? a : b;
};

const execJoins: Record<string, Join> = {
  started_at: (a, b) => (String(a) <= String(b) ? a : b),
  ended_at: (a, b) => (String(a) >= String(b) ? a : b),
  response_code: (a, b) => (typeof a === 'number' && typeof b === 'number' ? Math.max(a, b) : preferred(a, b)),
  stages: (a, b) => sortStages([...(Array.isArray(a) ? a : []), ...(Array.isArray(b) ? b : [])]),
};

const stageOrder = (x: string, y: string) => (stageRank[x] ?? 0) - (stageRank[y] ?? 0) || (x < y ? -1 : x > y ? 1 : 0);

/** Stages as strings, once each, in the apiserver's order; the same array when it already is (most merges). */
function sortStages(stages: unknown[]): string[] {
  let sorted = true;
  for (let i = 0; sorted && i < stages.length; i++) {
    sorted = typeof stages[i] === 'string' && (i === 0 || stageOrder(stages[i - 1] as string, stages[i] as string) < 0);
  }
  return sorted ? (stages as string[]) : [...new Set(stages.map(String))].sort(stageOrder);
}

const absent = (v: unknown) => v === undefined || v === null;

function joinValue(a: unknown, b: unknown, join: Join = preferred): unknown {
  if (absent(a)) return absent(b) ? undefined : b;
  if (absent(b)) return a;
  if (a === b) return a;
  // Two different strings never have the same JSON.
  if (!(typeof a === 'string' && typeof b === 'string') && sameJson(a, b)) return a;
  return join(a, b);
}

function joinObjects<T extends object>(a: T, b: T, joins: Record<string, Join> = {}): T {
  const out: Record<string, unknown> = {};
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  // Keys in the left's order, then the right's new ones: no sort, as jsonb keeps no order of ours and
  // every comparison is canonical (sorting the keys was most of a merge's cost).
  for (const key of Object.keys(left)) {
    const value = joinValue(left[key], right[key], joins[key]);
    if (value !== undefined) out[key] = value;
  }
  for (const key of Object.keys(right)) {
    if (Object.hasOwn(left, key)) continue;
    const value = joinValue(undefined, right[key], joins[key]);
    if (value !== undefined) out[key] = value;
  }
  return out as T;
}

/** Merges two partial views of one session (same cluster, auditId and requestKey) into one. */
export function mergeSessions(a: SessionRow, b: SessionRow): SessionRow {
  // A fresh object: completed in place.
  const execMetadata = joinObjects(a.execMetadata, b.execMetadata, execJoins);
  const startedAt = execMetadata.started_at;
  const endedAt = execMetadata.ended_at ?? null;
  execMetadata.stages = sortStages(execMetadata.stages ?? []);
  execMetadata.ended_at = endedAt;
  execMetadata.duration_ms = endedAt === null ? null : Math.max(0, millisBetween(startedAt, endedAt));
  return {
    id: a.id,
    cluster: a.cluster,
    auditId: a.auditId,
    requestKey: a.requestKey,
    timestamp: startedAt,
    operation: 'EXEC',
    resourceKind: joinValue(a.resourceKind, b.resourceKind) as SessionRow['resourceKind'],
    namespace: joinValue(a.namespace, b.namespace) as string,
    name: joinValue(a.name, b.name) as string,
    actor: joinObjects(a.actor, b.actor),
    source: joinObjects(a.source, b.source),
    allowed: isAllowedCode(execMetadata.response_code),
    execMetadata,
  };
}

/** The identity of a session: one row per (cluster, auditID, request key). */
export const sessionIdentity = (row: Pick<SessionRow, 'cluster' | 'auditId' | 'requestKey'>) => `${row.cluster}\u0000${row.auditId}\u0000${row.requestKey}`;

/** Collapses stages of the same session into one row each, keeping first-seen order. */
export function mergeStages(rows: Iterable<SessionRow>): SessionRow[] {
  const sessions: SessionRow[] = [];
  // Looked up by request key (a hash, so it tells sessions apart but for a deliberate collision), then
  // by whole identity for the rare other session with the same key: building the identity string of
  // every stage cost more than the lookup.
  const byRequestKey = new Map<string, number>();
  let byIdentity: Map<string, number> | undefined;
  for (const row of rows) {
    let at = byRequestKey.get(row.requestKey);
    if (at !== undefined && (sessions[at]!.auditId !== row.auditId || sessions[at]!.cluster !== row.cluster)) {
      const identity = sessionIdentity(row);
      at = (byIdentity ??= new Map()).get(identity);
      if (at === undefined) byIdentity.set(identity, sessions.length);
    } else if (at === undefined) byRequestKey.set(row.requestKey, sessions.length);
    if (at === undefined) sessions.push(row);
    else sessions[at] = mergeSessions(sessions[at]!, row);
  }
  return sessions;
}
