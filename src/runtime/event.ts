/**
 * One KubeArmor alert or log, in any of the forms it reaches us, → one `runtime_events` row.
 * Pure functions, no I/O (../shared/reference/kubearmor-feeder.md "JSON forms of the same events").
 *
 * Forms accepted, all through the same lookup:
 *  - a feeder gRPC `Alert` / `Log` message decoded by proto-loader (PascalCase, int64 as a string,
 *    zero values absent because proto3 does not send them);
 *  - relay stdout / `karmor logs --json` / `kubectl logs` of the relay (PascalCase, Go `omitempty`
 *    except PPID and UID, `ExecEvent` may be `{}`, `ATags` may be null);
 *  - the node daemon's own file output (camelCase: `hostPid`, `hostPPid`, `ppid`, `execEvent`...);
 *  - protojson / old text renders: `"Timestamp":"1705058469"`, `"PID":1.252628e+06`.
 * Field names are therefore matched case-insensitively, and every number is coerced.
 */
import { defaultRedaction, redactCommandLine, redactStrings, type Redaction } from '../audit/redact.ts';
import { boundIdentifier, boundText, sanitizeJson, STORED_BOUNDS, withoutForbiddenCharacters, type SanitizeReason, type SanitizeReport } from '../audit/sanitize.ts';
import { normalizeTime } from '../time/timestamps.ts';
import { clampMicros, microsToIso } from '../time/micros.ts';
import type { RuntimeEventRow } from '../store/schema.ts';
import { runtimeEventKey } from './event-key.ts';

export type RuntimeEventKind = 'alert' | 'log';

/** A runtime_events row: declared once, in src/store/schema.ts. Text is null when absent or empty. */
export type RuntimeEvent = RuntimeEventRow;

/** Which events keep their raw form in `raw` (-kubearmor-raw): the columns hold everything queries use. */
export type RawKept = 'alerts' | 'all' | 'none';

export interface NormalizeContext {
  cluster: string;
  /** Received time; defaults to now. */
  receivedAt?: string;
  /** Secrets hidden in Resource, Source, Data and the raw event (default: the built-in set; -redact). */
  redaction?: Redaction;
  /** Which events keep `raw` (default alerts: they are few, and carry what no column holds). */
  raw?: RawKept;
}

export type NormalizeOutcome =
  | {
      ok: true;
      event: RuntimeEvent;
      /**
       * Where event_time came from. 'none': the event carried neither UpdatedTime nor Timestamp (a
       * proto message with Timestamp 0, a hand-trimmed sample); it is stored at the Unix epoch, which
       * is what Timestamp 0 means on the wire, so that receiving it twice still stores it once.
       */
      timeSource: 'UpdatedTime' | 'Timestamp' | 'none';
      /** What was repaired to make it storable (src/audit/sanitize.ts), each reason once. */
      repaired: SanitizeReason[];
    }
  | { ok: false; reason: RuntimeRejectReason; detail: string };

export type RuntimeRejectReason = 'runtime-not-an-object' | 'runtime-bad-time';

const EPOCH = '1970-01-01T00:00:00.000000Z';
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Alert `Type`s (MatchedPolicy, MatchedHostPolicy, MatchedNetworkPolicy, SystemEvent); logs are ContainerLog / HostLog. */
const logTypes = new Set(['containerlog', 'hostlog']);

/**
 * Alert or log, for JSON that does not say: nothing in relay/karmor output marks it, so `Type` decides,
 * then the presence of alert-only fields (PolicyName, Action, Enforcer, Severity).
 */
export function runtimeKindOf(fields: FieldLookup): RuntimeEventKind {
  return kindOf(fields.values());
}

function kindOf(v: FieldValues): RuntimeEventKind {
  const type = plainText(v.type)?.toLowerCase();
  if (type) {
    if (logTypes.has(type)) return 'log';
    if (type.startsWith('matched') || type === 'systemevent') return 'alert';
  }
  return plainText(v.policyname) || plainText(v.action) || plainText(v.enforcer) || plainText(v.severity) ? 'alert' : 'log';
}

// Lower-case spellings of the keys seen (a few dozen in practice: every event repeats the same names),
// so the per-event path does not lower-case strings. Bounded in case input carries arbitrary keys.
const lowerCaseOf = new Map<string, string>();
const LOWER_CASE_CACHE_LIMIT = 4096;

function lowerCase(key: string): string {
  let lower = lowerCaseOf.get(key);
  if (lower === undefined) {
    lower = key.toLowerCase();
    if (lowerCaseOf.size < LOWER_CASE_CACHE_LIMIT) lowerCaseOf.set(key, lower);
  }
  return lower;
}

// Resource, Source and Data repeat from event to event (a pod's processes, `syscall=SYS_EXECVE`), and
// redacting a command line is most of what normalising an event costs: the result of each short text
// is remembered per redaction, in a map emptied whenever it reaches its bound.
const REDACTED_MEMO_LIMIT = 8192;
const REDACTED_MEMO_MAX_LENGTH = 512;
const redactedMemo = new WeakMap<Redaction, Map<string, string>>();

function redactedCommandLine(text: string, redaction: Redaction): string {
  if (text.length > REDACTED_MEMO_MAX_LENGTH) return redactCommandLine(text, redaction);
  let memo = redactedMemo.get(redaction);
  if (!memo) redactedMemo.set(redaction, (memo = new Map()));
  let redacted = memo.get(text);
  if (redacted === undefined) {
    redacted = redactCommandLine(text, redaction);
    if (memo.size >= REDACTED_MEMO_LIMIT) memo.clear();
    memo.set(text, redacted);
  }
  return redacted;
}

/**
 * The spelling of each field we read as KubeArmor's proto and the relay's JSON write it. An object that
 * uses only these (or keys we never read) is read directly; any other spelling of a field we read
 * (camelCase, lower case) sends it through the case-insensitive map. Both give the same values.
 */
const READ_FIELDS = ['Timestamp', 'UpdatedTime', 'HostName', 'NodeID', 'NamespaceName', 'PodName', 'ContainerName', 'ContainerID', 'ContainerImage', 'Labels', 'Owner', 'Ref', 'Name', 'Namespace', 'ProcessName', 'ParentProcessName', 'PID', 'PPID', 'HostPID', 'HostPPID', 'UID', 'Cwd', 'TTY', 'ExecEvent', 'ExecID', 'ExecutableName', 'Type', 'Operation', 'Resource', 'Source', 'Data', 'Result', 'PolicyName', 'Severity', 'Tags', 'Message', 'Action', 'Enforcer'] as const;
const SPELLINGS = new Map<string, string>(READ_FIELDS.map((key) => [key.toLowerCase(), key] as const));

/** The value of each field we read, by lower-case name (undefined when absent). */
export type FieldValues = { [K in (typeof READ_FIELDS)[number] as Lowercase<K>]: unknown };

// Compiled once: each field read by its literal name, so every read is a named property load (as
// `f.get(name)` per field, the lookups were ~2 µs of each event's normalising, profiled on 500k lines).
const readDirect = new Function('o', `return { ${READ_FIELDS.map((key) => `${key.toLowerCase()}: o[${JSON.stringify(key)}]`).join(', ')} };`) as (object: Record<string, unknown>) => FieldValues;
const readMapped = new Function('m', `return { ${READ_FIELDS.map((key) => `${key.toLowerCase()}: m.get(${JSON.stringify(key.toLowerCase())})`).join(', ')} };`) as (byLowerName: Map<string, unknown>) => FieldValues;

// Whether each key seen is read directly: its proto spelling, or a name we never read. Bounded like lowerCaseOf.
const directKey = new Map<string, boolean>();

function isDirectKey(key: string): boolean {
  let direct = directKey.get(key);
  if (direct === undefined) {
    const spelling = SPELLINGS.get(lowerCase(key));
    direct = spelling === undefined || spelling === key;
    if (directKey.size < LOWER_CASE_CACHE_LIMIT) directKey.set(key, direct);
  }
  return direct;
}

function lowerCaseMap(object: Record<string, unknown>): Map<string, unknown> {
  const byLowerName = new Map<string, unknown>();
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    const lower = lowerCase(key);
    // The first spelling wins if an object carries two (it never should).
    if (!byLowerName.has(lower)) byLowerName.set(lower, object[key]);
  }
  return byLowerName;
}

/** Case-insensitive view of an object's own keys (PascalCase, camelCase and protojson all map to one name). */
export class FieldLookup {
  /** Made only when some key is not read directly (the relay's and the proto's spelling need no map). */
  private byLowerName: Map<string, unknown> | undefined;

  constructor(private readonly object: Record<string, unknown>) {
    for (const key in object) {
      if (Object.hasOwn(object, key) && !isDirectKey(key)) {
        this.byLowerName = lowerCaseMap(object);
        break;
      }
    }
  }

  /** Value by lower-case name. */
  get(lowerName: string): unknown {
    if (this.byLowerName) return this.byLowerName.get(lowerName);
    const spelling = SPELLINGS.get(lowerName);
    if (spelling === undefined) return (this.byLowerName = lowerCaseMap(this.object)).get(lowerName);
    // No own-property check: Object.prototype has none of these names, and JSON.parse and the proto
    // decoder make plain objects.
    return this.object[spelling];
  }

  has(lowerName: string): boolean {
    return present(this.get(lowerName));
  }

  /** Every field we read at once. */
  values(): FieldValues {
    // No own-property check, as in get().
    return this.byLowerName ? readMapped(this.byLowerName) : readDirect(this.object);
  }
}

const present = (value: unknown) => value !== undefined && value !== null && value !== '';

/** True when a JSON object is a KubeArmor event, not a relay's own zap log line (`{"level":..,"ts":..}`). */
export function looksLikeRuntimeEvent(object: Record<string, unknown>): boolean {
  const fields = new FieldLookup(object);
  return fields.has('timestamp') || fields.has('updatedtime');
}

/** A parsed JSON object: normalised when it is a KubeArmor event, undefined when it is not (looksLikeRuntimeEvent). */
export function normalizeIfRuntimeEvent(object: Record<string, unknown>, context: NormalizeContext): NormalizeOutcome | undefined {
  const v = new FieldLookup(object).values();
  return present(v.timestamp) || present(v.updatedtime) ? normalizeValues(object, v, context) : undefined;
}

/**
 * Normalises one event. `kind` is known for gRPC (which RPC it came from); for JSON it is inferred.
 * Never throws: values of the wrong type become null (the raw object keeps them).
 */
export function normalizeRuntimeEvent(
  input: unknown,
  context: NormalizeContext,
  kind?: RuntimeEventKind,
): NormalizeOutcome {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, reason: 'runtime-not-an-object', detail: `expected a JSON object, got ${Array.isArray(input) ? 'an array' : typeof input}` };
  }
  return normalizeValues(input as Record<string, unknown>, new FieldLookup(input as Record<string, unknown>).values(), context, kind);
}

function normalizeValues(input: Record<string, unknown>, v: FieldValues, context: NormalizeContext, kind?: RuntimeEventKind): NormalizeOutcome {
  const time = eventTimeOf(v.updatedtime, v.timestamp);
  if (!time.ok) return { ok: false, reason: 'runtime-bad-time', detail: time.detail };

  // Whatever a workload can put into an event (its command line, its pod's labels) is made storable
  // and its secrets hidden, in the columns and in raw alike (src/audit/sanitize.ts, redact.ts).
  const report: SanitizeReport = { reasons: new Set() };
  if (time.clamped) report.reasons.add('time-out-of-range');
  const redaction = context.redaction ?? defaultRedaction;
  const text = (value: unknown) => storableText(value, report);
  // Identifiers are index keys (runtime_events' btree indexes refuse entries over 2704 bytes).
  const name = (value: unknown) => {
    const t = text(value);
    return t === null ? null : boundIdentifier(t, STORED_BOUNDS.namespace, report);
  };
  const commandLine = (value: unknown) => {
    const t = text(value);
    return t === null ? null : redactedCommandLine(t, redaction);
  };
  const eventKind = kind ?? kindOf(v);
  const rawKept = context.raw ?? 'alerts';
  const raw = rawKept === 'all' || (rawKept === 'alerts' && eventKind === 'alert') ? (redactStrings(sanitizeJson(input, report), redaction) as Record<string, unknown>) : null;

  const ownerFields = objectLookup(v.owner);
  const owner = ownerFields
    ? { kind: text(ownerFields.get('ref')), name: text(ownerFields.get('name')), namespace: text(ownerFields.get('namespace')) }
    : null;
  const execFields = objectLookup(v.execevent);
  const execId = text(execFields?.get('execid'));

  const event: RuntimeEvent = {
    eventKey: '',
    eventTime: time.value,
    receivedAt: context.receivedAt ?? new Date().toISOString(),
    cluster: context.cluster,
    kind: eventKind,
    // Alerts stay for the sessions' retention; a log stays only once correlation links it to a session.
    kept: eventKind === 'alert',
    hostName: name(v.hostname),
    nodeId: name(v.nodeid),
    namespace: name(v.namespacename),
    pod: name(v.podname),
    containerName: name(v.containername),
    containerId: name(v.containerid),
    containerImage: text(v.containerimage),
    labels: text(v.labels),
    owner: owner && (owner.kind || owner.name || owner.namespace) ? owner : null,
    processName: text(v.processname),
    parentProcessName: text(v.parentprocessname),
    pid: int32(v.pid),
    ppid: int32(v.ppid),
    hostPid: int32(v.hostpid),
    hostPpid: int32(v.hostppid),
    uid: int32(v.uid),
    cwd: text(v.cwd),
    tty: text(v.tty),
    execId: execId === '0' ? null : execId,
    executableName: text(execFields?.get('executablename')),
    type: text(v.type),
    operation: text(v.operation),
    resource: commandLine(v.resource),
    source: commandLine(v.source),
    data: commandLine(v.data),
    result: text(v.result),
    policyName: text(v.policyname),
    severity: text(v.severity),
    tags: text(v.tags),
    message: text(v.message),
    action: text(v.action),
    enforcer: text(v.enforcer),
    raw,
  };
  event.eventKey = runtimeEventKey(event);
  return { ok: true, event, timeSource: time.source, repaired: [...report.reasons] };
}

/**
 * A decoded gRPC message → row. proto3 does not send zero values, so an absent PPID or UID is 0 (the
 * relay's JSON of the same message prints both even when 0); other absent numbers stay unknown (null).
 */
export function normalizeFeederMessage(message: Record<string, unknown>, kind: RuntimeEventKind, context: NormalizeContext): NormalizeOutcome {
  const outcome = normalizeRuntimeEvent(message, context, kind);
  if (outcome.ok) {
    const event = outcome.event;
    if (event.ppid === null) event.ppid = 0;
    if (event.uid === null) event.uid = 0;
  }
  return outcome;
}

type TimeResult = { ok: true; value: string; source: 'UpdatedTime' | 'Timestamp' | 'none'; clamped: boolean } | { ok: false; detail: string };

/**
 * event_time: UpdatedTime keeps microseconds; Timestamp is whole seconds; both absent (or 0) → the epoch.
 * A time outside the stored range is clamped into it (src/time/micros.ts) and reported.
 */
export function eventTimeOf(updatedTime: unknown, timestamp: unknown): TimeResult {
  const updated = typeof updatedTime === 'string' ? updatedTime : '';
  if (updated) {
    const time = normalizeTime(updated);
    if (time) return { ok: true, value: time.value, source: 'UpdatedTime', clamped: time.clamped };
  }
  const seconds = number(timestamp);
  if (seconds !== null && seconds !== 0) {
    const us = Math.floor(seconds) * 1_000_000;
    const clamped = clampMicros(us);
    return { ok: true, value: microsToIso(clamped), source: 'Timestamp', clamped: clamped !== us };
  }
  if (updated || (timestamp !== undefined && timestamp !== null && timestamp !== '' && seconds !== 0)) {
    // Never quoted: the fields are input.
    return { ok: false, detail: `neither UpdatedTime (${describeValue(updatedTime)}) nor Timestamp (${describeValue(timestamp)}) is a valid time` };
  }
  return { ok: true, value: EPOCH, source: 'none', clamped: false };
}

function describeValue(value: unknown): string {
  if (value === undefined || value === null || value === '') return 'absent';
  return typeof value === 'string' ? `a string of ${value.length} characters that is not RFC 3339` : `a ${typeof value}`;
}

/** A non-empty string as sent, null otherwise (for deciding, not for storing). */
function plainText(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** A non-empty storable string (numbers and booleans rendered), null otherwise. */
function storableText(value: unknown, report: SanitizeReport): string | null {
  if (typeof value === 'string') {
    if (value === '') return null;
    return boundText(withoutForbiddenCharacters(value, report), STORED_BOUNDS.text, report);
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return null;
}

/** A finite number from a number or a numeric string (`"1705058469"`, `"1.252628e+06"`). */
function number(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : null;
  }
  return null;
}

/** An int32 (PIDs, UID): floats such as 1.252628e+06 are rounded; out of range → null. */
function int32(value: unknown): number | null {
  const parsed = number(value);
  if (parsed === null) return null;
  const rounded = Math.round(parsed);
  return rounded >= INT32_MIN && rounded <= INT32_MAX ? rounded : null;
}

function objectLookup(value: unknown): FieldLookup | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? new FieldLookup(value as Record<string, unknown>) : undefined;
}
