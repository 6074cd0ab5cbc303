/**
 * The KubeArmor fixtures (../shared/fixtures/kubearmor/kubearmor-*.jsonl), as objects, each with the
 * RPC a feeder would send it on. Which one is decided here from the reference's facts (alert Types
 * are Matched*, SystemEvent; logs ContainerLog, HostLog), independently of src/runtime.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixturesDir = fileURLToPath(new URL('../../../shared/fixtures/kubearmor/', import.meta.url));

export interface KubeArmorFixture {
  file: string;
  line: number;
  /** The line as it is in the file. */
  text: string;
  object: Record<string, unknown>;
  rpc: 'WatchAlerts' | 'WatchLogs';
}

export function kubeArmorFixtures(): KubeArmorFixture[] {
  const out: KubeArmorFixture[] = [];
  for (const file of readdirSync(fixturesDir).filter((f) => f.startsWith('kubearmor-') && f.endsWith('.jsonl')).sort()) {
    const lines = readFileSync(join(fixturesDir, file), 'utf8').split('\n');
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

/**
 * kubearmor-interactive-shell-alerts.jsonl lines 7 and 8 are the same event printed in two docs
 * (its .source.txt), differing only in Severity: one row.
 */
export function isKnownDuplicate(fixture: KubeArmorFixture): boolean {
  return fixture.file === 'kubearmor-interactive-shell-alerts.jsonl' && fixture.line === 8;
}

/** A container process log n (KubeArmor's PascalCase JSON), as typed in one exec session; `tag` keeps tests apart. */
export function syntheticLog(n: number, tag: string): Record<string, unknown> {
  return {
    Timestamp: 1765218527 + Math.floor(n / 1_000_000),
    UpdatedTime: `2025-12-08T18:${String(28 + Math.floor(n / 60_000_000)).padStart(2, '0')}:${String(47 + (Math.floor(n / 1_000_000) % 13)).padStart(2, '0')}.${String(n % 1_000_000).padStart(6, '0')}Z`,
    ClusterName: 'default',
    HostName: `node-${tag}`,
    NamespaceName: 'default',
    PodName: 'nginx-779797d5bd-wlrsn',
    ContainerID: 'c830ee7121da37bde4021a90d51728d05bf2e71ac5a31b6461a39b7cf77cffb1',
    ContainerName: 'nginx',
    ParentProcessName: '/usr/bin/bash',
    ProcessName: '/bin/echo',
    HostPPID: 247074,
    HostPID: 250000 + (n % 1_000_000),
    PPID: 41,
    PID: 100 + (n % 30_000),
    UID: 0,
    Type: 'ContainerLog',
    Source: '/usr/bin/bash',
    Operation: 'Process',
    Resource: `/bin/echo ${n}`,
    Data: 'syscall=SYS_EXECVE',
    Result: 'Passed',
    Cwd: '/',
    TTY: 'pts0',
    ExecEvent: { ExecID: '1078688820741427', ExecutableName: 'echo' },
  };
}
