/**
 * Crash safety (issue 4, acceptance 4): the real `audit-processor -once` is SIGKILLed at random
 * points of a 200k-line ingest (140 MB: rotated backups, some gzipped, and the live file), five
 * times, and restarted each time; the final rows must equal a clean single run's rows exactly, and
 * every file's checkpoint must end at its end.
 *
 * Kill points: after a random number (1-8) of committed batches, plus a random 0-150 ms, so a kill
 * lands anywhere: inside a transaction, between a commit and its checkpoint, while reading. About
 * 65 batches of 4 MiB make up the whole ingest, so five kills always land before its end.
 *
 * The 200k-line run is on PostgreSQL only: on PGlite every restart pays the embedded database's
 * start (initdb-sized, 5-20 s on the shared CI machine), which would make this one test take
 * minutes. PGlite (the default backend) gets the same test with 20k lines and two kills, checked
 * against the sessions the lines hold: it proves committed data and checkpoints survive a SIGKILL of
 * the process that embeds the database.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { collect, runProcessor, startProcessor, type CliResult } from '../support/cli.ts';
import { createTestDatabaseTarget, skipReason, type BackendName, type TestDatabaseTarget } from '../support/databases.ts';
import { expectedSessions, generateAuditLines, lumberjackName, storedSessions, tempDir } from './file-support.ts';

interface Plan {
  backend: BackendName;
  lines: number;
  kills: number;
  maxBatchesBeforeKill: number;
  compareWithCleanRun: boolean;
}

const plans: Plan[] = [
  { backend: 'postgres', lines: 200_000, kills: 5, maxBatchesBeforeKill: 8, compareWithCleanRun: true },
  { backend: 'pglite', lines: 20_000, kills: 2, maxBatchesBeforeKill: 2, compareWithCleanRun: false },
];

/** Backups as lumberjack leaves them (two gzipped only, one plain plus its .gz) and the live file. */
function writeLogs(dir: string, lines: string[]): { sizes: number[] } {
  const quarter = Math.ceil(lines.length / 4);
  const parts = [0, 1, 2, 3].map((i) => lines.slice(i * quarter, (i + 1) * quarter).map((l) => l + '\n').join(''));
  const names = [0, 1, 2].map((i) => lumberjackName(new Date(Date.parse('2024-06-01T00:00:00Z') + i * 3_600_000)));
  writeFileSync(join(dir, `${names[0]}.gz`), gzipSync(parts[0]!));
  writeFileSync(join(dir, `${names[1]}.gz`), gzipSync(parts[1]!));
  writeFileSync(join(dir, names[2]!), parts[2]!);
  writeFileSync(join(dir, `${names[2]}.gz`), gzipSync(parts[2]!));
  writeFileSync(join(dir, 'audit.log'), parts[3]!);
  return { sizes: parts.map((p) => Buffer.byteLength(p)) };
}

/** Runs the processor and SIGKILLs it `extraMs` after its `batches`-th committed batch. */
async function runAndKill(args: string[], batches: number, extraMs: number): Promise<CliResult> {
  const child = startProcessor(args);
  const done = collect(child);
  let seen = 0;
  let carry = '';
  let armed = true;
  child.stderr!.on('data', (data: Buffer) => {
    const text = carry + data.toString();
    const lines = text.split('\n');
    carry = lines.pop()!;
    for (const line of lines) if (line.includes('"msg":"checkpoint saved"')) seen++;
    if (armed && seen >= batches) {
      armed = false;
      setTimeout(() => child.kill('SIGKILL'), extraMs);
    }
  });
  return done;
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
  describe(`SIGKILL during a ${plan.lines}-line ingest, ${plan.backend}`, { skip: skipReason(plan.backend) }, () => {
    it(`${plan.kills} kills at random points and restarts end with exactly the rows of a clean run`, async (t) => {
      const dir = tempDir('crash');
      // One session in twenty lines' worth of requests is interactive access (real logs have fewer).
      const lines = generateAuditLines(plan.lines, 'crash', { interactiveEvery: 20 });
      const { sizes } = writeLogs(dir, lines);
      const killed = await createTestDatabaseTarget(plan.backend);
      const clean = plan.compareWithCleanRun ? await createTestDatabaseTarget(plan.backend) : undefined;
      try {
        const args = (target: TestDatabaseTarget) => ['-audit-log-dir', dir, '-once', '-log-level', 'debug', '-progress-interval', '0', ...target.flags];
        const points: string[] = [];
        for (let kill = 0; kill < plan.kills; kill++) {
          const batches = 1 + Math.floor(Math.random() * plan.maxBatchesBeforeKill);
          const extraMs = Math.floor(Math.random() * 150);
          points.push(`${batches} batches + ${extraMs} ms`);
          const result = await runAndKill(args(killed), batches, extraMs);
          assert.equal(result.signal, 'SIGKILL', `run ${kill + 1} should have been killed mid-ingest, but it ended: ${result.code}\n${result.stderr.slice(-2000)}`);
        }
        t.diagnostic(`killed after: ${points.join('; ')}`);
        const last = await runProcessor(args(killed));
        assert.equal(last.code, 0, last.stderr.slice(-3000));
        assert.match(last.stdout, /stored \d+ session rows/);
        const afterKills = await snapshot(killed);

        // Every file read to its end: backups (the .gz ones included) completed at their full size.
        const offsets = afterKills.checkpoints.map((c) => c.offset).sort((a, b) => a - b);
        assert.deepEqual(offsets, [...sizes].sort((a, b) => a - b));
        assert.equal(afterKills.checkpoints.filter((c) => c.completed).length, 3);

        const expected = expectedSessions(lines, '');
        assert.deepEqual(afterKills.sessions, expected);
        if (clean) {
          const cleanRun = await runProcessor(args(clean));
          assert.equal(cleanRun.code, 0, cleanRun.stderr.slice(-3000));
          const reference = await snapshot(clean);
          assert.equal(afterKills.rows.length, expected.size);
          assert.deepEqual(afterKills.rows, reference.rows);
          assert.deepEqual(afterKills.checkpoints, reference.checkpoints);
        }
      } finally {
        await killed.destroy();
        await clean?.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
