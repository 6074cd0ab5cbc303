/**
 * Issue 14, acceptance 1, over the real exports in ../shared/fixtures/external/audit (provenance in its
 * README; read here, never copied): every exec and attach their events hold is stored once, with the
 * right user, pod, time and allowed, through the audit file source; every other exec or attach event
 * is counted with a reason. Skips without ../shared.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { createAuditFileSource } from '../../src/ingest/audit-file-source.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { counterByLabel, createMetrics } from '../../src/observe/metrics.ts';
import type { Database } from '../../src/store/database.ts';
import { splitLines } from '../audit/support.ts';
import { createTestDatabase, preferredBackend } from '../support/databases.ts';
import { sharedFixturesDir, sharedSkip } from './shared.ts';

const external = `${sharedFixturesDir}external/audit/`;
const thmExec = { username: 'mayor-malware', namespace: 'wareville', name: 'morality-checker', started: '2024-10-29T12:21:44.189258Z', allowed: true, subresource: 'exec' };
const bridgeSessions = [
  { username: 'mark.stemm@sysdig.com', namespace: 'default', name: 'nginx-deployment-9c6775499-hdq6z', started: '2020-01-08T18:54:32.796258Z', allowed: true, subresource: 'attach' },
  { username: 'mark.stemm@sysdig.com', namespace: 'default', name: 'hostnetwork-deployment-5dc5447c47-6ssdf', started: '2020-01-11T01:01:19.410800Z', allowed: true, subresource: 'exec' },
];
const openshiftExec = { username: 'system:admin', namespace: 'default', name: 'hello-openshift', started: '2016-09-21T05:17:13.712071Z', allowed: true, subresource: 'exec' };

interface Stored {
  username: string;
  namespace: string;
  name: string;
  started: string;
  allowed: boolean;
  subresource: string;
}

/** Reads the files, each as the -audit-log-file of cluster `cluster`, and returns what is stored and counted. */
async function ingest(db: Database, cluster: string, files: readonly string[]): Promise<{ stored: Stored[]; bad: Record<string, number> }> {
  const metrics = createMetrics();
  for (const file of files) {
    const source = createAuditFileSource({
      db,
      flags: { 'audit-log-file': external + file, 'audit-log-dir': '', 'start-at': 'beginning', 'max-line-bytes': 1 << 24, 'progress-interval': 0, cluster },
      metrics,
      logger: silentLogger,
    });
    await source.runOnce();
  }
  const { rows } = await db.query<{ actor: { username: string }; namespace: string; name: string; allowed: boolean; exec_metadata: { started_at: string; subresource: string } }>(
    `SELECT actor, namespace, name, allowed, exec_metadata FROM change_events WHERE cluster = $1 ORDER BY exec_metadata->>'started_at'`,
    [cluster],
  );
  const stored = rows.map((r) => ({ username: r.actor.username, namespace: r.namespace, name: r.name, started: r.exec_metadata.started_at, allowed: r.allowed, subresource: r.exec_metadata.subresource }));
  return { stored, bad: await counterByLabel(metrics.badInput, 'reason') };
}

/** Whether a line holds an exec or attach event (native, escaped in an envelope, or a GKE method name). */
const holdsExecOrAttach = (line: string) => /subresource\\?"\s*:\s*\\?"(exec|attach)\\?"|\.pods\.(exec|attach)\./.test(line);

describe('managed clusters: the real exports of ../shared/fixtures/external', { skip: sharedSkip }, () => {
  let db: Database;
  let close: () => Promise<void>;
  before(async () => {
    if (!sharedSkip) ({ db, close } = await createTestDatabase(preferredBackend));
  });
  after(() => close?.());

  it('THM minikube and every probe envelope around its exec: one session, the right user, pod, time and allowed', async () => {
    const probes = readdirSync(`${external}probes`).filter((name) => /^p[1-7]_/.test(name)).map((name) => `probes/${name}`);
    assert.equal(probes.length, 7);
    const { stored, bad } = await ingest(db, 'thm', ['thm_aoc2024_day22_minikube.jsonl', ...probes]);
    assert.deepEqual(stored, [thmExec], 'stored once, whatever envelope it came in');
    // THM line 1 is cut in the source but ends with "}": not a session, and a dropped line is judged by its ends only.
    assert.deepEqual(bad, {});
  });

  it('the Sysdig bridge events (apiGroup "core") and their normalised copy: the exec and the attach, once each', async () => {
    const { stored, bad } = await ingest(db, 'bridge', ['stackdriver_bridge_k8s_audit_events.jsonl', 'probes/p8_stackdriver_bridge_apigroup_normalized.jsonl']);
    assert.deepEqual(stored, bridgeSessions);
    assert.deepEqual(bad, {});
  });

  it('the OpenShift legacy line with method="POST": the exec', async () => {
    const { stored } = await ingest(db, 'openshift', ['probes/p9_openshift_audit_glog_prefix_replaced_by_rfc3339.log']);
    assert.deepEqual(stored, [openshiftExec]);
  });

  it('Panther EKS, AKS and GKE test lines: none carries a time, so none forms a session; each exec or attach event is counted with a reason', async () => {
    const file = 'panther_k8s_eks_rule_tests.jsonl';
    const lines = splitLines(readFileSync(external + file)).map((l) => l.toString('utf8'));
    const execLines = lines.filter(holdsExecOrAttach);
    assert.ok(execLines.length >= 20, `${execLines.length} Panther lines with an exec or attach`);
    let counted = 0;
    for (const line of execLines) {
      const outcome = sessionsFromLine(Buffer.from(line), { cluster: 'panther' });
      assert.equal(outcome.rows.length, 0, line.slice(0, 120));
      // An exec/attach event that is not a session is counted, unless it is not one (an RBAC rule naming pods/exec).
      if (/"resources":\["pods\/exec"\]/.test(line) && !/subresource/.test(line)) continue;
      assert.ok(outcome.rejected.length >= 1, `counted: ${line.slice(0, 160)}`);
      counted += outcome.rejected.length;
    }
    const { stored, bad } = await ingest(db, 'panther', [file]);
    assert.deepEqual(stored, []);
    const total = Object.values(bad).reduce((a, b) => a + b, 0);
    assert.ok(total >= counted, `the file source counted ${total} (${JSON.stringify(bad)}), the exec lines alone ${counted}`);
  });

  it('the GKE entries as Go struct dumps (not an export format) and Elastic\'s fixtures: counted or not interactive, never silent', async () => {
    const gkeDumps = splitLines(readFileSync(`${external}stackdriver_bridge_gke_log_entries.jsonl`)).map((l) => l.toString('utf8'));
    for (const line of gkeDumps.filter(holdsExecOrAttach)) {
      const outcome = sessionsFromLine(Buffer.from(line), { cluster: 'dumps' });
      assert.ok(outcome.rejected.length === 1 && outcome.rows.length === 0, line.slice(0, 120));
    }
    const { stored } = await ingest(db, 'elastic', ['elastic_k8s_test-audit.log', 'elastic_k8s_test-kube-audit.log']);
    assert.deepEqual(stored, [], 'no exec or attach in them');
  });
});
