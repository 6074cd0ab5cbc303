/**
 * Row `startup`: the processor's start on an EXISTING migrated database to its first read, timed as a
 * whole `-audit-log-file <empty file> -once` run (start, connect, migrations found applied, read nothing,
 * exit: an upper bound of "start to first read"), against `node` running an empty built script, in
 * alternating pairs. Also `rss-idle`: the same start on a FRESH database (migrations applied), its peak RSS.
 */
import type { BenchContext } from '../lib/context.ts';
import { alternatingPairs, boundBy, medianRun, pairsNote, spread } from '../lib/pairs.ts';
import { emptyLog, migratedDatabase } from '../lib/processor-runs.ts';
import { runToEnd, startNodeScript, startProcessor } from '../lib/process.ts';
import type { RowOutcome } from '../lib/report.ts';

const MiB = 1024 * 1024;

export async function measureStartup(ctx: BenchContext): Promise<RowOutcome[]> {
  ctx.log('startup: a fresh database, migrated by a first run');
  const { db, migration } = await migratedDatabase(ctx, 'startup');
  try {
    const empty = emptyLog(ctx);
    const pairs = ctx.scale.startupPairs;
    ctx.log(`startup: ${pairs} alternating pair(s) of audit-processor -once on an empty file (existing database) and node on an empty script`);
    const runs = await alternatingPairs(
      pairs,
      () => runToEnd(startProcessor(['-once', '-audit-log-file', empty, '-database-url', db.url, '-log-level', 'warn']), 'audit-processor on an empty file'),
      () => runToEnd(startNodeScript('bench/baselines/empty.ts', []), 'node on an empty script'),
      ctx.log,
    );
    const wall = spread(runs.measured.map((r) => r.wallMs / 1000));
    const node = spread(runs.baseline.map((r) => r.wallMs / 1000));
    const typical = medianRun(runs.measured, (r) => r.wallMs);
    return [
      {
        row: 'startup',
        figure: 'start to first read (whole -once run on an empty file), existing database',
        value: wall.median,
        unit: 's',
        baseline: { label: 'node on an empty built script', value: node.median },
        ratio: wall.median / node.median,
        target: { text: '<= 0.3 s', met: wall.median <= 0.3 },
        peakRssBytes: typical.peakRssBytes,
        note: `start, module loading, connect, migrations found applied, exit; ${boundBy(typical.cpuSeconds, typical.wallMs / 1000, 'the database')}; ${pairsNote(wall, node, 's')}`,
      },
      {
        row: 'rss-idle',
        figure: 'processor start-up, empty file, fresh Postgres database',
        value: migration.peakRssBytes / MiB,
        unit: 'MB',
        note: `wall ${migration.wallMs.toFixed(0)} ms: node start-up, module loading, migrations applied`,
      },
    ];
  } finally {
    await db.drop();
  }
}
