/**
 * What the file-source tests share: audit lines generated from our fixtures (test/fixtures/audit; every session a
 * unique auditID, stages kept together and in order, as an apiserver writes them), what the stored
 * rows should be (computed by the pure audit domain, not by the code under test), and small helpers
 * for files on disk.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { mergeStages } from '../../src/audit/session.ts';
import type { Queryable } from '../../src/store/database.ts';
import { waitFor } from '../support/wait.ts';

const fixtureRoot = fileURLToPath(new URL('../fixtures/audit/', import.meta.url));

/** One-line events of the fixtures, grouped by (file, auditID) in file order: the stages of a session. */
function fixtureGroups(): string[][] {
  const groups: string[][] = [];
  for (const name of readdirSync(fixtureRoot).sort()) {
    if (!name.endsWith('.jsonl')) continue;
    const byId = new Map<string, string[]>();
    for (const line of readFileSync(join(fixtureRoot, name), 'utf8').split('\n')) {
      const id = auditIdPattern.exec(line)?.[1];
      if (!id) continue;
      if (!byId.has(id)) byId.set(id, []);
      byId.get(id)!.push(line);
    }
    groups.push(...byId.values());
  }
  return groups;
}

const auditIdPattern = /"auditID"\s*:\s*"([^"]*)"/;
let cachedGroups: string[][] | undefined;

/**
 * `count` audit lines cycling through the fixture sessions, each copy with its own auditID
 * (`<original>-<prefix><n>`), so every line is unique. Raw bytes are kept (Go's `\u0026` escapes).
 *
 * One group of lines in `interactiveEvery` (default 3) is a session, every fixture session taking its
 * turn; the others are ordinary requests (ordinary-requests.jsonl). By default about half of the lines
 * are interactive access; with a larger `interactiveEvery` the log is closer to a real cluster's,
 * where exec is rare.
 */
export function generateAuditLines(count: number, prefix = 'g', options: { interactiveEvery?: number } = {}): string[] {
  const groups = (cachedGroups ??= fixtureGroups());
  const interactive = groups.filter((g) => g.some((line) => sessionsFromLine(Buffer.from(line), { cluster: '' }).rows.length > 0));
  const ordinary = groups.filter((g) => !interactive.includes(g));
  const every = options.interactiveEvery ?? 3;
  const lines: string[] = [];
  for (let n = 0; lines.length < count; n++) {
    const group = n % every === 0 ? interactive[(n / every) % interactive.length]! : ordinary[n % ordinary.length]!;
    for (const line of group) {
      if (lines.length >= count) break;
      lines.push(line.replace(auditIdPattern, (_m, id: string) => `"auditID":"${id}-${prefix}${n}"`));
    }
  }
  return lines;
}

/** The sessions a set of lines holds, by id: what the store must end up with. */
export function expectedSessions(lines: readonly string[], cluster: string): Map<string, { stages: string[]; ended_at: string | null }> {
  const rows = lines.flatMap((line) => sessionsFromLine(Buffer.from(line), { cluster }).rows);
  return new Map(mergeStages(rows).map((r) => [r.id, { stages: r.execMetadata.stages, ended_at: r.execMetadata.ended_at }]));
}

export async function storedSessions(db: Queryable, cluster: string): Promise<Map<string, { stages: string[]; ended_at: string | null }>> {
  const { rows } = await db.query<{ id: string; exec_metadata: { stages: string[]; ended_at: string | null } }>(
    `SELECT id, exec_metadata FROM change_events WHERE cluster = $1 ORDER BY id`,
    [cluster],
  );
  return new Map(rows.map((r) => [r.id, { stages: r.exec_metadata.stages, ended_at: r.exec_metadata.ended_at }]));
}

/**
 * Polls until the cluster's stored sessions are exactly those the lines hold, every stage of each in (a
 * count alone would stop at a session whose last stage is not committed yet); then asserts it.
 */
export async function waitForStoredSessions(db: Queryable, cluster: string, lines: readonly string[], timeoutMs = 20_000): Promise<void> {
  const expected = expectedSessions(lines, cluster);
  let stored = new Map();
  await waitFor(
    `the ${expected.size} sessions of cluster ${cluster}`,
    async () => {
      stored = await storedSessions(db, cluster).catch(() => new Map());
      return isDeepStrictEqual(stored, expected);
    },
    timeoutMs,
  ).catch(() => undefined);
  assert.deepEqual(stored, expected);
}

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `exectrail-${name}-`));
}

export function appendLines(path: string, lines: readonly string[]): void {
  if (lines.length) appendFileSync(path, lines.map((l) => l + '\n').join(''));
}

export { sleep, waitFor } from '../support/wait.ts';

export { seededRandom } from '../support/random.ts';

/** lumberjack's backup name for `audit.log` rotated at `time`. */
export function lumberjackName(time: Date, base = 'audit', ext = '.log'): string {
  return `${base}-${time.toISOString().replace(/:/g, '-').replace('Z', '')}${ext}`;
}
