/**
 * Row `exec-heavy`: a log where every line is a session stage, `-once` into Postgres, in sessions
 * committed per second (until the last one is committed), against COPY of the same session rows (the
 * rows that run stored, taken out with `COPY change_events TO STDOUT`) into a fresh database with the
 * processor's schema: the table's own write rate, GIN indexes included. Alternating pairs.
 */
import { ensureAuditLog } from '../lib/datasets.ts';
import type { BenchContext } from '../lib/context.ts';
import { alternatingPairs, boundBy, medianRun, pairsNote, spread } from '../lib/pairs.ts';
import { createBenchDatabase } from '../lib/postgres.ts';
import { copyIn, copyOut, migratedDatabase } from '../lib/processor-runs.ts';
import { startProcessor, type ProcessResult } from '../lib/process.ts';
import type { RowOutcome } from '../lib/report.ts';

const MiB = 1024 * 1024;

interface ExecHeavyRun {
  seconds: number;
  stored: number;
  finished: boolean;
  result: ProcessResult;
  /** The stored session rows in COPY text form. */
  rows: Buffer;
}

async function measuredRun(ctx: BenchContext, path: string, sessions: number): Promise<ExecHeavyRun> {
  const db = await createBenchDatabase('exec_heavy');
  try {
    const running = startProcessor(['-once', '-audit-log-file', path, '-database-url', db.url, '-log-level', 'warn']);
    let exited = false;
    void running.done.then(() => (exited = true));
    // Count committed rows while it runs: the figure is the time until the last session is committed
    // (work the -once run does after that, e.g. correlation passes, is not charged), or, for a run
    // slower than the row's time limit, what it committed by then.
    const client = await db.connect();
    let stored = 0;
    let seconds = 0;
    try {
      for (;;) {
        await new Promise((r) => setTimeout(r, 200));
        const n = await client
          .query(`SELECT count(*) AS n FROM change_events WHERE operation = 'EXEC'`)
          .then((r) => Number(r.rows[0].n))
          .catch(() => stored); // the schema may not exist yet
        seconds = (performance.now() - running.startedAt) / 1000;
        stored = n;
        if (stored >= sessions || exited || seconds > ctx.scale.maxRowSeconds) break;
      }
    } finally {
      await client.end();
    }
    const exitedByItself = exited;
    const result = exitedByItself ? await running.done : await running.stop(3000);
    if (exitedByItself && result.code !== 0) throw new Error(`audit-processor -once (exec-heavy) exited with ${result.code}: ${result.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    ctx.peakRss.push({ mode: 'postgres', row: 'exec-heavy', bytes: result.peakRssBytes });
    const rows = await copyOut(db, 'change_events');
    return { seconds: exitedByItself && stored < sessions ? result.wallMs / 1000 : seconds, stored, finished: stored >= sessions, result, rows };
  } finally {
    await db.drop();
  }
}

/** COPY of the measured run's session rows into a fresh database with the processor's schema. */
async function copyBaseline(ctx: BenchContext, rows: Buffer, count: number): Promise<number> {
  const { db } = await migratedDatabase(ctx, 'exec_copy');
  try {
    return count / (await copyIn(db, 'change_events', rows));
  } finally {
    await db.drop();
  }
}

export async function measureExecHeavy(ctx: BenchContext): Promise<RowOutcome[]> {
  const size = ctx.scale.execHeavyBytes;
  ctx.log(`exec-heavy: generating ${Math.round(size / MiB)} MB log where every line is a session stage`);
  const file = ensureAuditLog(`exec-heavy-${Math.round(size / MiB)}m.log`, { bytes: size, interactiveRatio: 1, maxSessionLines: 200, seed: 7 });
  ctx.log(`exec-heavy: ${file.lines} lines, ${file.sessions} sessions; ${ctx.scale.pairs} pair(s) of audit-processor -once into Postgres (at most ${ctx.scale.maxRowSeconds} s each) and COPY of its rows`);
  let copied: { rows: Buffer; count: number } | undefined;
  const runs = await alternatingPairs(
    ctx.scale.pairs,
    async () => {
      const run = await measuredRun(ctx, file.path, file.sessions);
      // The baseline copies the rows of the first run that stored them all (or the largest).
      if (!copied || (run.stored > copied.count)) copied = { rows: run.rows, count: run.stored };
      return run;
    },
    async () => copyBaseline(ctx, copied!.rows, copied!.count),
    ctx.log,
  );
  const rates = spread(runs.measured.map((r) => r.stored / r.seconds));
  const copy = spread(runs.baseline);
  const typical = medianRun(runs.measured, (r) => r.stored / r.seconds);
  const peak = Math.max(...runs.measured.map((r) => r.result.peakRssBytes));
  const { result } = typical;
  return [
    {
      row: 'exec-heavy',
      figure: `${file.sessions} sessions (${file.lines} stage lines) -once into Postgres`,
      value: rates.median,
      unit: 'sessions/s',
      baseline: { label: `COPY of the same ${copied!.count} session rows into change_events`, value: copy.median, unit: 'rows/s' },
      ratio: rates.median / copy.median,
      target: { text: '>= 30k sessions/s', met: rates.median >= 30_000 && runs.measured.every((r) => r.finished) },
      peakRssBytes: peak,
      note:
        (typical.finished
          ? typical.stored === file.sessions
            ? `${typical.stored} sessions stored`
            : `stored ${typical.stored} of ${file.sessions} sessions`
          : `stopped after ${typical.seconds.toFixed(0)} s with ${typical.stored} of ${file.sessions} sessions committed`) +
        ` in ${typical.seconds.toFixed(1)} s (start-up included, until the last one was committed); ` +
        `${boundBy(result.cpuSeconds, result.wallMs / 1000)} (CPU over the process's whole life: the correlation passes after the last commit included); ${pairsNote(rates, copy, 'rows/s')}`,
    },
  ];
}
