import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeFeederMessage, normalizeRuntimeEvent, type RuntimeEvent } from '../../src/runtime/event.ts';
import { feederLogService } from '../../src/runtime/feeder-proto.ts';
import { runtimeEventFromLine } from '../../src/runtime/json-lines.ts';
import { daemonFixtures, kubeArmorFixture, kubeArmorFixtures, sessionExecId } from './fixtures.ts';

const context = { cluster: 'prod', receivedAt: '2026-01-01T00:00:00.000Z' };

function normalized(input: unknown): RuntimeEvent {
  const outcome = normalizeRuntimeEvent(input, context);
  assert.ok(outcome.ok, JSON.stringify(outcome));
  return outcome.event;
}

/** What a feeder sends for a fixture: the object encoded as Alert/Log with our proto and decoded again. */
function overTheWire(object: Record<string, unknown>, rpc: 'WatchAlerts' | 'WatchLogs'): Record<string, unknown> {
  const method = feederLogService().service[rpc]!;
  return method.responseDeserialize(method.responseSerialize(object)) as Record<string, unknown>;
}

const execAlert = kubeArmorFixture('relay-alerts.jsonl', 1);

describe('runtime event normaliser', () => {
  it('reads the BPF-LSM exec alert with its microsecond time, exec ID, TTY and process tree', () => {
    const event = normalized(execAlert.object);
    assert.equal(event.kind, 'alert');
    assert.equal(event.eventTime, '2025-03-11T08:04:10.773210Z');
    assert.equal(event.cluster, 'prod', '-cluster names the row; KubeArmor\'s ClusterName stays in raw');
    assert.equal(event.raw?.ClusterName, 'default', 'an alert keeps its raw form');
    assert.equal(event.execId, sessionExecId);
    assert.equal(event.executableName, 'bash');
    assert.equal(event.tty, 'pts0');
    assert.equal(event.cwd, '/');
    // A BPF-LSM alert puts the host parent PID in PPID.
    assert.deepEqual([event.pid, event.ppid, event.hostPid, event.hostPpid, event.uid], [75, 48211, 48275, 48211, 0]);
    assert.deepEqual(event.owner, { kind: 'Deployment', name: 'checkout', namespace: 'payments' });
    assert.equal(event.namespace, 'payments');
    assert.equal(event.pod, 'checkout-5f7b9c8d6-q2w9z');
    assert.equal(event.containerName, 'app');
    assert.equal(event.policyName, 'block-package-managers');
    assert.equal(event.action, 'Block');
    assert.equal(event.enforcer, 'BPFLSM');
    assert.equal(event.resource, '/usr/bin/apt-get install -y nmap');
    assert.match(event.eventKey, /^[0-9a-f]{32}$/);
  });

  it('tells alerts from logs by Type, then by alert-only fields', () => {
    for (const fixture of kubeArmorFixtures()) {
      assert.equal(normalized(fixture.object).kind, fixture.rpc === 'WatchAlerts' ? 'alert' : 'log', `${fixture.file}:${fixture.line}`);
    }
    assert.equal(normalized({ UpdatedTime: '2024-01-01T00:00:00.000001Z', PolicyName: 'p' }).kind, 'alert');
    assert.equal(normalized({ UpdatedTime: '2024-01-01T00:00:00.000001Z', Operation: 'Process' }).kind, 'log');
  });

  it('takes event time from UpdatedTime with microseconds, else whole-second Timestamp (also as a string)', () => {
    assert.equal(normalized({ UpdatedTime: '2025-12-08T18:28:47.125539Z', Timestamp: 1765218527 }).eventTime, '2025-12-08T18:28:47.125539Z');
    assert.equal(normalized({ Timestamp: '1705058469' }).eventTime, '2024-01-12T11:21:09.000000Z');
    assert.equal(normalized({ timestamp: 1.705058469e9 }).eventTime, '2024-01-12T11:21:09.000000Z');
    assert.equal(normalized({ UpdatedTime: '2024-01-12T12:21:09.5+01:00' }).eventTime, '2024-01-12T11:21:09.500000Z');
    const bad = normalizeRuntimeEvent({ UpdatedTime: '2023-02-30T00:00:00.000000Z' }, context);
    assert.equal(bad.ok, false, 'a day that does not exist is not silently rolled over');
    const garbage = normalizeRuntimeEvent({ Timestamp: 'yesterday' }, context);
    assert.ok(!garbage.ok && garbage.reason === 'runtime-bad-time' && /Timestamp \(a string of 9 characters/.test(garbage.detail) && !garbage.detail.includes('yesterday'));
    const future = normalizeRuntimeEvent({ UpdatedTime: '9999-12-31T23:30:00-01:00' }, context);
    assert.ok(future.ok && future.event.eventTime === '2199-12-31T23:59:59.999999Z' && future.repaired.includes('time-out-of-range'), 'clamped into the stored range, and said');
  });

  it('coerces numbers sent as strings or floats, and rejects what is not an int32', () => {
    const event = normalized({ Timestamp: 1, PID: 1.252628e6, HostPID: '1252628', PPID: '1.252628e+06', UID: 'root', HostPPID: 2 ** 40 });
    assert.deepEqual([event.pid, event.hostPid, event.ppid, event.uid, event.hostPpid], [1252628, 1252628, 1252628, null, null]);
  });

  it("reads the daemon's camelCase form as the same event as the relay's PascalCase form", () => {
    const relay = kubeArmorFixtures().filter((f) => f.file === 'relay-exec-session.jsonl');
    const daemon = daemonFixtures();
    assert.equal(daemon.length, 2);
    daemon.forEach(({ object }, i) => {
      const a = normalized(relay[i]!.object);
      const b = normalized(object);
      assert.deepEqual({ ...b, raw: undefined }, { ...a, raw: undefined }, `daemon line ${i + 1}`);
      assert.ok(b.execId && b.hostPpid && b.owner, 'execEvent, hostPPid and owner are read');
    });
  });

  it('stores KubeArmor\'s ExecID "0" and an empty ExecEvent as no exec ID', () => {
    assert.equal(normalized({ Timestamp: 1, ExecEvent: { ExecID: '0', ExecutableName: 'sh' } }).execId, null);
    const network = kubeArmorFixture('relay-alerts.jsonl', 3);
    assert.deepEqual(network.object.ExecEvent, {});
    const event = normalized(network.object);
    assert.equal(event.execId, null);
    assert.equal(event.nodeId, 'b7e2c9a4f1d8365e0a2c4b6d8f0e1a3c5e7b9d1f3a5c7e9b0d2f4a6c8e0b1d3f');
    assert.deepEqual([event.ppid, event.uid, event.pid], [0, 0, null]);
  });

  it('gives an event the same key over gRPC and as relay JSON, and different keys to different events', () => {
    const keys = new Set<string>();
    for (const fixture of kubeArmorFixtures()) {
      const fromJson = normalized(fixture.object);
      const wire = normalizeFeederMessage(overTheWire(fixture.object, fixture.rpc), fixture.rpc === 'WatchAlerts' ? 'alert' : 'log', context);
      assert.ok(wire.ok);
      assert.equal(wire.event.eventKey, fromJson.eventKey, `${fixture.file}:${fixture.line}`);
      assert.equal(wire.event.eventTime, fromJson.eventTime);
      keys.add(fromJson.eventKey);
    }
    // relay-alerts.jsonl lines 1 and 6 are one event printed twice.
    assert.equal(keys.size, kubeArmorFixtures().length - 1);
  });

  it('keeps the key of an event across versions (a re-read after an upgrade stores nothing twice)', () => {
    // The key this event got when migration 0007 shortened keys to 32 hex characters.
    const line =
      '{"Timestamp":1768878000,"UpdatedTime":"2026-01-20T03:00:00.000163Z","ClusterName":"default","HostName":"ip-10-0-3-64","NamespaceName":"data",' +
      '"PodName":"redis-2-6a767ffba-dda0c","ContainerID":"8431281fb02e","ContainerName":"redis","ParentProcessName":"/usr/local/bin/redis-server",' +
      '"ProcessName":"/bin/sh","HostPPID":201477,"HostPID":202058,"PPID":1,"PID":148,"UID":0,"Type":"ContainerLog","Source":"/usr/local/bin/redis-server",' +
      '"Operation":"Process","Resource":"/bin/sh -c echo hi","Data":"syscall=SYS_EXECVE","Result":"Passed","ExecEvent":{"ExecID":"0","ExecutableName":"sh"}}';
    const outcome = normalizeRuntimeEvent(JSON.parse(line), { cluster: 'prod' });
    assert.ok(outcome.ok);
    assert.equal(outcome.event.eventKey, 'cdf5e6169fb3f4c9e7340fa3db4dc70d');
  });

  it('keeps an event that has no time at all (hand-trimmed samples, Timestamp 0) at the epoch, stably', () => {
    const trimmed = kubeArmorFixture('relay-old-renders.jsonl', 5);
    const outcome = normalizeRuntimeEvent(trimmed.object, context);
    assert.ok(outcome.ok && outcome.timeSource === 'none');
    assert.equal(outcome.event.eventTime, '1970-01-01T00:00:00.000000Z');
    assert.equal(normalized(trimmed.object).eventKey, outcome.event.eventKey);
  });
});

describe('KubeArmor JSON lines', () => {
  it('skips the relay\'s own zap log lines and blank lines, and reads events (also behind kubectl --timestamps)', () => {
    assert.deepEqual(runtimeEventFromLine('{"level":"info","ts":1705058469.1234,"msg":"Connected to the gRPC server"}', context), { kind: 'skipped', reason: 'relay-log-line' });
    assert.deepEqual(runtimeEventFromLine('{"level":"info","ts":1.7e9,"msg":"relay: UpdatedTime\\" ok"}', context), { kind: 'skipped', reason: 'relay-log-line' });
    assert.deepEqual(runtimeEventFromLine('   ', context), { kind: 'skipped', reason: 'blank' });
    const event = runtimeEventFromLine(`2026-01-01T10:00:00.123456789Z ${execAlert.text}`, context);
    assert.equal(event.kind, 'event');
  });

  it('rejects a line that is not JSON with the reason, never quoting the line (it may hold a secret)', () => {
    const outcome = runtimeEventFromLine('{"Timestamp":1705058469,"Resource":"mysql -pS3cret', context);
    assert.equal(outcome.kind, 'rejected');
    assert.ok(outcome.kind === 'rejected' && outcome.reason === 'runtime-bad-json' && /ends early|invalid JSON/.test(outcome.detail), JSON.stringify(outcome));
    assert.ok(outcome.kind === 'rejected' && !outcome.detail.includes('S3cret') && !outcome.detail.includes('mysql'));
    const notJson = runtimeEventFromLine('panic: mysql -pS3cret', context);
    assert.ok(notJson.kind === 'rejected' && !notJson.detail.includes('S3cret'));
    assert.equal(runtimeEventFromLine('panic: runtime error', context).kind, 'rejected');
    assert.equal(runtimeEventFromLine('["Timestamp"]', context).kind, 'rejected');
  });
});
