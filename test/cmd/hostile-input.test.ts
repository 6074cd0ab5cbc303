/**
 * Whatever a cluster user can put into an audit event or a runtime event neither halts ingestion nor
 * hides the events beside it. Seeded generated cases (test/support/hostile-input.ts), each with one
 * hostile field, interleaved with normal events, through every source of the real processor: an audit
 * log file, a directory with a gzipped backup, the audit webhook, KubeArmor JSON lines and a KubeArmor
 * gRPC feeder on loopback, into both backends. Every normal event is stored exactly once; every hostile
 * one is stored at most once (sanitised) or counted as bad input.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../src/store/database.ts';
import { FakeFeeder } from '../runtime/feeder-server.ts';
import { jsonLines } from '../support/audit-event.ts';
import { collect, freePort, runProcessor, startProcessor, waitForLogLine } from '../support/cli.ts';
import { backends, createTestDatabaseTarget, skipReason, type TestDatabaseTarget } from '../support/databases.ts';
import { hostileAuditCases, hostileRuntimeCases, hostileSeed, kubeArmorLog, normalAuditEvents } from '../support/hostile-input.ts';
import { seededRandom } from '../support/random.ts';

const CASES = 2000;
const seed = hostileSeed();
/** Reasons that mean "stored after a repair", not "skipped". */
const repairs = new Set(['forbidden-characters', 'too-long', 'time-out-of-range']);

const hostileAudit = hostileAuditCases(seed, CASES);
const normalAudit = normalAuditEvents(CASES);
/** Hostile and normal audit events, shuffled together (seeded), so that they share batches. */
const auditEvents = interleave([...hostileAudit.flatMap((c) => c.events), ...normalAudit], seed);
const hostileRuntime = hostileRuntimeCases(seed + 1, CASES);
const normalRuntime = Array.from({ length: CASES }, (_, n) => kubeArmorLog(n, `normal-${n}`));
const runtimeEvents = interleave([...hostileRuntime.map((c) => c.event), ...normalRuntime], seed + 2);

function interleave<T>(items: T[], shuffleSeed: number): T[] {
  const random = seededRandom(shuffleSeed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Bad-input counts that mean "skipped", from the -once summary's "bad input: reason=n ..." or /metrics. */
function skippedCount(counts: Record<string, number>): number {
  return Object.entries(counts).reduce((sum, [reason, n]) => sum + (repairs.has(reason) ? 0 : n), 0);
}

function summaryCounts(stdout: string): Record<string, number> {
  const text = /bad input: ([^)]*)\)/.exec(stdout)?.[1] ?? '';
  return Object.fromEntries([...text.matchAll(/([\w-]+)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

function metricCounts(metrics: string): Record<string, number> {
  return Object.fromEntries([...metrics.matchAll(/^exectrail_bad_input_total\{reason="([^"]+)"\} (\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
}

async function checkAudit(db: Database, cluster: string, skipped: number): Promise<void> {
  const { rows } = await db.query<{ audit_id: string; uid: string | null; n: number }>(
    `SELECT audit_id, actor->>'uid' AS uid, count(*) OVER (PARTITION BY audit_id)::int AS n FROM change_events WHERE cluster = $1`,
    [cluster],
  );
  const normal = rows.filter((r) => r.audit_id.startsWith('normal-'));
  assert.equal(normal.length, CASES, `every normal session stored (seed ${seed})`);
  assert.equal(new Set(normal.map((r) => r.audit_id)).size, CASES, `each exactly once (seed ${seed})`);
  const storedMarkers = rows.map((r) => r.uid).filter((uid): uid is string => !!uid?.startsWith('case-'));
  assert.equal(new Set(storedMarkers).size, storedMarkers.length, `a hostile session is stored at most once (seed ${seed})`);
  const missing = CASES - storedMarkers.length;
  assert.ok(skipped >= missing, `${missing} hostile cases not stored but only ${skipped} counted as bad input (seed ${seed})`);
  // Both outcomes are exercised: most hostile values are repaired, some events are not events at all.
  assert.ok(storedMarkers.length > CASES / 2 && missing > 0, `stored ${storedMarkers.length} of ${CASES} (seed ${seed})`);
}

async function checkRuntime(db: Database, cluster: string, skipped: number): Promise<void> {
  const { rows } = await db.query<{ cwd: string | null }>(`SELECT cwd FROM runtime_events WHERE cluster = $1`, [cluster]);
  const cwds = rows.map((r) => r.cwd ?? '');
  const normal = cwds.filter((c) => c.startsWith('normal-'));
  assert.equal(normal.length, CASES, `every normal runtime event stored (seed ${seed})`);
  assert.equal(new Set(normal).size, CASES, `each exactly once (seed ${seed})`);
  const stored = cwds.filter((c) => c.startsWith('case-'));
  const missing = CASES - new Set(stored).size;
  assert.ok(skipped >= missing, `${missing} hostile runtime events not stored but only ${skipped} counted (seed ${seed})`);
  assert.ok(stored.length > CASES / 2, `stored ${stored.length} of ${CASES} (seed ${seed})`);
}

for (const backend of backends) {
  describe(`hostile input through every source, on ${backend} (seed ${seed}; HOSTILE_SEED=${seed} replays it)`, { skip: skipReason(backend) }, () => {
    let target: TestDatabaseTarget;
    let dir: string;
    before(async () => {
      target = await createTestDatabaseTarget(backend);
      dir = mkdtempSync(join(tmpdir(), 'exectrail-hostile-'));
    });
    after(async () => {
      await target?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    const withDb = async (fn: (db: Database) => Promise<void>) => {
      const db = await target.open();
      try {
        await fn(db);
      } finally {
        await db.close();
      }
    };

    it(`an audit log file (${CASES} hostile requests among ${CASES} normal ones) and KubeArmor JSON lines`, async () => {
      writeFileSync(join(dir, 'audit.log'), jsonLines(auditEvents));
      writeFileSync(join(dir, 'kubearmor.jsonl'), jsonLines(runtimeEvents));
      const run = await runProcessor(['-once', '-cluster', 'file', '-audit-log-file', join(dir, 'audit.log'), '-kubearmor-file', join(dir, 'kubearmor.jsonl'), ...target.flags]);
      assert.equal(run.code, 0, run.stderr.slice(-2000));
      const skipped = skippedCount(summaryCounts(run.stdout));
      await withDb(async (db) => {
        await checkAudit(db, 'file', skipped);
        await checkRuntime(db, 'file', skipped);
      });
    });

    it('an audit log directory with a gzipped backup', async () => {
      const logs = join(dir, 'logs');
      const half = Math.floor(auditEvents.length / 2);
      rmSync(logs, { recursive: true, force: true });
      await import('node:fs/promises').then((fs) => fs.mkdir(logs));
      writeFileSync(join(logs, 'audit-2025-10-19T14-00-00.000.log.gz'), gzipSync(jsonLines(auditEvents.slice(0, half))));
      writeFileSync(join(logs, 'audit.log'), jsonLines(auditEvents.slice(half)));
      const run = await runProcessor(['-once', '-cluster', 'dir', '-audit-log-dir', logs, ...target.flags]);
      assert.equal(run.code, 0, run.stderr.slice(-2000));
      await withDb((db) => checkAudit(db, 'dir', skippedCount(summaryCounts(run.stdout))));
    });

    it('the audit webhook and a KubeArmor gRPC feeder, live', async () => {
      const feeder = await FakeFeeder.start();
      const [webhookPort, httpPort] = [await freePort(), await freePort()];
      const child = startProcessor(['-cluster', 'live', '-enable-webhook', '-webhook-port', String(webhookPort), '-http-port', String(httpPort), '-kubearmor-addr', feeder.address, ...target.flags]);
      const result = collect(child);
      try {
        await waitForLogLine(child, /audit webhook listening|webhook on port|listening/i);
        // Batches of 400 as the apiserver sends them; a batch is answered 200 once its sessions are committed.
        for (let i = 0; i < auditEvents.length; i += 400) {
          const response = await fetch(`http://127.0.0.1:${webhookPort}/audit`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: auditEvents.slice(i, i + 400) }),
          });
          assert.equal(response.status, 200, `batch ${i / 400}: ${(await response.text()).slice(0, 300)}`);
        }
        await feeder.waitForStreams('WatchLogs');
        // gRPC carries typed fields: the same cases with values the proto can hold.
        const wire = interleave([...hostileRuntimeCases(seed + 1, CASES, true).map((c) => c.event), ...normalRuntime], seed + 3);
        await feeder.send('WatchLogs', wire);
        // Received (and normalised or refused) when received + refused reach what was sent.
        let counts: Record<string, number> = {};
        const deadline = Date.now() + 60_000;
        for (;;) {
          const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
          counts = metricCounts(metrics);
          const received = Number(/^exectrail_runtime_events_received_total\{source="grpc"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
          const pending = Number(/^exectrail_runtime_events_pending (\d+)/m.exec(metrics)?.[1] ?? 1);
          const refusedOnArrival = (counts['runtime-not-an-object'] ?? 0) + (counts['runtime-bad-time'] ?? 0);
          if (received + refusedOnArrival >= wire.length && pending === 0) break;
          assert.ok(Date.now() < deadline, `runtime events not all received: ${received} + ${refusedOnArrival} of ${wire.length}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        child.kill('SIGTERM');
        const ended = await result;
        assert.equal(ended.code, 0, ended.stderr.slice(-2000));
        await withDb(async (db) => {
          await checkAudit(db, 'live', skippedCount(counts));
          await checkRuntime(db, 'live', skippedCount(counts));
        });
      } finally {
        child.kill('SIGKILL');
        await feeder.stop();
      }
    });
  });
}
