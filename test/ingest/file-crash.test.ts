/**
 * Crash safety (issue 4, acceptance 4): the real `audit-processor -once` is SIGKILLed at seeded random
 * points of an ingest (rotated backups, some gzipped, and the live file), several times, and restarted
 * each time; the final rows must equal a clean single run's rows exactly, and every file's checkpoint
 * must end at its end.
 *
 * Kill points: after a random number of committed batches (its "checkpoint saved" debug lines), plus a
 * random 0-25 ms, so a kill lands inside a transaction, between a commit and its checkpoint, or while
 * reading. The clean run, made first, says how many batches (2 MiB reads) the ingest has; the numbers
 * are drawn so that the kills, and the two batches each may still commit before its signal lands, come
 * to less than that: every kill lands before the end. The seed is in the test's name; replay a failure
 * with TEST_SEED=<seed>.
 *
 * The 200k-line run (177 MB, about 85 reads of 2 MiB and about 24 position saves: batches read while
 * one is stored are stored with it; three kills) is on PostgreSQL. PGlite (the default backend) gets the same test
 * with 25k lines and one kill: it proves committed data and checkpoints survive a SIGKILL of the process that embeds
 * the database.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { collect, runProcessor, startProcessor, type CliResult } from '../support/cli.ts';
import { createTestDatabaseTarget, skipReason, type BackendName, type TestDatabaseTarget } from '../support/databases.ts';
import { seededRandom, testSeed } from '../support/random.ts';
import { expectedSessions, generateAuditLines, lumberjackName, storedSessions, tempDir } from './file-support.ts';

interface Plan {
  backend: BackendName;
  lines: number;
  kills: number;
}

const plans: Plan[] = [
  { backend: 'postgres', lines: 200_000, kills: 3 },
  { backend: 'pglite', lines: 25_000, kills: 1 },
];

/** Batches one run may still commit after its kill was decided (the extra ms, the signal on its way). */
const BATCHES_IN_FLIGHT_AT_KILL = 2;

/** Backups as lumberjack leaves them (two gzipped only, one plain plus its .gz) and the live file. */
function writeLogs(dir: string, lines: string[]): { sizes: number[] } {
  const quarter = Math.ceil(lines.length / 4);
  const parts = [0, 1, 2, 3].map((i) => lines.slice(i * quarter, (i + 1) * quarter).map((l) => l + '\n').join(''));
  const names = [0, 1, 2].map((i) => lumberjackName(new Date(Date.parse('2024-06-01T00:00:00Z') + i * 3_600_000)));
  // Fastest compression: what is read back is the same, and the test spends seconds less making it.
  const gzip = (text: string) => gzipSync(text, { level: 1 });
  writeFileSync(join(dir, `${names[0]}.gz`), gzip(parts[0]!));
  writeFileSync(join(dir, `${names[1]}.gz`), gzip(parts[1]!));
  writeFileSync(join(dir, names[2]!), parts[2]!);
  writeFileSync(join(dir, `${names[2]}.gz`), gzip(parts[2]!));
  writeFileSync(join(dir, 'audit.log'), parts[3]!);
  return { sizes: parts.map((p) => Buffer.byteLength(p)) };
}

/** Runs the processor; SIGKILLs it `extraMs` after its `batches`-th saved checkpoint (never, when undefined). */
async function runAndKill(args: string[], batches: number | undefined, extraMs = 0): Promise<CliResult & { checkpoints: number }> {
  const child = startProcessor(args);
  const done = collect(child);
  let seen = 0;
  let carry = '';
  let armed = batches !== undefined;
  child.stderr!.on('data', (data: Buffer) => {
    const text = carry + data.toString();
    const lines = text.split('\n');
    carry = lines.pop()!;
    for (const line of lines) if (line.includes('"msg":"checkpoint saved"')) seen++;
    if (armed && seen >= batches!) {
      armed = false;
      setTimeout(() => child.kill('SIGKILL'), extraMs);
    }
  });
  return { ...(await done), checkpoints: seen };
}

async function snapshot(target: TestDatabaseTarget) {
  const db = await target.open();
  try {
    // Everything but created_at/updated_at, which say when, not what.
    const rows = (
      await db.query(
        `SELECT id, cluster, audit_id, "timestamp", operation, resource_kind, namespace, name, actor, source, diff,
                object_snapshot, allowed, block_pattern, exec_metadata
         FROM change_events ORDER BY id`,
      )
    ).rows;
    const checkpoints = (await db.query<{ fingerprint: string; offset: number; completed: boolean }>(
      `SELECT fingerprint, "offset", completed FROM file_checkpoints ORDER BY fingerprint`,
    )).rows;
    return { rows, checkpoints, sessions: await storedSessions(db, '') };
  } finally {
    await db.close();
  }
}

for (const plan of plans) {
  const seed = testSeed();
  describe(`SIGKILL during a ${plan.lines}-line ingest, ${plan.backend}`, { skip: skipReason(plan.backend) }, () => {
    it(`${plan.kills} kill${plan.kills === 1 ? '' : 's'} at random points and restarts end with exactly the rows of a clean run (seed ${seed})`, async (t) => {
      const random = seededRandom(seed);
      const dir = tempDir('crash');
      // One session in twenty lines' worth of requests is interactive access (real logs have fewer).
      const lines = generateAuditLines(plan.lines, 'crash', { interactiveEvery: 20 });
      const { sizes } = writeLogs(dir, lines);
      const killed = await createTestDatabaseTarget(plan.backend);
      const clean = await createTestDatabaseTarget(plan.backend);
      try {
        const args = (target: TestDatabaseTarget) => ['-audit-log-dir', dir, '-once', '-log-level', 'debug', '-progress-interval', '0', ...target.flags];
        const cleanRun = await runAndKill(args(clean), undefined);
        assert.equal(cleanRun.code, 0, cleanRun.stderr.slice(-3000));
        const total = cleanRun.checkpoints;
        const most = Math.floor((total - 1 - plan.kills * BATCHES_IN_FLIGHT_AT_KILL) / plan.kills);
        assert.ok(most >= 1, `the ingest has only ${total} batches: too few for ${plan.kills} kills; give the test more lines`);
        const points: string[] = [];
        for (let kill = 0; kill < plan.kills; kill++) {
          const batches = 1 + Math.floor(random() * most);
          const extraMs = Math.floor(random() * 25);
          points.push(`${batches} batches + ${extraMs} ms`);
          const result = await runAndKill(args(killed), batches, extraMs);
          assert.equal(result.signal, 'SIGKILL', `seed ${seed}: run ${kill + 1} (${points.at(-1)} of ${total}) should have been killed mid-ingest, but it ended: ${result.code}\n${result.stderr.slice(-2000)}`);
        }
        t.diagnostic(`seed ${seed}: ${total} batches; killed after ${points.join('; ')}`);
        const last = await runProcessor(args(killed));
        assert.equal(last.code, 0, last.stderr.slice(-3000));
        assert.match(last.stdout, /stored \d+ session rows/);
        const afterKills = await snapshot(killed);

        // Every file read to its end: backups (the .gz ones included) completed at their full size.
        const offsets = afterKills.checkpoints.map((c) => c.offset).sort((a, b) => a - b);
        assert.deepEqual(offsets, [...sizes].sort((a, b) => a - b), `seed ${seed}`);
        assert.equal(afterKills.checkpoints.filter((c) => c.completed).length, 3, `seed ${seed}`);

        const expected = expectedSessions(lines, '');
        assert.deepEqual(afterKills.sessions, expected, `seed ${seed}`);
        const reference = await snapshot(clean);
        assert.equal(afterKills.rows.length, expected.size);
        assert.deepEqual(afterKills.rows, reference.rows, `seed ${seed}`);
        assert.deepEqual(afterKills.checkpoints, reference.checkpoints, `seed ${seed}`);
      } finally {
        await killed.destroy();
        await clean.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
