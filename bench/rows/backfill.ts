/**
 * Rows 1 and 2: backfill of a generated audit log with `-once`, into Postgres and into PGlite, against
 * (a) reading the file and counting lines and (b) JSON.parse of every line with the same classifier;
 * and the exec-heavy log (every line a session stage), in sessions committed per second, against the
 * rate at which the database itself takes the same number of rows.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAuditLog, benchRoot, type AuditLogStats } from '../lib/datasets.ts';
import type { BenchContext } from '../lib/context.ts';
import { createBenchDatabase } from '../lib/postgres.ts';
import { runToEnd, startNodeScript, startProcessor, type ProcessResult } from '../lib/process.ts';
import type { Measurement, RowOutcome } from '../lib/report.ts';

const MiB = 1024 * 1024;

export interface BaselineRun {
  mbPerSecond: number;
  linesPerSecond: number;
  result: ProcessResult;
}

async function runBaseline(script: string, file: AuditLogStats): Promise<BaselineRun> {
  const result = await runToEnd(startNodeScript(`bench/baselines/${script}`, [file.path]), script);
  const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as { lines: number };
  if (out.lines !== file.lines) throw new Error(`${script} counted ${out.lines} lines, the generator wrote ${file.lines}`);
  const seconds = result.wallMs / 1000;
  return { mbPerSecond: file.bytes / MiB / seconds, linesPerSecond: file.lines / seconds, result };
}

/** Runs `audit-processor -once` on a file; returns the result and the session rows it stored. */
async function backfill(
  ctx: BenchContext,
  file: AuditLogStats,
  mode: 'postgres' | 'pglite',
  row: string,
): Promise<{ result: ProcessResult; stored: number }> {
  if (mode === 'postgres') {
    const db = await createBenchDatabase(row);
    try {
      const result = await runToEnd(
        startProcessor(['-once', '-audit-log-file', file.path, '-database-url', db.url, '-log-level', 'warn']),
        `audit-processor -once (${row}, Postgres)`,
      );
      const client = await db.connect();
      const stored = Number((await client.query(`SELECT count(*) AS n FROM change_events WHERE operation = 'EXEC'`)).rows[0].n);
      await client.end();
      ctx.peakRss.push({ mode, row, bytes: result.peakRssBytes });
      return { result, stored };
    } finally {
      await db.drop();
    }
  }
  const dataDir = ctx.scratch('pglite');
  const result = await runToEnd(
    startProcessor(['-once', '-audit-log-file', file.path, '-data-dir', dataDir, '-log-level', 'warn']),
    `audit-processor -once (${row}, PGlite)`,
  );
  ctx.peakRss.push({ mode, row, bytes: result.peakRssBytes });
  const counted = await runToEnd(startNodeScript('bench/tools/count-sessions-pglite.ts', [dataDir]), 'counting sessions in PGlite');
  return { result, stored: Number(counted.stdout.trim()) };
}

const cpuNote = (r: ProcessResult) => `processor CPU ${Math.round((r.cpuSeconds / (r.wallMs / 1000)) * 100)} % of one core over ${(r.wallMs / 1000).toFixed(1)} s`;

/** Empty input: what the processor costs before it reads anything (startup, migrations). */
export async function measureIdle(ctx: BenchContext): Promise<ProcessResult> {
  const empty = join(ctx.scratch('idle'), 'empty.log');
  writeFileSync(empty, '');
  const db = await createBenchDatabase('idle');
  try {
    return await runToEnd(startProcessor(['-once', '-audit-log-file', empty, '-database-url', db.url, '-log-level', 'warn']), 'audit-processor on an empty file');
  } finally {
    await db.drop();
  }
}

export async function measureBackfill(ctx: BenchContext): Promise<RowOutcome[]> {
  const size = ctx.scale.backfillBytes;
  ctx.log(`backfill: generating ${Math.round(size / MiB)} MB audit log with 0.5 % interactive lines (reused when already there)`);
  const file = ensureAuditLog(`audit-${Math.round(size / MiB)}m-0.005.log`, { bytes: size, interactiveRatio: 0.005 }, (done, total) =>
    ctx.log(`  generated ${Math.round(done / MiB)} / ${Math.round(total / MiB)} MB`),
  );
  ctx.log(`backfill: ${file.lines} lines, ${file.interactiveLines} interactive (${file.sessions} sessions); warming the page cache`);
  await runBaseline('count-lines.ts', file); // first read only warms the page cache
  ctx.log('backfill: baseline (a) read + count lines');
  const raw = await runBaseline('count-lines.ts', file);
  ctx.log('backfill: baseline (b) JSON.parse every line + classify');
  const naive = await runBaseline('parse-every-line.ts', file);
  const idle = await measureIdle(ctx);
  const out: Measurement[] = [];
  for (const mode of ['postgres', 'pglite'] as const) {
    ctx.log(`backfill: audit-processor -once into ${mode}`);
    const { result, stored } = await backfill(ctx, file, mode, 'backfill');
    const seconds = result.wallMs / 1000;
    const mbps = file.bytes / MiB / seconds;
    const lps = file.lines / seconds;
    const where = mode === 'postgres' ? 'Postgres' : 'PGlite';
    const storedNote = stored === file.sessions ? `${stored} sessions stored` : `stored ${stored} of ${file.sessions} sessions`;
    out.push({
      row: 'backfill',
      figure: `${Math.round(file.bytes / MiB)} MB log -once into ${where}`,
      value: mbps,
      unit: 'MB/s',
      baseline: { label: '(a) read + count lines', value: raw.mbPerSecond },
      ratio: mbps / raw.mbPerSecond,
      target: mode === 'postgres' ? { text: '>= 0.5x raw read', met: mbps >= 0.5 * raw.mbPerSecond } : undefined,
      peakRssBytes: result.peakRssBytes,
      note: `${storedNote}; ${cpuNote(result)}; startup on an empty file ${(idle.wallMs / 1000).toFixed(1)} s (included)`,
    });
    out.push({
      row: 'backfill',
      figure: `same, lines/s into ${where}`,
      value: lps,
      unit: 'lines/s',
      baseline: { label: '(b) JSON.parse every line + classify', value: naive.linesPerSecond },
      ratio: lps / naive.linesPerSecond,
      target: mode === 'postgres' ? { text: '>= 3x parse-every-line', met: lps >= 3 * naive.linesPerSecond } : undefined,
      peakRssBytes: result.peakRssBytes,
      note: `baselines: (a) ${Math.round(raw.linesPerSecond).toLocaleString('en-US')} lines/s, (b) ${Math.round(naive.mbPerSecond)} MB/s`,
    });
  }
  out.push({
    row: 'rss-idle',
    figure: 'processor startup, empty file, Postgres',
    value: idle.peakRssBytes / MiB,
    unit: 'MB',
    note: `wall ${(idle.wallMs / 1000).toFixed(2)} s: node start-up, module loading, migrations`,
  });
  return out;
}

/** Rows every stored session costs the database, written without the processor: the floor it sets. */
async function databaseInsertRate(ctx: BenchContext, rows: number): Promise<{ rowsPerSecond: number }> {
  const db = await createBenchDatabase('insert_floor');
  try {
    // Let the processor create the schema (its migrations), exactly as the measured run has it.
    const empty = join(ctx.scratch('floor'), 'empty.log');
    writeFileSync(empty, '');
    await runToEnd(startProcessor(['-once', '-audit-log-file', empty, '-database-url', db.url, '-log-level', 'warn']), 'schema setup');
    const client = await db.connect();
    try {
      const batch = 1000;
      const started = performance.now();
      for (let first = 0; first < rows; first += batch) {
        // The same shape and size as a session row: actor, source and exec_metadata documents, GIN-indexed.
        await client.query(
          `INSERT INTO change_events (id, cluster, audit_id, "timestamp", operation, resource_kind, namespace, name, actor, source, allowed, exec_metadata)
           SELECT 'EXEC::floor-' || g, '', 'floor-' || g, now() - (g || ' ms')::interval, 'EXEC', 'Pod', 'shop', 'web-7d9f5c6b8-' || (g % 500),
             jsonb_build_object('username', 'oidc:alice@example.com', 'groups', jsonb_build_array('oidc:sre', 'system:authenticated'), 'source_ip', '10.20.1.15'),
             jsonb_build_object('tool', 'kubectl', 'user_agent', 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350', 'client_version', 'v1.30.2'),
             true,
             jsonb_build_object('command', jsonb_build_array('/bin/sh', '-c', 'cat /etc/config-' || g), 'container', 'web', 'stdin', true, 'tty', true,
               'target_type', 'pod', 'subresource', 'exec', 'verb', 'get', 'transport', 'websocket', 'response_code', 101, 'decision', 'allow',
               'reason', 'RBAC: allowed by ClusterRoleBinding "sre-exec" of ClusterRole "pod-exec" to Group "oidc:sre"',
               'started_at', '2026-01-20T03:14:07.000321Z', 'ended_at', '2026-01-20T03:19:07.000321Z', 'duration_ms', 300000,
               'stages', jsonb_build_array('RequestReceived', 'ResponseStarted', 'ResponseComplete'))
           FROM generate_series($1::int, $2::int) AS g`,
          [first, Math.min(rows, first + batch) - 1],
        );
      }
      return { rowsPerSecond: rows / ((performance.now() - started) / 1000) };
    } finally {
      await client.end();
    }
  } finally {
    await db.drop();
  }
}

export async function measureExecHeavy(ctx: BenchContext): Promise<RowOutcome[]> {
  const size = ctx.scale.execHeavyBytes;
  ctx.log(`exec-heavy: generating ${Math.round(size / MiB)} MB log where every line is a session stage`);
  const file = ensureAuditLog(`exec-heavy-${Math.round(size / MiB)}m.log`, { bytes: size, interactiveRatio: 1, maxSessionLines: 2000, seed: 7 });
  ctx.log(`exec-heavy: ${file.lines} lines, ${file.sessions} sessions; audit-processor -once into Postgres (at most ${ctx.scale.maxRowSeconds} s)`);
  const db = await createBenchDatabase('exec_heavy');
  let measured: { seconds: number; stored: number; finished: boolean; result: ProcessResult };
  try {
    const running = startProcessor(['-once', '-audit-log-file', file.path, '-database-url', db.url, '-log-level', 'warn']);
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
        if (stored >= file.sessions || exited || seconds > ctx.scale.maxRowSeconds) break;
      }
    } finally {
      await client.end();
    }
    const exitedByItself = exited;
    const result = exitedByItself ? await running.done : await running.stop(3000);
    if (exitedByItself && result.code !== 0) throw new Error(`audit-processor -once (exec-heavy) exited with ${result.code}: ${result.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    measured = { seconds: exitedByItself && stored < file.sessions ? result.wallMs / 1000 : seconds, stored, finished: stored >= file.sessions, result };
    ctx.peakRss.push({ mode: 'postgres', row: 'exec-heavy', bytes: result.peakRssBytes });
  } finally {
    await db.drop();
  }
  const sessionsPerSecond = measured.stored / measured.seconds;
  ctx.log('exec-heavy: baseline: the same number of rows inserted straight into change_events');
  const floor = await databaseInsertRate(ctx, Math.max(1000, measured.finished ? file.sessions : measured.stored));
  const { result } = measured;
  return [
    {
      row: 'exec-heavy',
      figure: `${file.sessions} sessions (${file.lines} stage lines) -once into Postgres`,
      value: sessionsPerSecond,
      unit: 'sessions/s',
      baseline: { label: 'same rows INSERTed directly, 1000 per statement', value: floor.rowsPerSecond, unit: 'rows/s' },
      ratio: sessionsPerSecond / floor.rowsPerSecond,
      target: { text: '>= 30k sessions/s', met: sessionsPerSecond >= 30_000 },
      peakRssBytes: result.peakRssBytes,
      note:
        (measured.finished
          ? measured.stored === file.sessions
            ? `${measured.stored} sessions stored`
            : `stored ${measured.stored} of ${file.sessions} sessions`
          : `stopped after ${measured.seconds.toFixed(0)} s with ${measured.stored} of ${file.sessions} sessions committed`) +
        ` in ${measured.seconds.toFixed(1)} s (until the last one was committed)` +
        `; processor CPU ${Math.round((result.cpuSeconds / measured.seconds) * 100)} % of one core`,
    },
  ];
}
