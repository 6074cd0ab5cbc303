/**
 * Row `backfill`: `-once` of a generated realistic audit log into Postgres, against (a) reading the file
 * and counting lines and (b) JSON.parse of every line with the processor's own classifier, in
 * alternating pairs (bench/lib/pairs.ts); and once into PGlite (one process, WASM Postgres on the
 * processor's thread: minutes on the full log, so not paired).
 */
import { ensureAuditLog, type AuditLogStats } from '../lib/datasets.ts';
import type { BenchContext } from '../lib/context.ts';
import { alternatingPairs, boundBy, medianRun, pairsNote, spread } from '../lib/pairs.ts';
import { countSessions, onceIntoFreshDatabase } from '../lib/processor-runs.ts';
import { runToEnd, startNodeScript, startProcessor, type ProcessResult } from '../lib/process.ts';
import type { Measurement, RowOutcome } from '../lib/report.ts';

const MiB = 1024 * 1024;

export interface BaselineRun {
  mbPerSecond: number;
  linesPerSecond: number;
  result: ProcessResult;
}

/** A baseline script of bench/baselines over `paths`; it must count `lines` lines. */
export async function runLineBaseline(script: string, paths: string[], bytes: number, lines: number): Promise<BaselineRun> {
  const result = await runToEnd(startNodeScript(`bench/baselines/${script}`, paths), script);
  const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as { lines: number };
  if (out.lines !== lines) throw new Error(`${script} counted ${out.lines} lines, the generator wrote ${lines}`);
  const seconds = result.wallMs / 1000;
  return { mbPerSecond: bytes / MiB / seconds, linesPerSecond: lines / seconds, result };
}

export function realisticLog(ctx: BenchContext): AuditLogStats {
  const size = ctx.scale.backfillBytes;
  ctx.log(`backfill: generating ${Math.round(size / MiB)} MB audit log with 0.5 % interactive lines (reused when already there)`);
  return ensureAuditLog(`audit-${Math.round(size / MiB)}m-0.005.log`, { bytes: size, interactiveRatio: 0.005 }, (done, total) =>
    ctx.log(`  generated ${Math.round(done / MiB)} / ${Math.round(total / MiB)} MB`),
  );
}

const storedText = (stored: number, sessions: number) => (stored === sessions ? `${stored} sessions stored` : `stored ${stored} of ${sessions} sessions`);

export async function measureBackfill(ctx: BenchContext): Promise<RowOutcome[]> {
  const file = realisticLog(ctx);
  ctx.log(`backfill: ${file.lines} lines, ${file.interactiveLines} interactive (${file.sessions} sessions); warming the page cache`);
  await runLineBaseline('count-lines.ts', [file.path], file.bytes, file.lines); // first read only warms the page cache
  ctx.log(`backfill: ${ctx.scale.pairs} alternating pair(s) of audit-processor -once into Postgres and the baselines (a) read + count lines, (b) JSON.parse every line`);
  const runs = await alternatingPairs(
    ctx.scale.pairs,
    async () => {
      const run = await onceIntoFreshDatabase(ctx, 'backfill', ['-audit-log-file', file.path], countSessions);
      ctx.peakRss.push({ mode: 'postgres', row: 'backfill', bytes: run.result.peakRssBytes });
      return run;
    },
    async () => ({
      raw: await runLineBaseline('count-lines.ts', [file.path], file.bytes, file.lines),
      naive: await runLineBaseline('parse-every-line.ts', [file.path], file.bytes, file.lines),
    }),
    ctx.log,
  );
  const mbps = spread(runs.measured.map((r) => file.bytes / MiB / (r.result.wallMs / 1000)));
  const lps = spread(runs.measured.map((r) => file.lines / (r.result.wallMs / 1000)));
  const raw = spread(runs.baseline.map((b) => b.raw.mbPerSecond));
  const rawLines = spread(runs.baseline.map((b) => b.raw.linesPerSecond));
  const naive = spread(runs.baseline.map((b) => b.naive.linesPerSecond));
  const naiveMb = spread(runs.baseline.map((b) => b.naive.mbPerSecond));
  const median = medianRun(runs.measured, (r) => r.result.wallMs);
  const peak = Math.max(...runs.measured.map((r) => r.result.peakRssBytes));
  const out: Measurement[] = [
    {
      row: 'backfill',
      figure: `${Math.round(file.bytes / MiB)} MB log -once into Postgres`,
      value: mbps.median,
      unit: 'MB/s',
      baseline: { label: '(a) read + count lines', value: raw.median },
      ratio: mbps.median / raw.median,
      target: { text: '>= 0.5x raw read', met: mbps.median >= 0.5 * raw.median },
      peakRssBytes: peak,
      note:
        `${storedText(median.stored, file.sessions)}; ${boundBy(median.result.cpuSeconds, median.result.wallMs / 1000)} over ${(median.result.wallMs / 1000).toFixed(1)} s (start-up included); ` +
        pairsNote(mbps, raw, 'MB/s'),
    },
    {
      row: 'backfill',
      figure: 'same, lines/s into Postgres',
      value: lps.median,
      unit: 'lines/s',
      baseline: { label: '(b) JSON.parse every line + classify', value: naive.median },
      ratio: lps.median / naive.median,
      target: { text: '>= 3x parse-every-line', met: lps.median >= 3 * naive.median },
      peakRssBytes: peak,
      note: `baselines (medians): (a) ${Math.round(rawLines.median).toLocaleString('en-US')} lines/s, (b) ${Math.round(naiveMb.median)} MB/s; ${pairsNote(lps, naive, 'lines/s')}`,
    },
  ];

  ctx.log('backfill: audit-processor -once into PGlite (one run)');
  const dataDir = ctx.scratch('pglite');
  const result = await runToEnd(startProcessor(['-once', '-audit-log-file', file.path, '-data-dir', dataDir, '-log-level', 'warn']), 'audit-processor -once (backfill, PGlite)');
  ctx.peakRss.push({ mode: 'pglite', row: 'backfill', bytes: result.peakRssBytes });
  const counted = await runToEnd(startNodeScript('bench/tools/count-sessions-pglite.ts', [dataDir]), 'counting sessions in PGlite');
  const pgliteMbps = file.bytes / MiB / (result.wallMs / 1000);
  out.push({
    row: 'backfill',
    figure: `${Math.round(file.bytes / MiB)} MB log -once into PGlite`,
    value: pgliteMbps,
    unit: 'MB/s',
    baseline: { label: '(a) read + count lines, median', value: raw.median },
    ratio: pgliteMbps / raw.median,
    target: { text: 'peak RSS <= 500 MB', met: result.peakRssBytes <= 500 * MiB },
    peakRssBytes: result.peakRssBytes,
    note: `${storedText(Number(counted.stdout.trim()), file.sessions)}; one run (not paired); ${boundBy(result.cpuSeconds, result.wallMs / 1000)} (PGlite's WASM Postgres runs on the processor's own thread: its work is counted there); a fresh -data-dir, made by PGlite's initdb in a child process that peaked at ${Math.round(result.childPeakRssBytes / MiB)} MB and exited before the processor opened it (wall time includes it)`,
  });
  return out;
}
