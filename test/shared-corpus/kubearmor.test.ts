/**
 * The KubeArmor side over the real-world corpus in ../shared: our proto against the reference's field
 * table, and every real KubeArmor event of ../shared/fixtures/kubearmor read as the relay's JSON and as
 * a feeder message, stored, and correlated without a throw.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { normalizeFeederMessage, normalizeRuntimeEvent } from '../../src/runtime/event.ts';
import { runtimeEventFromLine } from '../../src/runtime/json-lines.ts';
import { feederLogService } from '../../src/runtime/feeder-proto.ts';
import { startRuntimeIngest } from '../../src/runtime/start.ts';
import type { Database } from '../../src/store/database.ts';
import { assertCorrelationCopes } from '../correlate/support.ts';
import { feederFields } from '../runtime/feeder-fields.ts';
import { FakeFeeder } from '../runtime/feeder-server.ts';
import { assertEveryFixtureStored, feederRowColumns, kubeArmorFixtures, type Duplicate } from '../runtime/fixtures.ts';
import { createTestDatabase, preferredBackend } from '../support/databases.ts';
import { sharedFixturesDir, sharedReferenceDir, sharedSkip } from './shared.ts';

const corpus = () => kubeArmorFixtures(`${sharedFixturesDir}kubearmor/`, /^kubearmor-.*\.jsonl$/);
/** kubearmor-interactive-shell-alerts.jsonl lines 7 and 8 are the same event printed in two docs (its .source.txt). */
const corpusDuplicates: Duplicate[] = [{ file: 'kubearmor-interactive-shell-alerts.jsonl', line: 8, of: 7 }];
const context = { cluster: 'corpus', receivedAt: '2026-01-01T00:00:00.000Z' };

describe('KubeArmor on the real-world corpus', { skip: sharedSkip }, () => {
  let db: Database;
  let close: () => Promise<void>;
  before(async () => {
    if (!sharedSkip) ({ db, close } = await createTestDatabase(preferredBackend));
  });
  after(() => close?.());

  it("the reference's Alert and Log table is the one our proto is held to (test/runtime/feeder-fields.ts)", () => {
    const reference = readFileSync(`${sharedReferenceDir}kubearmor-feeder.md`, 'utf8');
    const rows = [...reference.matchAll(/^\| (\w+) \| ([^|]+?) \| ([\d-]+) \| ([\d-]+) \|$/gm)].map(([, name, type, alert, log]) => [
      name, type, alert === '-' ? '-' : Number(alert), log === '-' ? '-' : Number(log),
    ]);
    assert.deepEqual(rows, feederFields);
  });

  it('tells alerts from logs, and gives each event the same key as relay JSON and over gRPC', () => {
    const keys = new Set<string>();
    for (const fixture of corpus()) {
      const json = normalizeRuntimeEvent(fixture.object, context);
      assert.ok(json.ok, `${fixture.file}:${fixture.line}`);
      assert.equal(json.event.kind, fixture.rpc === 'WatchAlerts' ? 'alert' : 'log', `${fixture.file}:${fixture.line}`);
      const method = feederLogService().service[fixture.rpc]!;
      const wire = normalizeFeederMessage(method.responseDeserialize(method.responseSerialize(fixture.object)) as Record<string, unknown>, json.event.kind, context);
      assert.ok(wire.ok);
      assert.equal(wire.event.eventKey, json.event.eventKey, `${fixture.file}:${fixture.line}`);
      keys.add(json.event.eventKey);
    }
    assert.equal(keys.size, corpus().length - corpusDuplicates.length);
  });

  it('stores every corpus event streamed by a feeder, with its fields and microsecond time', async () => {
    const feeder = await FakeFeeder.start();
    const ingest = await startRuntimeIngest({ db, cluster: 'corpus', metrics: createMetrics(), logger: silentLogger, addresses: [feeder.address], allAlerts: true });
    try {
      await feeder.waitForStreams('WatchAlerts');
      await feeder.waitForStreams('WatchLogs');
      const fixtures = corpus();
      await feeder.send('WatchAlerts', fixtures.filter((f) => f.rpc === 'WatchAlerts').map((f) => f.object));
      await feeder.send('WatchLogs', fixtures.filter((f) => f.rpc === 'WatchLogs').map((f) => f.object));
      const distinct = fixtures.length - corpusDuplicates.length;
      for (const deadline = Date.now() + 30_000; ; ) {
        const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM runtime_events WHERE cluster = 'corpus'`);
        if (rows[0]!.n >= distinct) break;
        if (Date.now() > deadline) throw new Error(`${rows[0]!.n} of ${distinct} corpus events stored after 30 s`);
        await new Promise((r) => setTimeout(r, 25));
      }
      await ingest.queue.flushed();
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${feederRowColumns} FROM runtime_events WHERE cluster = 'corpus'`);
      assertEveryFixtureStored(fixtures, rows, corpusDuplicates);
    } finally {
      await ingest.stop();
      await feeder.stop();
    }
  });

  it('correlates the corpus against a session into every pod it names without a throw', async () => {
    // Docs' samples trimmed of both times cannot be placed in time: counted (runtime-bad-time), not stored.
    const outcomes = corpus().map((f) => ({ text: f.text, outcome: runtimeEventFromLine(f.text, context) }));
    const untimed = outcomes.filter(({ outcome }) => outcome.kind !== 'event');
    for (const { text, outcome } of untimed) {
      assert.deepEqual([outcome.kind, outcome.kind === 'rejected' && outcome.reason], ['rejected', 'runtime-bad-time']);
      assert.doesNotMatch(text, /"(Timestamp|UpdatedTime)"/);
    }
    await assertCorrelationCopes(db, outcomes.filter(({ outcome }) => outcome.kind === 'event').map(({ text }) => text), 'corpus-correlation');
  });
});
