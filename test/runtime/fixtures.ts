/**
 * The KubeArmor fixtures of our own (test/fixtures/kubearmor, described in test/fixtures/README.md): the
 * relay's PascalCase JSON lines as objects, each with the RPC a feeder would send it on. Which one is
 * decided here from the reference's facts (alert Types are Matched*, SystemEvent; logs ContainerLog,
 * HostLog), independently of src/runtime. The same functions read the real-world corpus in
 * ../shared/fixtures/kubearmor for the extra suite (test/shared-corpus).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixturesDir = fileURLToPath(new URL('../fixtures/kubearmor/', import.meta.url));

export interface KubeArmorFixture {
  file: string;
  line: number;
  /** The line as it is in the file. */
  text: string;
  object: Record<string, unknown>;
  rpc: 'WatchAlerts' | 'WatchLogs';
}

/** Every event line of the files in `dir` whose names match `names` (the relay's forms by default). */
export function kubeArmorFixtures(dir = fixturesDir, names = /^relay-.*\.jsonl$/): KubeArmorFixture[] {
  const out: KubeArmorFixture[] = [];
  for (const file of readdirSync(dir).filter((f) => names.test(f)).sort()) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    lines.forEach((text, index) => {
      if (!text.trim()) return;
      const object = JSON.parse(text) as Record<string, unknown>;
      const type = String(object.Type ?? '');
      const rpc = type === 'ContainerLog' || type === 'HostLog' ? 'WatchLogs' : 'WatchAlerts';
      out.push({ file, line: index + 1, text, object, rpc });
    });
  }
  return out;
}

/** One fixture by file and line. */
export function kubeArmorFixture(file: string, line: number): KubeArmorFixture {
  const found = kubeArmorFixtures(fixturesDir, /\.jsonl$/).find((f) => f.file === file && f.line === line);
  if (!found) throw new Error(`no KubeArmor fixture ${file}:${line}`);
  return found;
}

/** The node daemon's camelCase lines (daemon-camelcase.jsonl): the first two events of relay-exec-session.jsonl. */
export function daemonFixtures(): { text: string; object: Record<string, unknown> }[] {
  return readFileSync(join(fixturesDir, 'daemon-camelcase.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((text) => ({ text, object: JSON.parse(text) as Record<string, unknown> }));
}

/** A fixture line that is another line of the same file printed again (by a second relay, by another doc). */
export interface Duplicate {
  file: string;
  line: number;
  of: number;
}

/**
 * relay-alerts.jsonl line 6 is line 1 (the Block alert) as a second relay printed it, differing only in
 * Severity: the same event, one row (the first one stored keeps its Severity).
 */
export const ourDuplicates: Duplicate[] = [{ file: 'relay-alerts.jsonl', line: 6, of: 1 }];

export function isKnownDuplicate(fixture: Pick<KubeArmorFixture, 'file' | 'line'>, duplicates = ourDuplicates): boolean {
  return duplicates.some((d) => d.file === fixture.file && d.line === fixture.line);
}

/** What a row must hold for a fixture sent over gRPC, worked out from the fixture and the reference alone. */
export function expectedFeederRow(fixture: KubeArmorFixture, fixtures: readonly KubeArmorFixture[], duplicates = ourDuplicates): Record<string, unknown> {
  const duplicate = duplicates.find((d) => d.file === fixture.file && d.line === fixture.line);
  const stored = duplicate ? fixtures.find((f) => f.file === duplicate.file && f.line === duplicate.of)! : fixture;
  const o = stored.object;
  const textOf = (key: string) => (o[key] === undefined || o[key] === '' ? null : o[key]);
  // proto3 does not carry zeros; PPID and UID read as 0 when absent, as KubeArmor's JSON prints them.
  // Numbers travel as int32 (old text output's floats such as 1.048601e+06 included).
  const intOf = (key: string) => (o[key] ? Math.round(Number(o[key])) : key === 'PPID' || key === 'UID' ? 0 : null);
  const time = o.UpdatedTime ?? (o.Timestamp ? `${new Date(Number(o.Timestamp) * 1000).toISOString().slice(0, 19)}.000000Z` : '1970-01-01T00:00:00.000000Z');
  const owner = o.Owner as Record<string, string> | undefined;
  const exec = o.ExecEvent as Record<string, string> | undefined;
  return {
    t: time,
    kind: stored.rpc === 'WatchAlerts' ? 'alert' : 'log',
    host_name: textOf('HostName'),
    node_id: textOf('NodeID'),
    namespace: textOf('NamespaceName'),
    pod: textOf('PodName'),
    container_name: textOf('ContainerName'),
    container_id: textOf('ContainerID'),
    container_image: textOf('ContainerImage'),
    labels: textOf('Labels'),
    owner: owner && (owner.Ref || owner.Name || owner.Namespace) ? { kind: owner.Ref || null, name: owner.Name || null, namespace: owner.Namespace || null } : null,
    process_name: textOf('ProcessName'),
    parent_process_name: textOf('ParentProcessName'),
    pid: intOf('PID'),
    ppid: intOf('PPID'),
    host_pid: intOf('HostPID'),
    host_ppid: intOf('HostPPID'),
    uid: intOf('UID'),
    cwd: textOf('Cwd'),
    tty: textOf('TTY'),
    exec_id: exec?.ExecID && exec.ExecID !== '0' ? exec.ExecID : null,
    executable_name: exec?.ExecutableName ?? null,
    type: textOf('Type'),
    operation: textOf('Operation'),
    resource: textOf('Resource'),
    source: textOf('Source'),
    data: textOf('Data'),
    result: textOf('Result'),
    policy_name: textOf('PolicyName'),
    severity: textOf('Severity'),
    tags: textOf('Tags'),
    message: textOf('Message'),
    action: textOf('Action'),
    enforcer: textOf('Enforcer'),
  };
}

/** The runtime_events columns expectedFeederRow describes, event_time as canonical text. */
export const feederRowColumns = `to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t, kind, host_name, node_id, namespace, pod,
  container_name, container_id, container_image, labels, owner, process_name, parent_process_name, pid, ppid, host_pid, host_ppid, uid,
  cwd, tty, exec_id, executable_name, type, operation, resource, source, data, result, policy_name, severity, tags, message, action, enforcer`;

/** Each fixture is exactly one row, holding what the reference says a feeder message carries (a duplicate: its original's row). */
export function assertEveryFixtureStored(fixtures: readonly KubeArmorFixture[], rows: readonly Record<string, unknown>[], duplicates = ourDuplicates): void {
  for (const fixture of fixtures) {
    const expected = expectedFeederRow(fixture, fixtures, duplicates);
    const matches = rows.filter((r) => ['t', 'kind', 'host_name', 'pid', 'host_pid', 'resource', 'data'].every((c) => r[c] === expected[c]));
    assert.equal(matches.length, 1, `${fixture.file}:${fixture.line} is one row`);
    assert.deepEqual(matches[0], expected, `${fixture.file}:${fixture.line}`);
  }
  assert.equal(rows.length, fixtures.length - fixtures.filter((f) => isKnownDuplicate(f, duplicates)).length, 'one row per distinct event');
}

/** The ExecID of the interactive session in relay-exec-session.jsonl and of the alerts it raised. */
export const sessionExecId = '2207415531840611';

/** A container process log n (KubeArmor's PascalCase JSON), as typed in one exec session; `tag` keeps tests apart. */
export function syntheticLog(n: number, tag: string): Record<string, unknown> {
  return {
    Timestamp: 1741680137 + Math.floor(n / 1_000_000),
    UpdatedTime: `2025-03-11T08:${String(2 + Math.floor(n / 60_000_000)).padStart(2, '0')}:${String(17 + (Math.floor(n / 1_000_000) % 13)).padStart(2, '0')}.${String(n % 1_000_000).padStart(6, '0')}Z`,
    ClusterName: 'default',
    HostName: `node-${tag}`,
    NamespaceName: 'payments',
    PodName: 'checkout-5f7b9c8d6-q2w9z',
    ContainerID: '4c1f9e7d2b6a8c0e3f5a7b9d1c2e4f6a8b0c1d3e5f7a9b2c4d6e8f0a1b3c5d7e',
    ContainerName: 'app',
    ParentProcessName: '/bin/bash',
    ProcessName: '/bin/echo',
    HostPPID: 48211,
    HostPID: 250000 + (n % 1_000_000),
    PPID: 57,
    PID: 100 + (n % 30_000),
    UID: 0,
    Type: 'ContainerLog',
    Source: '/bin/bash',
    Operation: 'Process',
    Resource: `/bin/echo ${n}`,
    Data: 'syscall=SYS_EXECVE',
    Result: 'Passed',
    Cwd: '/',
    TTY: 'pts0',
    ExecEvent: { ExecID: sessionExecId, ExecutableName: 'echo' },
  };
}
