/**
 * Shared helpers for the audit domain tests: fixture paths, a seeded random source (a failing property
 * test prints its seed; rerun with TEST_SEED=<seed>), and running lines through the real
 * per-line transform.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Rejected } from '../../src/audit/decode.ts';
import type { ExtractContext } from '../../src/audit/extract.ts';
import { isBodyRefused, sessionsFromBody, sessionsFromLine, type LineOutcome } from '../../src/audit/input.ts';
import { mergeStages, type SessionRow } from '../../src/audit/session.ts';

export const fixturesDir = fileURLToPath(new URL('../fixtures/audit/', import.meta.url));

export function readFixture(relative: string): Buffer {
  return readFileSync(fixturesDir + relative);
}

/**
 * What a source hands over from each fixture file of `dir`: every line of a .jsonl or .log file, the
 * whole of a .json document (a webhook body, an Event Hubs batch). Files named *.source.txt are notes.
 */
export function fixtureUnits(dir = fixturesDir): Buffer[] {
  const names = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => /\.(jsonl|log|json)$/.test(name)).sort();
  return names.flatMap((name) => {
    const data = readFileSync(dir + name);
    return name.endsWith('.json') ? [data] : splitLines(data).filter((line) => line.length > 0);
  });
}

/** Lines of a buffer as the file source hands them over: without the newline. */
export function splitLines(data: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let end = data.indexOf(0x0a); end !== -1; end = data.indexOf(0x0a, start)) {
    lines.push(data.subarray(start, end));
    start = end + 1;
  }
  if (start < data.length) lines.push(data.subarray(start));
  return lines;
}

export interface Ingested {
  rows: SessionRow[];
  stages: number;
  rejected: Rejected[];
}

/** Every line through sessionsFromLine, stages merged into sessions (sorted by id). */
export function ingestLines(data: Buffer, context: ExtractContext = { cluster: 'test' }): Ingested {
  const stages: SessionRow[] = [];
  const rejected: Rejected[] = [];
  for (const line of splitLines(data)) {
    const outcome = sessionsFromLine(line, context);
    stages.push(...outcome.rows);
    rejected.push(...outcome.rejected);
  }
  return { rows: sortById(mergeStages(stages)), stages: stages.length, rejected };
}

/** The whole buffer as one document (webhook body, pretty-printed event). */
export function ingestDocument(data: Buffer, context: ExtractContext = { cluster: 'test' }): Ingested {
  const outcome = documentOutcome(data, context);
  return { rows: sortById(mergeStages(outcome.rows)), stages: outcome.rows.length, rejected: outcome.rejected };
}

/** sessionsFromBody, with a body refused as a whole reported as one rejection. */
export function documentOutcome(data: Buffer | string, context: ExtractContext): LineOutcome {
  const outcome = sessionsFromBody(data, context);
  return isBodyRefused(outcome) ? { rows: [], rejected: [{ reason: outcome.reason, detail: outcome.message }], repaired: [] } : outcome;
}

export function sortById(rows: SessionRow[]): SessionRow[] {
  return [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function countByReason(rejected: readonly Rejected[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rejected) out[r.reason] = (out[r.reason] ?? 0) + 1;
  return out;
}

export { seededRandom, testSeed } from '../support/random.ts';

export const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

export function shuffle<T>(random: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** What a golden test expects of one session: the columns given must match, the documents in part or exactly. */
export type ExpectedSession = {
  auditId: string;
  resourceKind?: 'Pod' | 'Node';
  namespace?: string;
  name?: string;
  allowed?: boolean;
  actor?: Partial<SessionRow['actor']>;
  source?: Partial<SessionRow['source']>;
  exec?: Partial<SessionRow['execMetadata']>;
  /** When given, exec_metadata must equal this exactly. */
  execExactly?: SessionRow['execMetadata'];
};

function assertSubset(actual: object, expected: object, label: string) {
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual((actual as Record<string, unknown>)[key], value, `${label}.${key}`);
  }
}

/** The rows of one fixture (ingested with cluster `test`) are exactly the expected sessions, each as expected. */
export function assertGoldenRows(rows: readonly SessionRow[], expectedRows: readonly ExpectedSession[], file: string): void {
  assert.deepEqual(
    rows.map((r) => r.auditId),
    expectedRows.map((r) => r.auditId).sort(),
    'exactly these sessions',
  );
  for (const [i, expected] of expectedRows.entries()) {
    const row = rows.find((r) => r.auditId === expected.auditId)!;
    const label = `${file}#${i} ${expected.auditId}`;
    assert.equal(row.id, `EXEC:test:${expected.auditId}`);
    assert.equal(row.operation, 'EXEC');
    assert.equal(row.timestamp, row.execMetadata.started_at, `${label}: timestamp is the session start`);
    const { auditId: _a, actor, source, exec, execExactly, ...columns } = expected;
    assertSubset(row, columns, label);
    if (actor) assertSubset(row.actor, actor, `${label}.actor`);
    if (source) assertSubset(row.source, source, `${label}.source`);
    if (exec) assertSubset(row.execMetadata, exec, `${label}.exec_metadata`);
    if (execExactly) assert.deepEqual({ ...row.execMetadata }, execExactly, `${label}.exec_metadata`);
  }
}
