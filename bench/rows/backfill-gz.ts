/**
 * Row `backfill-gz`: a directory of rotated .gz audit logs (the realistic log cut into parts, gzipped)
 * read with `-audit-log-dir DIR -once` into Postgres, in MB/s compressed and uncompressed, against the
 * same files through a gunzip stream with lines counted (Node's `zcat | wc -l`), in alternating pairs.
 */
import type { BenchContext } from '../lib/context.ts';
import { ensureGzDirectory } from '../lib/gz-parts.ts';
import { alternatingPairs, boundBy, medianRun, pairsNote, spread } from '../lib/pairs.ts';
import { countSessions, onceIntoFreshDatabase } from '../lib/processor-runs.ts';
import type { RowOutcome } from '../lib/report.ts';
import { realisticLog, runLineBaseline } from './backfill.ts';

const MiB = 1024 * 1024;

export async function measureBackfillGz(ctx: BenchContext): Promise<RowOutcome[]> {
  const log = realisticLog(ctx);
  ctx.log(`backfill-gz: cutting the ${Math.round(log.bytes / MiB)} MB log into ${ctx.scale.gzParts} gzipped parts (reused when already there)`);
  const gz = await ensureGzDirectory(log, ctx.scale.gzParts);
  ctx.log(`backfill-gz: ${gz.files.length} files, ${Math.round(gz.compressedBytes / MiB)} MB compressed; ${ctx.scale.pairs} alternating pair(s) of -audit-log-dir -once into Postgres and gunzip + count lines`);
  await runLineBaseline('gunzip-count-lines.ts', gz.files, gz.uncompressedBytes, gz.lines); // warms the page cache
  const runs = await alternatingPairs(
    ctx.scale.pairs,
    async () => {
      const run = await onceIntoFreshDatabase(ctx, 'backfill_gz', ['-audit-log-dir', gz.dir], countSessions);
      ctx.peakRss.push({ mode: 'postgres', row: 'backfill-gz', bytes: run.result.peakRssBytes });
      return run;
    },
    () => runLineBaseline('gunzip-count-lines.ts', gz.files, gz.uncompressedBytes, gz.lines),
    ctx.log,
  );
  const uncompressed = spread(runs.measured.map((r) => gz.uncompressedBytes / MiB / (r.result.wallMs / 1000)));
  const compressed = spread(runs.measured.map((r) => gz.compressedBytes / MiB / (r.result.wallMs / 1000)));
  const zcat = spread(runs.baseline.map((b) => b.mbPerSecond));
  const zcatCompressed = spread(runs.baseline.map((b) => gz.compressedBytes / MiB / (b.result.wallMs / 1000)));
  const typical = medianRun(runs.measured, (r) => r.result.wallMs);
  const peak = Math.max(...runs.measured.map((r) => r.result.peakRssBytes));
  const stored = typical.stored === log.sessions ? `${typical.stored} sessions stored` : `stored ${typical.stored} of ${log.sessions} sessions`;
  return [
    {
      row: 'backfill-gz',
      figure: `${gz.files.length} rotated .gz files (${Math.round(gz.uncompressedBytes / MiB)} MB uncompressed) -audit-log-dir -once into Postgres`,
      value: uncompressed.median,
      unit: 'MB/s',
      baseline: { label: 'gunzip stream + count lines, same files', value: zcat.median },
      ratio: uncompressed.median / zcat.median,
      peakRssBytes: peak,
      note: `${stored} in ${(typical.result.wallMs / 1000).toFixed(1)} s (start-up included); ${boundBy(typical.result.cpuSeconds, typical.result.wallMs / 1000, 'the database and reads')}; ${pairsNote(uncompressed, zcat, 'MB/s')}`,
    },
    {
      row: 'backfill-gz',
      figure: `same, compressed MB/s (${Math.round(gz.compressedBytes / MiB)} MB on disk)`,
      value: compressed.median,
      unit: 'MB/s',
      baseline: { label: 'gunzip stream + count lines, compressed', value: zcatCompressed.median },
      ratio: compressed.median / zcatCompressed.median,
      note: `compression ${(gz.uncompressedBytes / gz.compressedBytes).toFixed(1)}:1`,
    },
  ];
}
