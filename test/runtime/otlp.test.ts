/**
 * KubeArmor events in OpenTelemetry's form (issue 14, acceptance 3): the same events as OTLP/JSON log
 * records (as kubearmor/otel-adapter writes them: numbers as doubleValue, nested objects as kvlistValue,
 * several records per document) give the runtime events the relay's JSON gives, and, stored by the real
 * KubeArmor line sink and correlated, the same runtime_events rows and the same session links, on
 * PGlite and Postgres.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Correlator } from '../../src/correlate/scheduler.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { runtimeEventFromLine, runtimeEventsFromLine } from '../../src/runtime/json-lines.ts';
import { timeOfUnixNano } from '../../src/runtime/otlp.ts';
import type { Database } from '../../src/store/database.ts';
import { World } from '../../scenarios/correlation.ts';
import { nodeProxyAndDebug, overlappingSessions } from '../../scenarios/correlation-cases.ts';
import { scenarioWriters } from '../correlate/support.ts';
import { runProcessor } from '../support/cli.ts';
import { backends, createTestDatabase, createTestDatabaseTarget, preferredBackend, skipReason } from '../support/databases.ts';

const fixturesDir = fileURLToPath(new URL('../fixtures/kubearmor/', import.meta.url));
const context = { cluster: 'otlp', receivedAt: '2026-01-01T00:00:00.000Z' };

/** One JSON value as an OTLP AnyValue, as the adapter writes it (every number a double). */
function anyValue(value: unknown): Record<string, unknown> | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return { doubleValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { arrayValue: { values: value.map(anyValue).filter((v) => v !== undefined) } };
  return { kvlistValue: { values: keyValues(value as Record<string, unknown>) } };
}

function keyValues(object: Record<string, unknown>): { key: string; value: Record<string, unknown> }[] {
  return Object.entries(object).flatMap(([key, value]) => {
    const v = anyValue(value);
    return v ? [{ key, value: v }] : [];
  });
}

/** KubeArmor JSON lines as OTLP/JSON documents of up to `perDocument` records each. */
function otlpLines(nativeLines: readonly string[], perDocument = 3): string[] {
  const lines: string[] = [];
  for (let i = 0; i < nativeLines.length; i += perDocument) {
    const logRecords = nativeLines.slice(i, i + perDocument).map((line) => {
      const event = JSON.parse(line) as Record<string, unknown>;
      const ms = Date.parse(String(event.UpdatedTime ?? event.updatedTime ?? '2026-01-01T00:00:00Z'));
      return { timeUnixNano: String(ms * 1_000_000), observedTimeUnixNano: String(ms * 1_000_000 + 1), body: anyValue(event), traceId: '', spanId: '' };
    });
    lines.push(JSON.stringify({ resourceLogs: [{ resource: {}, scopeLogs: [{ scope: {}, logRecords }] }] }));
  }
  return lines;
}

const fixtureLines = (name: string) => readFileSync(fixturesDir + name, 'utf8').split('\n').filter((l) => l.trim());

/** Native lines with nulls dropped: OTLP has no null, and the adapter leaves such keys out. */
const withoutNulls = (line: string) => JSON.stringify(JSON.parse(line, (_k, v: unknown) => (v === null ? undefined : v)));

describe('KubeArmor over OpenTelemetry: OTLP/JSON log records', () => {
  for (const name of readdirSync(fixturesDir).filter((n) => n.endsWith('.jsonl')).sort()) {
    it(`${name}: every record gives the event the relay's JSON gives`, () => {
      const native = fixtureLines(name)
        .map((line) => runtimeEventFromLine(withoutNulls(line), context))
        .filter((o) => o.kind === 'event');
      const objects = fixtureLines(name).filter((line) => runtimeEventFromLine(line, context).kind === 'event');
      const otlp = otlpLines(objects.map(withoutNulls)).flatMap((line) => runtimeEventsFromLine(line, context));
      assert.ok(native.length > 0);
      assert.deepEqual(otlp, native);
    });
  }

  it('a record whose body has no time takes timeUnixNano; with neither it is counted, as is a native event without one', () => {
    const [line] = fixtureLines('relay-exec-session.jsonl');
    const event = JSON.parse(line!) as Record<string, unknown>;
    delete event.UpdatedTime;
    delete event.Timestamp;
    const document = (timeUnixNano: string | undefined) =>
      JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ ...(timeUnixNano ? { timeUnixNano } : {}), body: anyValue(event) }] }] }] });
    const [timed] = runtimeEventsFromLine(document('1741680137471520123'), context);
    assert.equal(timed?.kind, 'event');
    assert.equal(timed.kind === 'event' && timed.event.eventTime, '2025-03-11T08:02:17.471520Z');
    assert.deepEqual(runtimeEventsFromLine(document(undefined), context).map((o) => o.kind === 'rejected' && o.reason), ['runtime-bad-time']);
    // The adapter's own capture writes milliseconds in timeUnixNano: not a time, so not taken.
    assert.equal(timeOfUnixNano('1679915426000'), undefined);
    assert.deepEqual(runtimeEventsFromLine(JSON.stringify(event), context).map((o) => o.kind === 'rejected' && o.reason), ['runtime-bad-time']);
    // The relay's own log lines stay uncounted.
    assert.equal(runtimeEventFromLine('{"level":"info","ts":1705058469.1,"msg":"started"}', context).kind, 'skipped');
    const notKvlist = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: '1741680137471520123', body: { stringValue: 'hello' } }] }] }] });
    assert.deepEqual(runtimeEventsFromLine(notKvlist, context).map((o) => o.kind === 'rejected' && o.reason), ['runtime-not-an-object']);
  });
});

/** Rows without the columns that say when they were written. */
const withoutWriteTimes = (rows: Record<string, unknown>[]) =>
  rows.map((row) => Object.fromEntries(Object.entries(row).filter(([key]) => !['received_at', 'created_at', 'updated_at', 'linked_at'].includes(key))));

async function ingestAndCorrelate(db: Database, cluster: string, auditLines: readonly string[], runtimeLines: readonly string[]) {
  const correlator = new Correlator({ db, skewMs: 2_000, logger: silentLogger, debounceMs: 60_000, now: () => Date.parse('2025-10-21T12:00:00Z') });
  const writers = scenarioWriters(db, cluster, { onSessionsCommitted: correlator.onSessionsCommitted, onRuntimeCommitted: correlator.onRuntimeCommitted });
  await writers.audit(auditLines);
  await writers.runtime(runtimeLines, 4);
  assert.deepEqual(await writers.badInput(), {}, 'every line is read');
  await correlator.flush();
  const events = await db.query<Record<string, unknown>>(`SELECT * FROM runtime_events WHERE cluster = $1 ORDER BY event_time, event_key`, [cluster]);
  const links = await db.query<Record<string, unknown>>(`SELECT * FROM exec_session_links WHERE cluster = $1 ORDER BY session_id, event_key`, [cluster]);
  return { events: withoutWriteTimes(events.rows), links: withoutWriteTimes(links.rows) };
}

for (const backend of backends) {
  describe(`KubeArmor OTLP records stored and correlated on ${backend}`, { skip: skipReason(backend) }, () => {
    let native: { db: Database; close: () => Promise<void> };
    let otlp: { db: Database; close: () => Promise<void> };
    before(async () => {
      native = await createTestDatabase(backend);
      otlp = await createTestDatabase(backend);
    });
    after(async () => {
      await native?.close();
      await otlp?.close();
    });

    it('the same runtime_events rows and the same session links as the same events in native JSON', async () => {
      const world = new World();
      overlappingSessions(world);
      nodeProxyAndDebug(world);
      const runtime = world.runtimeLines().map((l) => l.line);
      const fromJson = await ingestAndCorrelate(native.db, 'same', world.auditLines(), runtime);
      const fromOtlp = await ingestAndCorrelate(otlp.db, 'same', world.auditLines(), otlpLines(runtime));
      assert.ok(fromJson.events.length >= 10 && fromJson.links.length >= 5, `${fromJson.events.length} events, ${fromJson.links.length} links`);
      assert.deepEqual(fromOtlp.events, fromJson.events);
      assert.deepEqual(fromOtlp.links, fromJson.links);
    });
  });
}

describe(`audit-processor -kubearmor-file with a collector's OTLP/JSON file, ${preferredBackend}`, () => {
  it('stores every record of every document, as many events as the relay JSON of the same events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exectrail-otlp-'));
    const target = await createTestDatabaseTarget(preferredBackend);
    try {
      const native = fixtureLines('relay-exec-session.jsonl');
      const path = join(dir, 'kubearmor-otlp.jsonl');
      const lines = otlpLines(native, 4);
      writeFileSync(path, lines.join('\n') + '\n');
      // The fixture events are months old: retention would prune them as they land.
      const result = await runProcessor(['-kubearmor-file', path, '-once', '-cluster', 'otlp-file', '-retention-runtime', 'off', ...target.flags]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`from ${lines.length} KubeArmor lines of ${path} \\(${native.length} events, 0 relay log or blank lines skipped, 0 bad\\)`));
      const db = await target.open();
      try {
        const stored = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM runtime_events WHERE cluster = 'otlp-file'`);
        assert.equal(stored.rows[0]!.n, native.length);
      } finally {
        await db.close();
      }
    } finally {
      await target.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
