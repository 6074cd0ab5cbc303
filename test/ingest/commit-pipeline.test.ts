/**
 * Batches committed together: the audit sink stores the rows of batches that arrive while a store is
 * running in one transaction, and the commit pipeline then saves one position for them, the last;
 * a failure saves nothing past what is committed. Pure: a store that commits when the test says so.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditIntake } from '../../src/ingest/audit-intake.ts';
import { createAuditSink, MAX_HELD_STAGES } from '../../src/ingest/audit-sink.ts';
import { CommitPipeline } from '../../src/ingest/commit-pipeline.ts';
import type { LineBatch, LineSink } from '../../src/ingest/line-sink.ts';
import { LineRun } from '../../src/ingest/line-splitter.ts';
import type { SessionRow } from '../../src/audit/session.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { allStages, execEvent } from './webhook-support.ts';

/** A batch of the three stages of one exec session, ending at `endOffset`. */
const batchOf = (id: string, endOffset: number, fingerprint = 'f'): LineBatch => ({
  runs: LineRun.of(allStages.map((stage) => Buffer.from(JSON.stringify(execEvent(id, stage))))),
  path: 'audit.log',
  fingerprint,
  endOffset,
});

/** An intake whose stores wait until the test lets the oldest one commit (or fail). */
function heldIntake() {
  const stores: { rows: readonly SessionRow[]; commit: () => void; fail: (error: Error) => void }[] = [];
  const intake: AuditIntake = {
    account: () => undefined,
    store: (rows) =>
      new Promise((resolve, reject) =>
        stores.push({ rows, commit: () => resolve({ inserted: 0, updated: 0, auditIdReused: 0, refusedCodes: [] } as never), fail: reject }),
      ),
  };
  return { intake, stores };
}

/** A batch of `count` whole exec sessions (three stage lines each). */
const batchOfSessions = (prefix: string, count: number, endOffset: number): LineBatch => ({
  runs: LineRun.of(Array.from({ length: count }, (_, n) => allStages.map((stage) => Buffer.from(JSON.stringify(execEvent(`${prefix}-${n}`, stage))))).flat()),
  path: 'audit.log',
  fingerprint: 'f',
  endOffset,
});

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('batches committed together', () => {
  it('the audit sink stores batches that arrive during a store in one store, and each resolves after it', async () => {
    const { intake, stores } = heldIntake();
    const sink = createAuditSink({ intake, context: { cluster: 'c' }, metrics: createMetrics() });
    let done = 0;
    const first = sink.write(batchOf('a', 1)).then(() => done++);
    await settle();
    const second = sink.write(batchOf('b', 2)).then(() => done++);
    const third = sink.write(batchOf('c', 3)).then(() => done++);
    await settle();
    assert.equal(stores.length, 1, 'the later batches wait for the running store');
    stores[0]!.commit();
    await first;
    await settle();
    assert.equal(stores.length, 2);
    assert.deepEqual(new Set(stores[1]!.rows.map((r) => r.auditId)), new Set(['b', 'c']), 'one store for both waiting batches');
    assert.equal(done, 1, 'not before their COMMIT');
    stores[1]!.commit();
    await Promise.all([second, third]);
  });

  it('a failed store fails every batch in it, and the next batch is stored on its own', async () => {
    const { intake, stores } = heldIntake();
    const sink = createAuditSink({ intake, context: { cluster: 'c' }, metrics: createMetrics() });
    const first = sink.write(batchOf('a', 1));
    await settle();
    const waiting = [sink.write(batchOf('b', 2)), sink.write(batchOf('c', 3))];
    stores[0]!.commit();
    await first;
    await settle();
    stores[1]!.fail(new Error('connection lost'));
    for (const write of waiting) await assert.rejects(write, /connection lost/);
    const next = sink.write(batchOf('d', 4));
    await settle();
    assert.deepEqual(new Set(stores[2]!.rows.map((r) => r.auditId)), new Set(['d']));
    stores[2]!.commit();
    await next;
  });

  it('the pipeline saves one position for batches of a file committed together, the last, and none past a failure', async () => {
    // A sink whose writes resolve when the test says so, in any grouping.
    const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
    const sink: LineSink = { write: (batch) => new Promise((resolve, reject) => pending.set(batch.endOffset, { resolve, reject })) };
    const pipeline = new CommitPipeline(sink, 10);
    const saved: number[] = [];
    const submit = (end: number, fingerprint = 'f') => pipeline.submit(batchOf('x', end, fingerprint), async () => void saved.push(end));
    for (const end of [1, 2, 3]) await submit(end);
    await submit(4, 'other file');
    pending.get(1)!.resolve();
    await settle();
    assert.deepEqual(saved, [1], 'a batch committed alone is saved');
    pending.get(2)!.resolve();
    pending.get(3)!.resolve();
    pending.get(4)!.resolve();
    await pipeline.drain();
    assert.deepEqual(saved, [1, 3, 4], '2 and 3 committed together: 3 is saved for both; another file is saved apart');

    await submit(5);
    await submit(6);
    pending.get(6)!.resolve();
    pending.get(5)!.reject(new Error('lost'));
    await assert.rejects(pipeline.drain(), /lost/);
    assert.deepEqual(saved, [1, 3, 4], 'nothing past a batch that failed');
  });

  it('reading waits while the sink holds more stages than its bound, and goes on once they are committed', async () => {
    const { intake, stores } = heldIntake();
    const sink = createAuditSink({ intake, context: { cluster: 'c' }, metrics: createMetrics() });
    const pipeline = new CommitPipeline(sink, 8);
    let returned = false;
    // One batch over the bound (every line a stage, as exec-heavy input is): no room for another.
    const submitted = pipeline.submit(batchOfSessions('big', Math.ceil(MAX_HELD_STAGES / 3) + 1, 1), async () => undefined).then(() => (returned = true));
    for (let i = 0; i < 20 && stores.length === 0; i++) await settle();
    assert.equal(stores.length, 1, 'the batch is being stored');
    await settle();
    assert.equal(returned, false, 'the source is held back although the pipeline has room for 7 more batches');
    stores[0]!.commit();
    await submitted;
    await pipeline.drain();
  });

  it('batches of few stages are read ahead up to the batch bound while one store runs, then stored together', async () => {
    const { intake, stores } = heldIntake();
    const sink = createAuditSink({ intake, context: { cluster: 'c' }, metrics: createMetrics() });
    const pipeline = new CommitPipeline(sink, 8);
    for (let i = 1; i <= 8; i++) await pipeline.submit(batchOfSessions(`small${i}`, 2, i), async () => undefined);
    await settle();
    assert.equal(stores.length, 1, 'one store runs; 7 batches wait for it without holding the source back');
    stores[0]!.commit();
    for (let i = 0; i < 20 && stores.length < 2; i++) await settle();
    assert.equal(stores.length, 2);
    assert.equal(new Set(stores[1]!.rows.map((r) => r.auditId.split('-')[0])).size, 7, 'the 7 waiting batches in one store');
    stores[1]!.commit();
    await pipeline.drain();
  });
});
