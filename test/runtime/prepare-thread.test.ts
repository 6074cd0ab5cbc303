/**
 * The normalising thread (src/runtime/prepare-thread.ts), a real worker: a batch read there gives
 * exactly what reading it inline gives (the same COPY bytes, summaries, counts and reasons), whatever
 * the lines hold; and a thread that stops costs nothing: the waiting batch is read inline and stored,
 * the log says so once, and later batches are read inline.
 */
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { after, before, describe, it } from 'node:test';
import { LineRun } from '../../src/ingest/line-splitter.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { parseRedaction } from '../../src/audit/redact.ts';
import { createRuntimeLineSink, ON_THREAD_FROM_LINES } from '../../src/runtime/file.ts';
import { feederDefinition, prepareFeederMessages, type FeederMessage, type PreparedFeederMessages } from '../../src/runtime/feeder-messages.ts';
import { RuntimeLinesBatch, type PreparedRuntimeLines, type RuntimeLinesContext } from '../../src/runtime/line-batch.ts';
import { PrepareThread, PrepareThreadStopped } from '../../src/runtime/prepare-thread.ts';
import { RuntimeEventWriter } from '../../src/runtime/writer.ts';
import type { Database } from '../../src/store/database.ts';
import { createTestDatabase, preferredBackend } from '../support/databases.ts';
import { kubeArmorFixtures } from './fixtures.ts';
import { captureLogger } from './log-capture.ts';

/** Every fixture event, and around them what a capture can hold: relay log lines, bad and hostile lines, repeats. */
function mixedLines(): Buffer[] {
  const texts: string[] = [];
  const fixtures = kubeArmorFixtures();
  fixtures.forEach((f, i) => {
    texts.push(f.text);
    if (i % 5 === 0) texts.push(JSON.stringify({ level: 'info', ts: 1705058469.1, msg: 'relay log line' }));
    if (i % 7 === 0) texts.push('{"Timestamp": 1705058469, "Operation": ');
    if (i % 11 === 0) texts.push(f.text); // a repeat inside the batch
  });
  const base = fixtures.find((f) => f.object.Operation === 'Process')!.object;
  texts.push(JSON.stringify({ ...base, UpdatedTime: '2025-12-08T18:28:47.000001Z', Resource: 'mysql -u root --password=hunter2 -e "select 1"' }));
  texts.push(JSON.stringify({ ...base, UpdatedTime: '2025-12-08T18:28:47.000002Z', Resource: 'sh -c "echo \u0000\ud800 tab\there"' }));
  texts.push(JSON.stringify({ ...base, UpdatedTime: '2025-12-08T18:28:47.000003Z', Operation: 'Syscall' }));
  texts.push(JSON.stringify({ Operation: 'Process', PID: 3, ProcessName: '/bin/sh' }));
  texts.push('[1, 2]', 'not json at all');
  return texts.map((text) => Buffer.from(text));
}

/** The lines as a batch's runs: one run of many lines in a shared buffer, and one line alone. */
function runsOf(lines: Buffer[]): LineRun[] {
  const first = lines.slice(0, -1);
  const text = Buffer.concat(first.map((line) => Buffer.concat([line, Buffer.from('\n')])));
  const bounds = new Int32Array(first.length * 2);
  let at = 0;
  first.forEach((line, i) => {
    bounds[2 * i] = at;
    bounds[2 * i + 1] = at + line.length;
    at += line.length + 1;
  });
  return [new LineRun(text, bounds), ...LineRun.of(lines.slice(-1))];
}

function inline(lines: Buffer[], context: RuntimeLinesContext): PreparedRuntimeLines {
  const batch = new RuntimeLinesBatch(context);
  for (const line of lines) batch.add(line);
  return batch.finish();
}

const comparable = (result: PreparedRuntimeLines | PreparedFeederMessages) => ({ ...result, prepared: { ...result.prepared, rows: { ...result.prepared.rows, copy: Buffer.from(result.prepared.rows.copy).toString('utf8') } } });

describe('the normalising thread', () => {
  it('gives for a batch exactly what reading it inline gives', async () => {
    const lines = mixedLines();
    const logger = captureLogger().logger;
    for (const settings of [
      { cluster: 'thread', operations: new Set(['process', 'file', 'network']) },
      { cluster: 'thread-all', raw: 'all' as const, redaction: parseRedaction(['default', 're:tab']) },
    ]) {
      const thread = new PrepareThread(settings, logger);
      try {
        const receivedAt = '2026-12-08T01:00:00.000000Z';
        const expected = inline(lines, { ...settings, receivedAt });
        assert.ok(expected.rejected.length >= 3 && expected.skipped >= 3, 'bad lines and relay lines are in the batch');
        assert.ok(expected.prepared.wanted > expected.prepared.rows.events.length, 'repeats are in the batch');
        assert.ok(!Buffer.from(expected.prepared.rows.copy).includes('hunter2'), 'the secret is redacted');
        const onThread = await thread.prepareLines(runsOf(lines), receivedAt);
        assert.deepEqual(comparable(onThread), comparable(expected));
      } finally {
        await thread.close();
      }
    }
  });

  it('gives for a batch of feeder messages exactly what decoding them inline gives, a malformed one refused', async () => {
    const service = feederDefinition()['feeder.LogService'] as unknown as Record<'WatchLogs' | 'WatchAlerts', { responseSerialize: (value: object) => Buffer }>;
    const messages: FeederMessage[] = kubeArmorFixtures().map((f, i) => ({
      kind: f.rpc === 'WatchLogs' ? 'log' : 'alert',
      bytes: service[f.rpc].responseSerialize(f.object),
      receivedAtMs: Date.UTC(2026, 11, 8) + Math.floor(i / 3),
    }));
    messages.splice(3, 0, { kind: 'log', bytes: Buffer.from([0x0a, 0x05, 0x01]), receivedAtMs: Date.UTC(2026, 11, 8) });
    const settings = { cluster: 'thread-grpc', operations: new Set(['process', 'file', 'network']) };
    const thread = new PrepareThread(settings, captureLogger().logger);
    try {
      const expected = prepareFeederMessages(messages, settings);
      assert.equal(expected.events + expected.rejected.length, messages.length);
      assert.deepEqual(expected.rejected.find((r) => r.index === 3)?.reason, 'runtime-bad-protobuf');
      assert.ok(expected.events > 10);
      assert.deepEqual(comparable(await thread.prepareMessages(messages)), comparable(expected));
    } finally {
      await thread.close();
    }
  });

  describe(`a thread that stops, on ${preferredBackend}`, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(preferredBackend)));
    after(() => close?.());

    it('costs the waiting batch nothing: it is read inline and stored, said once, and later batches are read inline', async () => {
      const capture = captureLogger();
      const metrics = createMetrics();
      const writer = new RuntimeEventWriter(db, { metrics, logger: capture.logger });
      const thread = new PrepareThread({ cluster: 'thread-stops' }, capture.logger);
      const sink = createRuntimeLineSink({ writer, cluster: 'thread-stops', metrics, logger: capture.logger, thread });
      const fixtures = kubeArmorFixtures().filter((f) => 'UpdatedTime' in f.object);
      const batchOf = (offsetUs: number) => {
        const lines: Buffer[] = [];
        for (let i = 0; lines.length < ON_THREAD_FROM_LINES; i++) {
          const { object } = fixtures[i % fixtures.length]!;
          lines.push(Buffer.from(JSON.stringify({ ...object, UpdatedTime: `2025-12-08T18:28:47.${String(offsetUs + i).padStart(6, '0')}Z` })));
        }
        return { runs: runsOf(lines), path: 'capture.jsonl', fingerprint: 'f', endOffset: 0 };
      };
      try {
        await sink.write(batchOf(0)); // starts the thread
        const written = sink.write(batchOf(1000));
        // The worker dies while the batch waits on it (as when a thread runs out of memory).
        await (thread as unknown as { thread: { worker: Worker } }).thread.worker.terminate();
        await written;
        await sink.write(batchOf(2000));
        const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM runtime_events WHERE cluster = 'thread-stops'`);
        assert.equal(rows[0]!.n, 3 * ON_THREAD_FROM_LINES);
        const warnings = capture.lines().filter((line) => /thread that reads KubeArmor lines and feeder messages into rows stopped/.test(String(line.msg)));
        assert.equal(warnings.length, 1);
        assert.equal(thread.usable, false);
        await assert.rejects(thread.prepareLines(batchOf(3000).runs, 'x'), PrepareThreadStopped);
      } finally {
        await sink.close();
        await thread.close();
      }
    });
  });
});
