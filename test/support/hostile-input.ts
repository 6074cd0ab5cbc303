/**
 * Hostile input, generated from a seed: audit events and KubeArmor events where one field holds what a
 * cluster user (or a forged line) could put there. Each case carries a marker in another field, so that
 * a test can tell whether it was stored; the normal events beside them carry `normal-<n>`.
 */
import { execStages } from './audit-event.ts';
import { seededRandom, seedFromEnv } from './random.ts';

/** HOSTILE_SEED, else a fresh seed (printed by the caller so a failure can be replayed). */
export function hostileSeed(): number {
  return seedFromEnv('HOSTILE_SEED');
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

function randomText(random: () => number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    const r = random();
    // Mostly printable, some multi-byte and astral characters, some controls.
    out += r < 0.7 ? String.fromCharCode(33 + Math.floor(random() * 94)) : r < 0.85 ? String.fromCharCode(0x100 + Math.floor(random() * 0x2000)) : r < 0.95 ? '😀' : String.fromCharCode(Math.floor(random() * 32));
  }
  return out;
}

function percentEncoded(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

/** Values that have each broken a store or a parser somewhere. */
function hostileString(random: () => number): string {
  const kind = Math.floor(random() * 12);
  switch (kind) {
    case 0:
      return `a\u0000b`;
    case 1:
      return `\u0000`.repeat(1 + Math.floor(random() * 5));
    case 2:
      return `x\uD800y`; // a lone high surrogate
    case 3:
      return `\uDC00lone`; // a lone low surrogate
    case 4:
      return randomText(random, 256 + Math.floor(random() * 3000)); // past varchar(255) and a btree entry
    case 5:
      return 'z'.repeat(300);
    case 6:
      return '\u202Eevil\u202C\u001b[31mred\u001b[0m';
    case 7:
      return '%00%ZZ%C0%AF\\u0000';
    case 8:
      return randomText(random, 1 + Math.floor(random() * 40));
    case 9:
      return '"},{"kind":"Event"';
    case 10:
      return 'U'.repeat(3_000 + Math.floor(random() * 6_000)); // past every bound (the multi-MB case is in test/audit/sanitize.test.ts)
    default:
      return '';
  }
}

const hostileTimes = ['0001-01-01T00:30:00+01:00', '9999-12-31T23:30:00-01:00', '0000-01-01T00:00:00Z', '1969-12-31T23:59:59.999999Z', '2200-01-01T00:00:00Z', '2024-02-30T00:00:00Z', 'yesterday', '2024-05-02T09:15:01.104512+14:00'];

/** Anything JSON can hold where a string was expected. */
function hostileValue(random: () => number): unknown {
  const r = random();
  if (r < 0.6) return hostileString(random);
  if (r < 0.7) return pick(random, [0, -1, 1e308, null, true, [], {}, ['a', 1]]);
  if (r < 0.8) return { nested: hostileString(random), 'k\u0000': 'v' };
  return pick(random, hostileTimes);
}

type AuditMutation = (event: Record<string, unknown>, random: () => number) => void;

const auditMutations: Record<string, AuditMutation> = {
  auditID: (e, r) => (e.auditID = `${e.auditID}${hostileString(r)}`),
  auditIDValue: (e, r) => (e.auditID = hostileValue(r)),
  // Percent-encoded byte by byte, as a client may send any bytes (invalid UTF-8 too).
  command: (e, r) => (e.requestURI = `${String(e.requestURI).split('?')[0]}?command=${percentEncoded(hostileString(r))}&command=%00&command=%C0%AF%FF&container=main`),
  namespace: (e, r) => {
    const value = hostileString(r) || 'ns';
    (e.objectRef as Record<string, unknown>).namespace = value;
  },
  pod: (e, r) => ((e.objectRef as Record<string, unknown>).name = hostileString(r) || 'pod'),
  username: (e, r) => ((e.user as Record<string, unknown>).username = hostileValue(r)),
  groups: (e, r) => ((e.user as Record<string, unknown>).groups = [hostileString(r), hostileString(r)]),
  extra: (e, r) => ((e.user as Record<string, unknown>).extra = { [hostileString(r) || 'k']: [hostileString(r)] }),
  userAgent: (e, r) => (e.userAgent = hostileValue(r)),
  sourceIPs: (e, r) => (e.sourceIPs = [hostileString(r)]),
  received: (e, r) => (e.requestReceivedTimestamp = pick(r, hostileTimes)),
  stageTimestamp: (e, r) => (e.stageTimestamp = pick(r, hostileTimes)),
  message: (e, r) => (e.responseStatus = { ...(e.responseStatus as object), message: hostileString(r), reason: hostileString(r) }),
  annotations: (e, r) => (e.annotations = { 'authorization.k8s.io/decision': hostileString(r), [hostileString(r) || 'a']: hostileString(r) }),
  impersonated: (e, r) => (e.impersonatedUser = { username: hostileString(r), groups: [hostileString(r)] }),
  code: (e, r) => (e.responseStatus = { code: pick(r, [0, -1, 99999, 1.5, '101']) }),
};

export interface HostileAuditCase {
  /** The case's marker: in `user.uid`, which no mutation touches. */
  marker: string;
  mutation: string;
  events: Record<string, unknown>[];
}

/** `count` exec requests, each with one field made hostile in every one of its stages. */
export function hostileAuditCases(seed: number, count: number): HostileAuditCase[] {
  const random = seededRandom(seed);
  const names = Object.keys(auditMutations);
  const cases: HostileAuditCase[] = [];
  for (let n = 0; n < count; n++) {
    const mutation = names[n % names.length]!;
    const marker = `case-${n}`;
    const caseSeed = Math.floor(random() * 2 ** 31);
    const stages = execStages({ auditID: `hostile-${n}`, user: 'mallory@example.com', received: `2025-10-19T14:41:${String(n % 60).padStart(2, '0')}.${String(n).padStart(6, '0')}Z` });
    // The same mutation in every stage of the request, as the apiserver would repeat it.
    const events = stages.map((stage) => {
      const event = structuredClone(stage) as Record<string, unknown>;
      (event.user as Record<string, unknown>).uid = marker;
      auditMutations[mutation]!(event, seededRandom(caseSeed));
      return event;
    });
    cases.push({ marker, mutation, events });
  }
  return cases;
}

/** Plain exec requests, auditID `normal-<n>`, to interleave with the hostile ones. */
export function normalAuditEvents(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, n) =>
    execStages({ auditID: `normal-${n}`, user: 'alice@example.com', pod: `web-${n % 7}`, received: `2025-10-19T15:00:${String(n % 60).padStart(2, '0')}.${String(n).padStart(6, '0')}Z` }),
  ).flat();
}

/** KubeArmor's process log, as the relay prints it (and as the feeder sends it, PascalCase). */
export function kubeArmorLog(n: number, marker: string): Record<string, unknown> {
  return {
    Timestamp: 1760886000 + n,
    UpdatedTime: `2025-10-19T15:00:00.${String(n).padStart(6, '0')}Z`,
    ClusterName: 'default',
    HostName: 'worker-1',
    NamespaceName: 'shop',
    PodName: 'web-0',
    ContainerName: 'web',
    ContainerID: 'c0ffee',
    HostPID: 50000 + n,
    HostPPID: 49999,
    PID: 200 + n,
    PPID: 1,
    UID: 0,
    ParentProcessName: '/bin/bash',
    ProcessName: '/bin/ls',
    Type: 'ContainerLog',
    Source: '/bin/bash',
    Operation: 'Process',
    Resource: `/bin/ls ${marker}`,
    Data: 'syscall=SYS_EXECVE',
    Result: 'Passed',
    Cwd: marker,
    ExecEvent: { ExecID: String(9000 + n), ExecutableName: 'ls' },
  };
}

const runtimeFields = ['HostName', 'NamespaceName', 'PodName', 'ContainerName', 'ContainerID', 'ProcessName', 'ParentProcessName', 'Source', 'Data', 'Result', 'Labels', 'Owner', 'UpdatedTime', 'Timestamp', 'HostPID', 'PID', 'UID', 'ExecEvent', 'Resource'];

export interface HostileRuntimeCase {
  /** The case's marker, in `Cwd` (a column no mutation touches). */
  marker: string;
  field: string;
  event: Record<string, unknown>;
}

/** `count` KubeArmor events with one field made hostile. `wire`: only values the feeder's proto can carry. */
export function hostileRuntimeCases(seed: number, count: number, wire = false): HostileRuntimeCase[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, n) => {
    const field = runtimeFields[n % runtimeFields.length]!;
    const marker = `case-${n}`;
    const event = kubeArmorLog(100_000 + n, marker);
    const numeric = field === 'Timestamp' || field === 'HostPID' || field === 'PID' || field === 'UID';
    if (field === 'UpdatedTime') event.UpdatedTime = pick(random, hostileTimes);
    else if (wire && numeric) event[field] = pick(random, ['99999999999', '-1', '0', '253402300800']);
    else if (wire && field === 'ExecEvent') event.ExecEvent = { ExecID: hostileString(random), ExecutableName: hostileString(random) };
    else if (wire && field === 'Owner') event.Owner = { Ref: hostileString(random), Name: hostileString(random), Namespace: hostileString(random) };
    else if (wire) event[field] = hostileString(random);
    else event[field] = hostileValue(random);
    return { marker, field, event };
  });
}
