/**
 * Stages of one auditID become one session whatever their order and grouping: mergeSessions is
 * commutative, associative and idempotent (the store relies on it across batches and writers), a later
 * stage fills in what an earlier one lacked and never erases it, and a session whose end never came
 * stays open.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { canonicalJson, mergeStages, mergeSessions, sameJson, type SessionRow } from '../../src/audit/session.ts';
import { generateSession, stageRowsOf } from './generate.ts';
import { pick, readFixture, seededRandom, shuffle, splitLines, testSeed } from './support.ts';

const context = { cluster: 'prop' };

/** Folds rows in a random tree shape. */
function randomFold(random: () => number, rows: SessionRow[]): SessionRow {
  let pool = shuffle(random, rows);
  while (pool.length > 1) {
    const i = Math.floor(random() * (pool.length - 1));
    const merged = random() < 0.5 ? mergeSessions(pool[i]!, pool[i + 1]!) : mergeSessions(pool[i + 1]!, pool[i]!);
    pool = [...pool.slice(0, i), merged, ...pool.slice(i + 2)];
  }
  return pool[0]!;
}

const same = (a: SessionRow, b: SessionRow, label: string) => assert.equal(canonicalJson(a), canonicalJson(b), label);

describe('merging the stages of a session', () => {
  const seed = testSeed();

  it(`gives one row per session whatever the order and grouping of its stages (1000 sessions, seed ${seed})`, () => {
    const random = seededRandom(seed);
    for (let i = 0; i < 1000; i++) {
      const session = generateSession(random);
      const rows = stageRowsOf(random, session, context);
      assert.equal(rows.length, session.events.length, `seed ${seed} session ${i}: every stage extracted`);
      const reference = rows.reduce((a, b) => mergeSessions(a, b));
      same(randomFold(random, rows), reference, `seed ${seed} session ${i}: any grouping`);
      same(mergeSessions(reference, reference), reference, `seed ${seed} session ${i}: idempotent`);
      same(mergeSessions(reference, pick(random, rows)), reference, `seed ${seed} session ${i}: a stage seen again changes nothing`);
      const meta = reference.execMetadata;
      assert.deepEqual(meta.stages, session.expected.stages, `seed ${seed} session ${i}: stages`);
      assert.equal(meta.ended_at, session.expected.endedAt, `seed ${seed} session ${i}: end`);
      assert.equal(meta.response_code, session.expected.code, `seed ${seed} session ${i}: code`);
      assert.equal(reference.allowed, session.expected.code === undefined || session.expected.code === 101 || session.expected.code === 200);
    }
  });

  it(`is commutative and associative even between conflicting versions of a row (seed ${seed})`, () => {
    const random = seededRandom(seed + 7);
    for (let i = 0; i < 300; i++) {
      const session = generateSession(random);
      const [row] = stageRowsOf(random, session, context);
      // Versions of one row that differ where re-ingestion could make them differ.
      const variants: SessionRow[] = [
        row!,
        { ...row!, execMetadata: { ...row!.execMetadata, command: ['mysql', '-p[REDACTED]'], response_code: 403 } },
        { ...row!, execMetadata: { ...row!.execMetadata, command: ['mysql', '-pS3cret'], ended_at: '2030-01-01T00:00:00.000000Z', stages: ['Panic'] } },
        { ...row!, actor: { ...row!.actor, username: 'other' }, source: { tool: 'unknown' }, execMetadata: { ...row!.execMetadata, started_at: '2020-01-01T00:00:00.000001Z', container: undefined } },
      ];
      const [a, b, c] = [pick(random, variants), pick(random, variants), pick(random, variants)];
      same(mergeSessions(a, b), mergeSessions(b, a), `case ${i}: commutative`);
      same(mergeSessions(mergeSessions(a, b), c), mergeSessions(a, mergeSessions(b, c)), `case ${i}: associative`);
      same(mergeSessions(mergeSessions(a, b), b), mergeSessions(a, b), `case ${i}: idempotent`);
    }
  });

  it('keeps the more redacted command when two ingestions disagree', () => {
    const [row] = splitLines(readFixture('exec-spdy-create-all-stages.jsonl')).flatMap((l) => sessionsFromLine(l, context).rows);
    const leaked = { ...row!, execMetadata: { ...row!.execMetadata, command: ['mysql', '-pS3cret'] } };
    const redacted = { ...row!, execMetadata: { ...row!.execMetadata, command: ['mysql', '-p[REDACTED]'] } };
    assert.deepEqual(mergeSessions(leaked, redacted).execMetadata.command, ['mysql', '-p[REDACTED]']);
    assert.deepEqual(mergeSessions(redacted, leaked).execMetadata.command, ['mysql', '-p[REDACTED]']);
  });

  it('fills in the end, code and decision from a later stage that arrives first, and never erases them', () => {
    const lines = splitLines(readFixture('exec-spdy-create-all-stages.jsonl'));
    const [received, started, complete] = lines.map((l) => sessionsFromLine(l, context).rows[0]!);
    const merged = mergeStages([complete!, received!, started!])[0]!;
    assert.equal(merged.execMetadata.ended_at, '2025-03-11T08:09:03.095116Z');
    assert.equal(merged.execMetadata.decision, 'allow');
    assert.equal(merged.execMetadata.response_code, 101);
    assert.equal(merged.execMetadata.duration_ms, 405682.313);
    assert.deepEqual(merged.execMetadata.stages, ['RequestReceived', 'ResponseStarted', 'ResponseComplete']);
  });

  it('leaves a session whose ResponseComplete never came open', () => {
    const lines = splitLines(readFixture('exec-spdy-create-all-stages.jsonl')).slice(0, 2);
    const [open] = mergeStages(lines.flatMap((l) => sessionsFromLine(l, context).rows));
    assert.equal(open!.execMetadata.ended_at, null);
    assert.equal(open!.execMetadata.duration_ms, null);
    assert.equal(open!.allowed, true);
  });

  it('keeps sessions of the same auditID in two clusters apart', () => {
    const line = splitLines(readFixture('exec-spdy-create-all-stages.jsonl'))[2]!;
    const rows = [...sessionsFromLine(line, { cluster: 'a' }).rows, ...sessionsFromLine(line, { cluster: 'b' }).rows];
    assert.deepEqual(mergeStages(rows).map((r) => r.id), ['EXEC:a:3f6c2a9e-5b1d-4c7a-8e2f-9d0b1a4c6e01', 'EXEC:b:3f6c2a9e-5b1d-4c7a-8e2f-9d0b1a4c6e01']);
  });

  it(`compares values in place exactly as their canonical JSON compares (seed ${testSeed()})`, () => {
    const seed = testSeed();
    const random = seededRandom(seed + 11);
    const leaves: unknown[] = ['', 'a', 'b', '[REDACTED]', 0, -0, 1, 1.5, NaN, Infinity, true, false, null, undefined, () => 1, new Date(0), { toJSON: () => 'a' }];
    const value = (depth: number): unknown => {
      const r = random();
      if (depth > 2 || r < 0.5) return pick(random, leaves);
      if (r < 0.75) return Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1));
      const out: Record<string, unknown> = {};
      for (const key of shuffle(random, ['x', 'y', '1', '0']).slice(0, Math.floor(random() * 4))) out[key] = value(depth + 1);
      return out;
    };
    // Equal values built apart (keys in another order), near-equal ones, and unrelated ones.
    const reordered = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reordered) : v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype && !('toJSON' in v)
        ? Object.fromEntries(shuffle(random, Object.entries(v)).map(([k, x]) => [k, reordered(x)]))
        : v;
    for (let i = 0; i < 5000; i++) {
      const a = value(0);
      const b = random() < 0.4 ? reordered(a) : random() < 0.5 ? reordered(value(0)) : value(0);
      assert.equal(sameJson(a, b), canonicalJson(a) === canonicalJson(b), `seed ${seed} case ${i}`);
    }
  });
});
