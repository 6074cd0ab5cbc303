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
